"""A layer's animation in and out of Krita 5.1, for clip jobs: which frames to send, their
pixels, and a new animated layer that receives the stylized frames as they come.

What Krita 5.1's Python API allows (checked in Debian's 5.1.5):
- Reading: `Node.hasKeyframeAtTime(t)` and `Node.animated()` say where a layer's keyframes are;
  `Node.pixelDataAtTime(x, y, w, h, t)` reads a frame without moving the current time, but
  only at a keyframe's own time: at a time the previous keyframe holds it returns nothing, so
  a held time is read at the keyframe that holds it.
- Keyframes: the API has no call that makes one. The action "add_blank_frame" acts on the
  active layer of the active view at the current time; `setPixelData` then fills that
  keyframe. A raster layer made animated always has a keyframe at time 0: when the frames
  start later, it stays there, transparent (the action "remove_frames" on it is an undo step
  that leaves an empty keyframe at 0 again), so the layer adds nothing before the first frame.
- A layer added with `addChildNode` can be made active (`setActiveNode`) only once Krita's
  event loop has run (about 0.2 s): not from inside one call, not even with a nested event
  loop. So the keyframes are written from the event loop (AnimatedLayerWriter).
- Undo: in the image being edited, `Document.setCurrentTime` is an undo step ("Switch current
  time") each time and "add_blank_frame" one more ("Add Keyframe"): N keyframes made there
  would be 2 N + 2 steps, past Krita's undo limit for a long clip. So the layer is built in a
  temporary image (shown in its own view for about half a second, then closed unsaved), and
  `Node.duplicate()` of it, keyframes and all, is added to the user's image: one undo step,
  "Add Layer", and the user's current time never moves.
- "add_blank_frame" runs as a stroke on Krita's worker threads: the layer's new keyframe
  channel reaches the Animation Curves docker through a queued signal, after the call returns.
  Delivered once that docker shows another image, it finds the layer in none of its rows and
  Krita aborts (ASSERT "row >= 0" in KisAnimCurvesChannelsModel.cpp). So the event loop gets
  a turn between the keyframes and leaving the temporary image. The Layers docker, too, keeps
  news of the temporary image's layers for a moment (a timer): closed before that, Krita reads
  a deleted layer and crashes. So the user's view is shown again first, and the temporary image
  is closed, unseen, half a second later.
- `Document.setPlayBackRange(start, end)` sets start..end - 1; playBackStartTime/EndTime are
  the full clip range until a playback range is set; a moment after keyframes are added it
  may fall back to the clip range (seen when the current time was outside it).
- Writing a keyframe: `Node.setPixelData` writes into the keyframe that holds the image's
  current time (a paint device writes at its image's time; no call writes at another), and
  adds no undo step. So a frame that comes back while the job runs goes into the new layer at
  once when the image shows its keyframe, or as soon as the painter goes to a time that shows
  it (show_frame); the frames still unwritten when the job ends are written by moving the time
  to each and back (fill_keyframes). Krita's undo stack merges consecutive "Switch current
  time" steps into one (KisSwitchCurrentTimeCommand::mergeWith; not onto the step the image
  was saved at), from the first time to the last: here from the time to itself, a step that
  is undone at once when it is new. The step is pushed by the time switch's stroke, on a
  worker thread, so Edit > Undo's text and the Undo History's current row learn of it only on
  the event loop; the history's model reads the stack's count at once (undo_history_view).

What is stylized: each keyframe in the playback range once (not every time): cheaper, and the
new layer keeps the source's holds, since it gets a keyframe at exactly those times. When the
range starts inside a hold, its first time is a frame too (the held picture).

AnimatedDocument is KritaDocument with the animation part of host.Document, on these
functions (here rather than in document.py, which this module builds on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from impasto_protocol import Pixels
from krita import Krita

from .document import (
    KritaDocument,
    discard_layer,
    is_open,
    keep_source_active,
    layer_format,
    node_id,
)
from .host import Animation, Ends, Frames, HostError
from .qt import QApplication, QTimer

ACTIVATION_POLL_MS = 25
ACTIVATION_TIMEOUT_MS = 5000  # Krita makes a new layer active after about 0.2 s
SETTLE_MS = 25  # the event loop's turn after the keyframes, before leaving the temporary image
CLOSE_DELAY_MS = 500  # from showing the user's view again to closing the temporary image
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
    frames: Mapping[int, bytes | None],
    done: Callable[[Any], None] | None = None,
    failed: Callable[[str], None] | None = None,
) -> AnimatedLayerWriter:
    """Start writing a new paint layer, right above `above`, with a keyframe at each time of
    `frames` holding those pixels (whole-image BGRA u8; None: a transparent keyframe, to be
    filled later with show_frame and fill_keyframes). It is built on Krita's event loop:
    `done(layer)` gets the layer once it is in the image (one undo step), `failed(message)`
    the reason when it cannot be. Times must be >= 0; without one at 0 the layer still has a
    transparent keyframe there. The active layer is put back a moment after (Krita activates
    a new layer itself); the current time is never changed."""
    if Krita.instance().activeWindow() is None:
        raise AnimationError("Krita has no window to build the animated layer in")
    if not frames or min(frames) < 0:
        raise AnimationError("no frames to write, or a frame before time 0")
    if (document.colorModel(), document.colorDepth()) != ("RGBA", "U8"):
        raise AnimationError(
            "animations need an 8-bit RGB image (Image > Convert Image Color Space)"
        )
    size = frame_size(document)
    wrong = sorted(t for t, data in frames.items() if data is not None and len(data) != size)
    if wrong:
        raise AnimationError(f"frames {wrong} are not {size} bytes of whole-image BGRA")
    writer = AnimatedLayerWriter(document, above, name, frames, (done, failed))
    writer.start()
    return writer


class AnimatedLayerWriter:
    """Builds the animated layer in a temporary image (the keyframe action works on the
    active view's active layer), then adds a copy of it to the user's image and closes the
    temporary one. `layer` is the copy, once done."""

    def __init__(
        self,
        document: Any,
        above: Any,
        name: str,
        frames: Mapping[int, bytes | None],
        callbacks: tuple[Callable[[Any], None] | None, Callable[[str], None] | None],
    ) -> None:
        self.document, self.above, self.name = document, above, name
        self.frames = dict(frames)
        self.done, self.failed = callbacks
        self.active = document.activeNode()
        self.window = Krita.instance().activeWindow()
        self.home_view = self.window.activeView()
        self.scratch: Any = None
        self.draft: Any = None
        self.layer: Any = None
        self.error: str | None = None
        self.waited_ms = 0

    def start(self) -> None:
        """The temporary image, in a view of its own, with the layer to fill."""
        doc = self.document
        self.scratch = Krita.instance().createDocument(
            doc.width(), doc.height(), "impasto-animation", "RGBA", "U8", doc.colorProfile(),
            doc.resolution(),
        )  # fmt: skip
        self.scratch.setFullClipRangeEndTime(max(max(self.frames), doc.fullClipRangeEndTime()))
        self.window.addView(self.scratch)
        self.draft = self.scratch.createNode(self.name, "paintlayer")
        self.scratch.rootNode().addChildNode(self.draft, None)
        _WRITING.add(self)
        QTimer.singleShot(ACTIVATION_POLL_MS, self.poll)

    def poll(self) -> None:
        """Ask for the draft layer to be active until Krita agrees, then write."""
        if not is_open(self.document):
            self.run(self.closed)
            return
        self.scratch.setActiveNode(self.draft)
        active = self.scratch.activeNode()
        if active is not None and node_id(active) == node_id(self.draft):
            self.run(self.write, then=self.settled)
        elif self.waited_ms >= ACTIVATION_TIMEOUT_MS:
            self.run(self.give_up)
        else:
            self.waited_ms += ACTIVATION_POLL_MS
            QTimer.singleShot(ACTIVATION_POLL_MS, self.poll)

    def run(self, step: Callable[[], None], then: Callable[[], None] | None = None) -> None:
        """Run a step; an error in it ends the writing (after a turn of the loop: a keyframe
        made before the error has its news queued too). `then`: the next step, once the event
        loop has had a turn; without one, the writing is done."""
        try:
            step()
        except AnimationError as e:
            self.error = str(e)
            QTimer.singleShot(SETTLE_MS, self.leave)
            return
        if then is not None:
            QTimer.singleShot(SETTLE_MS, then)
        else:
            self.leave()

    def leave(self) -> None:
        """Show the user's view again; the temporary image is closed, and the outcome
        reported, once the dockers have let go of it."""
        if self.home_view is not None and self.home_view in self.window.views():
            self.window.showView(self.home_view)
        QTimer.singleShot(CLOSE_DELAY_MS, self.close_scratch)

    def settled(self) -> None:
        """Krita's queued news of the draft's keyframes has reached the dockers, which still
        show the temporary image: the copy can go to the user's image."""
        self.run(self.add_copy)

    def closed(self) -> None:
        raise AnimationError("the image was closed before its animation was written")

    def give_up(self) -> None:
        raise AnimationError("Krita did not let the new layer be edited: try again")

    def write(self) -> None:
        """A keyframe per frame on the draft (then add_copy, after a turn of the loop)."""
        scratch, krita = self.scratch, Krita.instance()
        w, h = int(scratch.width()), int(scratch.height())
        for time in sorted(self.frames):
            scratch.setCurrentTime(time)
            scratch.waitForDone()
            krita.action("add_blank_frame").trigger()
            scratch.waitForDone()
            if not self.draft.hasKeyframeAtTime(time):
                raise AnimationError(f"Krita added no keyframe at frame {time}")
            data = self.frames[time]
            if data is not None:  # (a blank keyframe is transparent already)
                self.draft.setPixelData(data, 0, 0, w, h)
                scratch.waitForDone()

    def add_copy(self) -> None:
        """The draft's copy, keyframes and all, into the user's image (one undo step)."""
        if not is_open(self.document):
            self.closed()
        layer = self.draft.duplicate()
        parent = self.above.parentNode() or self.document.rootNode()
        parent.addChildNode(layer, self.above)
        self.document.waitForDone()
        self.document.refreshProjection()
        self.layer = layer
        if self.active is not None:
            keep_source_active(self.document, self.active, layer)

    def close_scratch(self) -> None:
        """Close the temporary image unsaved; then done(layer) or failed(message)."""
        _WRITING.discard(self)
        if self.scratch is not None and is_open(self.scratch):
            self.scratch.setModified(False)
            self.scratch.close()
        if self.error is not None:
            if self.failed is not None:
                self.failed(self.error)
        elif self.done is not None:
            self.done(self.layer)


def show_frame(document: Any, layer: Any, frames: Mapping[int, bytes]) -> int | None:
    """Write into `layer` the frame of `frames` that the image shows now (the keyframe that
    holds its current time), the one write setPixelData can make: no time switch, no undo
    step. The keyframe's time, or None when the image shows none of them, or is busy.

    A stroke on Krita's worker threads may move the image's time meanwhile (caching a frame
    for playback sets it to that frame's), and the write would land in that frame's keyframe:
    the write is made only with the image locked (tryBarrierLock: no stroke runs, none
    starts). While one runs, the painter's own included, nothing waits and nothing is cut:
    the frame is written at a later look."""
    key = holding_keyframe(layer, int(document.currentTime()))
    if key is None or key not in frames or not document.tryBarrierLock():
        return None
    try:
        key = holding_keyframe(layer, int(document.currentTime()))  # (now it stays)
        if key is None or key not in frames:
            return None
        layer.setPixelData(frames[key], 0, 0, int(document.width()), int(document.height()))
    finally:
        document.unlock()
    document.refreshProjection()
    return key


def undo_history_view() -> Any:
    """The Undo History docker's list (Krita's KisUndoView), or None without that docker. Its
    model reads the active image's undo stack as it is at once (rowCount: the steps + 1, row 0
    the empty state); its current row, the current step, follows the stack's signals, which
    arrive on the event loop when a stroke pushed the step."""
    app = QApplication.instance()
    for widget in app.allWidgets() if app is not None else []:
        if widget.metaObject().className() == "KisUndoView":
            return widget
    return None


def fill_keyframes(document: Any, layer: Any, frames: Mapping[int, bytes]) -> None:
    """Write each frame into `layer`'s keyframe at its time, in the image being edited:
    setPixelData writes at the current time only, so the time moves to each frame's and back.
    Krita records the moves as one "Switch current time" step (consecutive ones merge), from
    the time to itself: when that step is new (the undo stack has one step more than before),
    it is undone at once, so the history ends as it was. Merged into the painter's own last
    time switch instead, it changes nothing there and stays. (In an image that is not the
    active one, which Edit > Undo cannot reach, or without the Undo History docker, which tells
    the steps, the empty step stays.)"""
    if not frames:
        return
    if not is_open(document):
        raise AnimationError("the image was closed before its animation was written")
    krita = Krita.instance()
    document.waitForDone()  # (caching a frame for playback moves the time meanwhile)
    view = undo_history_view() if krita.activeDocument() == document else None
    step = view.currentIndex().row() if view is not None else -1
    start, moved = int(document.currentTime()), False
    w, h = int(document.width()), int(document.height())
    try:
        for time, data in sorted(frames.items()):
            if int(document.currentTime()) != time:
                document.setCurrentTime(time)
                document.waitForDone()
                moved = moved or int(document.currentTime()) != start
            if holding_keyframe(layer, int(document.currentTime())) != time:
                raise AnimationError(f"the new layer shows no keyframe of frame {time}")
            layer.setPixelData(data, 0, 0, w, h)
            document.waitForDone()
    finally:
        if moved:
            document.setCurrentTime(start)
            document.waitForDone()
            if step >= 0 and view.model().rowCount() - 1 == step + 1:  # a new step: ours
                krita.action("edit_undo").trigger()  # a switch to the same time: no change
                document.waitForDone()
        document.refreshProjection()


class AnimatedDocument(KritaDocument):
    """One open Krita image as the whole host.Document: the still jobs' part, and its
    active layer's animation for a clip job (clip_model.py)."""

    def animation(self) -> Animation:
        node = self.doc.activeNode()
        times = animation_frames(self.doc, node)
        if len(times) < 2:
            raise AnimationError(f"the layer {node.name()!r} has one frame in the playback range")
        check_frame_format(node)
        self._nodes[node_id(node)] = node
        w, h = int(self.doc.width()), int(self.doc.height())
        return Animation(node_id(node), node.name(), w, h, tuple(times))

    def read_frames(self, animation: Animation) -> list[Pixels]:
        node, w, h = self._nodes[animation.source], animation.width, animation.height
        data = read_frames(self.doc, node, list(animation.times))
        return [Pixels(w, h, frame, "BGRA", "u8") for frame in data]

    def add_animated_layer(self, clip: Animation, name: str, ends: Ends) -> None:
        done, failed = ends

        def added(layer: Any) -> None:
            self._nodes[node_id(layer)] = layer
            done(node_id(layer))

        blank: dict[int, bytes | None] = dict.fromkeys(clip.times)
        write_animated_layer(self.doc, self._nodes[clip.source], name, blank, added, failed)

    def show_frame(self, layer: str, frames: Frames) -> int | None:
        return show_frame(self.doc, self._nodes[layer], frames)

    def fill_frames(self, layer: str, frames: Frames) -> None:
        fill_keyframes(self.doc, self._nodes[layer], frames)

    def remove_animated_layer(self, clip: Animation, layer: str) -> None:
        discard_layer(self.doc, self._nodes[clip.source], self._nodes[layer])
