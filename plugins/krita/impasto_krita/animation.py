"""A layer's animation in and out of Krita 5.1, for clip jobs: which frames to send, their
pixels, and a new animated layer that receives the stylized frames. Not yet used by the docker.

What Krita 5.1's Python API allows (checked in Debian's 5.1.5):
- Reading: `Node.hasKeyframeAtTime(t)` and `Node.animated()` say where a layer's keyframes are;
  `Node.pixelDataAtTime(x, y, w, h, t)` reads a frame without moving the current time, but
  only at a keyframe's own time: at a time the previous keyframe holds it returns nothing, so
  a held time is read at the keyframe that holds it.
- Keyframes: the API has no call that makes one. The action "add_blank_frame" acts on the
  active layer at the current time; `setPixelData` then fills that keyframe. A raster layer
  made animated always has a keyframe at time 0: when the frames start later, it stays there,
  transparent (the action "remove_frames" on it is an undo step that leaves an empty keyframe
  at 0 again), so the layer adds nothing before the first stylized frame.
- A layer added with `addChildNode` can be made active (`setActiveNode`) only once Krita's
  event loop has run (about 0.2 s): not from inside one call, not even with a nested event
  loop. So the keyframes are written from the event loop (AnimatedLayerWriter).
- Undo: `Document.setCurrentTime` is an undo step ("Switch current time") each time, and each
  "add_blank_frame" one more ("Add Keyframe"). Writing N keyframes is therefore 2 N + 2 steps:
  "Add Layer", then "Switch current time" + "Add Keyframe" per keyframe (no switch when the
  time is already there), and a last "Switch current time" back to the user's time. It cannot
  be one step: undoing the whole write takes that many edit_undo.
- `Document.setPlayBackRange(start, end)` sets start..end - 1; playBackStartTime/EndTime are
  the full clip range until a playback range is set.

What is stylized: each keyframe in the playback range once (not every time): cheaper, and the
new layer keeps the source's holds, since it gets a keyframe at exactly those times. When the
range starts inside a hold, its first time is a frame too (the held picture).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from krita import Krita

from .document import is_open, layer_format, node_id
from .host import HostError
from .qt import QTimer

ACTIVATION_POLL_MS = 25
ACTIVATION_TIMEOUT_MS = 5000  # Krita makes a new layer active after about 0.2 s
BYTES_PER_PIXEL = 4  # BGRA, 8 bits a sample
# The writers at work: PyQt holds a timer's bound method weakly, so they are kept alive here.
_WRITING: set[AnimatedLayerWriter] = set()


class AnimationError(HostError):
    """The layer or image cannot give or take an animation; the message is one line."""


def playback_range(document: Any) -> tuple[int, int]:
    """The first and last time (inclusive) that playback shows: the frames a clip covers."""
    return int(document.playBackStartTime()), int(document.playBackEndTime())


def holding_keyframe(node: Any, time: int) -> int | None:
    """The time of the keyframe that `node` shows at `time` (itself, or the last one before
    it); None before the first keyframe."""
    for t in range(time, -1, -1):
        if node.hasKeyframeAtTime(t):
            return t
    return None


def animation_frames(document: Any, node: Any) -> list[int]:
    """The times in the playback range at which `node` shows a new picture: its keyframes
    there, and the range's first time when an earlier keyframe is held into it."""
    if node is None:
        raise AnimationError("select the animated layer to stylize")
    if document.animationLength() < 1:
        raise AnimationError("the image has no animation (its clip range is empty)")
    if not node.animated():
        raise AnimationError(
            f"the layer {node.name()!r} is not animated: it has no keyframes on the timeline"
        )
    start, end = playback_range(document)
    times = [t for t in range(start, end + 1) if node.hasKeyframeAtTime(t)]
    if start not in times and holding_keyframe(node, start) is not None:
        times.insert(0, start)
    if not times:
        raise AnimationError(
            f"the layer {node.name()!r} has no frames in the playback range {start}..{end}"
        )
    return times


def check_frame_format(node: Any) -> None:
    """Frames travel as 8-bit BGRA, the layer's own samples: other formats are refused."""
    fmt = layer_format(node)
    if not (fmt.native and fmt.layout == "BGRA" and fmt.dtype == "u8"):
        raise AnimationError(
            f"the layer {node.name()!r} is {fmt.model} {fmt.depth}: animations need an 8-bit "
            "RGB layer (Image > Convert Image Color Space)"
        )


def frame_size(document: Any) -> int:
    """The bytes in one whole-image BGRA u8 frame."""
    return int(document.width()) * int(document.height()) * BYTES_PER_PIXEL


def read_frames(document: Any, node: Any, times: list[int]) -> list[bytes]:
    """The picture `node` shows at each time, whole-image BGRA u8 (as pixelData reads a still
    layer), read without moving the current time or changing the image. A time before the
    layer's first keyframe reads as transparent."""
    check_frame_format(node)
    w, h = int(document.width()), int(document.height())
    frames = []
    for time in times:
        key = holding_keyframe(node, time)
        data = b"" if key is None else bytes(node.pixelDataAtTime(0, 0, w, h, key))
        if key is None:
            data = bytes(frame_size(document))
        if len(data) != frame_size(document):
            raise AnimationError(f"Krita gave no pixels for frame {time} of {node.name()!r}")
        frames.append(data)
    return frames


def write_animated_layer(
    document: Any,
    above: Any,
    name: str,
    frames: dict[int, bytes],
    done: Callable[[Any], None] | None = None,
    failed: Callable[[str], None] | None = None,
) -> Any:
    """A new paint layer right above `above` that gets a keyframe at each time of `frames`
    holding those pixels (whole-image BGRA u8). The layer is returned at once, still empty:
    its keyframes are written on Krita's event loop once Krita lets it be the active layer,
    then `done(layer)` is called (or `failed(message)`, with the layer taken away). The
    current time and the active layer are restored. Times must be >= 0; without one at 0 the
    layer still has a transparent keyframe there. See the module's note on undo steps."""
    if Krita.instance().activeDocument() != document:
        raise AnimationError("the image must be the active one to add an animated layer")
    if not frames or min(frames) < 0:
        raise AnimationError("no frames to write, or a frame before time 0")
    if (document.colorModel(), document.colorDepth()) != ("RGBA", "U8"):
        raise AnimationError(
            "animations need an 8-bit RGB image (Image > Convert Image Color Space)"
        )
    size = frame_size(document)
    wrong = sorted(t for t, data in frames.items() if len(data) != size)
    if wrong:
        raise AnimationError(f"frames {wrong} are not {size} bytes of whole-image BGRA")
    layer = document.createNode(name, "paintlayer")
    parent = above.parentNode() or document.rootNode()
    parent.addChildNode(layer, above)
    writer = AnimatedLayerWriter(document, layer, frames, done, failed)
    writer.start()
    return layer


class AnimatedLayerWriter:
    """Writes the keyframes of a new layer once Krita has made it activatable (the actions
    that add keyframes act on the active layer), then puts back the user's time and layer."""

    def __init__(
        self,
        document: Any,
        layer: Any,
        frames: dict[int, bytes],
        done: Callable[[Any], None] | None,
        failed: Callable[[str], None] | None,
    ) -> None:
        self.document, self.layer, self.frames = document, layer, dict(frames)
        self.done, self.failed = done, failed
        self.time = int(document.currentTime())
        self.active = document.activeNode()
        self.waited_ms = 0

    def start(self) -> None:
        _WRITING.add(self)
        QTimer.singleShot(ACTIVATION_POLL_MS, self.poll)

    def poll(self) -> None:
        """Ask for the new layer to be active until Krita agrees, then write."""
        if not is_open(self.document):  # closed meanwhile: nothing to write into
            _WRITING.discard(self)
            if self.failed is not None:
                self.failed("the image was closed before its animation was written")
            return
        self.document.setActiveNode(self.layer)
        active = self.document.activeNode()
        if active is not None and node_id(active) == node_id(self.layer):
            self.run(self.write)
        elif self.waited_ms >= ACTIVATION_TIMEOUT_MS:
            self.run(self.give_up)
        else:
            self.waited_ms += ACTIVATION_POLL_MS
            QTimer.singleShot(ACTIVATION_POLL_MS, self.poll)

    def run(self, step: Callable[[], None]) -> None:
        """Run a step; an error in it takes the layer away and reports it."""
        try:
            step()
        except AnimationError as e:
            _WRITING.discard(self)
            self.layer.remove()
            self.restore()
            if self.failed is not None:
                self.failed(str(e))

    def give_up(self) -> None:
        raise AnimationError("Krita did not let the new layer be edited: try again")

    def write(self) -> None:
        """A keyframe per frame, at that time, on the (now active) new layer."""
        doc, krita = self.document, Krita.instance()
        w, h = int(doc.width()), int(doc.height())
        for time in sorted(self.frames):
            self.go_to(time)
            krita.action("add_blank_frame").trigger()
            doc.waitForDone()
            if not self.layer.hasKeyframeAtTime(time):
                raise AnimationError(f"Krita added no keyframe at frame {time}")
            self.layer.setPixelData(self.frames[time], 0, 0, w, h)
            doc.waitForDone()
        self.complete()

    def complete(self) -> None:
        _WRITING.discard(self)
        self.restore()
        if self.done is not None:
            self.done(self.layer)

    def go_to(self, time: int) -> None:
        if self.document.currentTime() != time:
            self.document.setCurrentTime(time)
            self.document.waitForDone()

    def restore(self) -> None:
        """The user's current time and active layer, as they were before the layer came."""
        self.go_to(self.time)
        if self.active is not None:
            self.document.setActiveNode(self.active)
        self.document.refreshProjection()
