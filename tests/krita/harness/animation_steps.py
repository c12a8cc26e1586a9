"""Steps run inside Krita by the impasto_script harness for tests/krita/test_krita_animation.py:
they make a small animated image, use impasto_krita.animation on it as the docker will, and
return what they saw (pixels go to files in `out`). The plug-in package is the one that
`impasto install krita` installed, imported without its __init__ (which would register the
docker: not wanted here)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

from PyQt5.QtWidgets import QApplication

from krita import Krita

W, H = 64, 48
KEYS = (0, 2, 5, 8)  # 8 is past the playback range 0..6


def plugin_package() -> types.ModuleType:
    """impasto_krita.animation from the installed plug-in, with its vendored packages."""
    pkg_dir = Path(os.environ["IMPASTO_PLUGIN_DIR"])
    vendor = pkg_dir / "vendor"
    for folder in (vendor / "common", vendor / f"py{sys.version_info[0]}{sys.version_info[1]}"):
        sys.path.insert(0, str(folder))
    pkg = types.ModuleType("impasto_krita")
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["impasto_krita"] = pkg
    from impasto_krita import animation

    return animation


def pattern(time: int) -> bytes:
    """A frame of its own for each keyframe: stripes that move with the time, opaque."""
    out = bytearray()
    for y in range(H):
        for x in range(W):
            out += bytes(((x * 4 + time * 40) % 256, (y * 5 + time * 17) % 256, time * 30, 255))
    return bytes(out)


def inverted(frame: bytes) -> bytes:
    """The colours inverted, alpha kept: what a stylized frame might be."""
    out = bytearray(frame)
    for i in range(len(out)):
        if i % 4 != 3:
            out[i] = 255 - out[i]
    return bytes(out)


def undo_history() -> list[str]:
    """The undo steps up to the current one, as the Undo History docker lists them."""
    for w in QApplication.instance().allWidgets():
        if w.metaObject().className() == "KisUndoView":
            model, current = w.model(), w.currentIndex().row()
            return [str(model.index(i, 0).data()) for i in range(1, current + 1)]
    raise RuntimeError("no Undo History docker")


def keys(node) -> list[int]:
    return [t for t in range(0, 12) if node.hasKeyframeAtTime(t)]


def names(doc) -> list[str]:
    return [n.name() for n in doc.rootNode().childNodes()]


def error_of(fn, *args) -> str:
    try:
        fn(*args)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return ""


def make_image(out: Path, times: tuple[int, ...] = KEYS):
    """64x48 RGBA 8-bit, clip 0..10, playback 0..6; a layer `source` with a keyframe at each
    of `times` holding pattern(time) (written to out/written_T.bin)."""
    k = Krita.instance()
    doc = k.createDocument(W, H, "animation", "RGBA", "U8", "", 72.0)
    k.activeWindow().addView(doc)
    yield 300
    source = doc.createNode("source", "paintlayer")
    doc.rootNode().addChildNode(source, None)
    yield 400  # Krita makes it the active layer
    doc.setFullClipRangeStartTime(0)
    doc.setFullClipRangeEndTime(10)
    for time in times:
        doc.setCurrentTime(time)
        doc.waitForDone()
        k.action("add_blank_frame").trigger()
        doc.waitForDone()
        source.setPixelData(pattern(time), 0, 0, W, H)
        doc.waitForDone()
        (out / f"written_{time}.bin").write_bytes(pattern(time))
    doc.setCurrentTime(3)  # a time inside the hold of keyframe 2
    yield from playback_0_to_6(doc)
    return doc, source


def playback_0_to_6(doc):
    """Krita 5.1 sets start..end - 1, and a moment after keyframes are added it may put the
    playback range back to the clip range: set it until it stays for half a second."""
    for _ in range(10):
        doc.setPlayBackRange(0, 7)
        yield 500
        if (doc.playBackStartTime(), doc.playBackEndTime()) == (0, 6):
            return


def frames_found(animation, doc, source) -> dict:
    """animation_frames on the image, on a layer without animation, on a range that starts
    inside a hold."""
    seen = {"range": [doc.playBackStartTime(), doc.playBackEndTime()]}
    seen["times"] = animation.animation_frames(doc, source)
    seen["background_error"] = error_of(animation.animation_frames, doc, names_node(doc, 0))
    seen["none_error"] = error_of(animation.animation_frames, doc, None)
    doc.setPlayBackRange(1, 7)
    seen["times_from_1"] = animation.animation_frames(doc, source)
    doc.setPlayBackRange(0, 7)
    return seen


def names_node(doc, i: int):
    return doc.rootNode().childNodes()[i]


def write_and_wait(animation, doc, source, name: str, frames: dict, close: bool = False):
    """write_animated_layer, then the event loop until it says done (or failed), and a
    moment more (Krita activates a new layer, the writer puts the active one back). `close`:
    the user closes the image right after asking."""
    result: dict = {}
    animation.write_animated_layer(
        doc, source, name, frames, done=lambda n: result.update(done=n),
        failed=lambda m: result.update(failed=m),
    )  # fmt: skip
    if close:
        doc.setModified(False)
        doc.close()
    for _ in range(200):
        if result:
            break
        yield 50
    yield 600
    layer = result.pop("done", None)
    result["done"] = layer.name() if layer is not None else None
    result["views"] = len(Krita.instance().activeWindow().views())
    result["active_document"] = Krita.instance().activeDocument().name()
    return layer, result


def undo(doc, count: int):
    """Undo `count` steps as the user would (Edit > Undo); the layers and time after."""
    for _ in range(count):
        Krita.instance().action("edit_undo").trigger()
        doc.waitForDone()
        yield 20
    return {"names": names(doc), "time": doc.currentTime()}


def steps(out: Path):
    animation = plugin_package()
    doc, source = yield from make_image(out)
    ev: dict = {"found": frames_found(animation, doc, source)}
    times = ev["found"]["times"]
    history = undo_history()
    asked = [*times, 1, 3]  # and two held times
    frames = animation.read_frames(doc, source, asked)
    for time, frame in zip(asked, frames, strict=True):
        (out / f"read_{time}.bin").write_bytes(frame)
    ev["after_read"] = {"time": doc.currentTime(), "undo_same": undo_history() == history}
    ev["active_before"] = doc.activeNode().name()
    ev["names_before"] = names(doc)
    new = {t: inverted(f) for t, f in zip(times, frames[: len(times)], strict=True)}
    layer, ev["write"] = yield from write_and_wait(animation, doc, source, "stylized", new)
    ev["write_undo"] = undo_history()[len(history) :]
    ev.update(names_after=names(doc), time_after=doc.currentTime(), keys=keys(layer))
    ev["active_after"] = doc.activeNode().name()
    ev["source_keys"] = keys(source)
    for time in range(0, 9):
        (out / f"new_{time}.bin").write_bytes(bytes(layer.pixelDataAtTime(0, 0, W, H, time)))
        (out / f"source_{time}.bin").write_bytes(bytes(source.pixelDataAtTime(0, 0, W, H, time)))
    history = undo_history()
    later = {t: new[t] for t in (2, 5)}  # none at 0: Krita keeps its own there, transparent
    second, ev["write2"] = yield from write_and_wait(animation, doc, source, "later", later)
    ev["write2_undo"] = undo_history()[len(history) :]
    ev.update(keys2=keys(second), names_after2=names(doc), time_after2=doc.currentTime())
    ev["zero2"] = sorted(set(bytes(second.pixelDataAtTime(0, 0, W, H, 0))))
    ev["undone2"] = yield from undo(doc, len(ev["write2_undo"]))
    ev["source_keys_undone"] = keys(source)
    ev["size_error"] = error_of(animation.write_animated_layer, doc, source, "x", {1: b"12"})
    ev["closed"] = yield from write_closed(animation, new[0])
    return ev


def write_closed(animation, frame: bytes):
    """A second image, closed while its layer is being written: failed, nothing left open."""
    k = Krita.instance()
    doc = k.createDocument(W, H, "closed", "RGBA", "U8", "", 72.0)
    k.activeWindow().addView(doc)
    yield 300
    background = doc.rootNode().childNodes()[0]
    _, result = yield from write_and_wait(animation, doc, background, "lost", {0: frame}, True)
    result["documents"] = sorted(d.name() for d in k.documents())
    return result
