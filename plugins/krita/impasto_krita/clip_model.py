"""A layer's animation stylized as one clip job (protocol 1.7), beside the still jobs of
model.py, which it leaves as they are.

    idle -> submitting -> running -> done | cancelled | failed
                 '-----------'-> cancelling -> cancelled

(model.JobState's states; `submitting` starts with the new layer being added, on the event
loop, and the clip request is sent once it is in; the last moment of `running`, once every
frame is back, is the writing of the frames not in yet, which Cancel no longer stops.)

Start reads every frame of the active layer (its keyframes in the playback range: host.Animation)
and adds the new animated layer above the source, "*style* (stylizing)", with a transparent
keyframe at each of those times, in one undo step (Document.add_animated_layer); once it is
in, one `clip` request goes with the settings, styles and label a still of the whole image
would have (request.clip_request), and the frames once the daemon accepted it. Each stylized
frame comes back as a `frame` event, scaled to the image (the daemon paints at the settings'
size), and goes into its keyframe as soon as the image shows that keyframe: at once when the
painter is at its time, or when they go there (a poll every SHOW_MS, which also retries a
frame that came while Krita was busy), since Krita writes a keyframe only at the current time
(animation.py). When the clip's result says every frame was
sent, the frames not written yet go in (Document.fill_frames, which leaves no undo step), and
the layer is renamed like other results plus "animation". The layer is locked meanwhile, the
source stays active and is only read. Cancel, a failure or a closed image take the layer away
as a still's preview layer goes (Document.remove_animated_layer: its "Add Layer" undone).

The daemon must run clips: its welcome has `clip_defaults` (a cluster daemon's and an older
one's have not); `unavailable()` says why not, for the docker's option.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from impasto_protocol import Cancelled, ClipDone, ClipRequest, FrameDone, Progress, RemoteError
from impasto_protocol.modes import preset_fields

from . import imaging
from .daemon_link import DaemonLink, LinkState
from .host import Animation, Document, HostError
from .jobs import Event, JobHandle
from .model import NO_IMAGE, NO_STYLE, JobState, announce_end
from .qt import QObject, QTimer, Signal
from .request import JobRequest, clip_request, result_name

log = logging.getLogger(__name__)

NO_CLIPS = "this daemon does not stylize animations (it runs no clip jobs)"
# How often the image's current time is looked at while the clip runs: a frame back whose
# keyframe the painter goes to is written then (Krita gives no signal for a time change).
SHOW_MS = 150


@dataclass
class _Clip:
    document: Document
    animation: Animation
    request: ClipRequest  # sent once the new layer is in
    frames: list[Any]  # the frames to send once accepted (then dropped)
    name: str  # the result layer's name, once done
    layer: str | None = None  # the new layer's id, once it is in the image
    handle: JobHandle | None = None
    job_id: str | None = None
    cancel_on_accept: bool = False
    finishing: bool = False  # every frame is back; the last ones are being written
    back: set[int] = field(default_factory=set)  # the times of the frames back
    unwritten: dict[int, bytes] = field(default_factory=dict)  # time -> whole-image BGRA u8


class ClipModel(QObject):
    state_changed = Signal(str)
    progress = Signal(int, int, float)  # frames back, frame count, seconds left (-1: unknown)
    frame_shown = Signal(int)  # a frame back went into the new layer while the clip runs
    finished = Signal(str)  # "done", "cancelled" or "failed"
    message = Signal(str)  # one line for the user

    def __init__(self, link: DaemonLink, documents: Any, parent: QObject | None = None) -> None:
        """`documents()` gives the active image (None: none is open), as for model.py."""
        super().__init__(parent)
        self.link = link
        self.documents = documents
        self.state = JobState.IDLE
        self.clip: _Clip | None = None
        self.last_result: dict[str, Any] = {}
        self.layers: list[str] = []  # the animated layers it added, in order
        self._showing = False  # show_current is at work
        self.timer = QTimer(self)
        self.timer.setInterval(SHOW_MS)
        self.timer.timeout.connect(self.show_current)
        link.state_changed.connect(self._on_link_state)

    def unavailable(self) -> str:
        """Why this daemon cannot stylize an animation ("" when it can)."""
        welcome = self.link.welcome
        if welcome is None:
            return "waiting for the daemon"
        return "" if "clip_defaults" in welcome else NO_CLIPS

    def frame_count(self) -> int:
        """The frames Start would stylize on the active layer (0: it is no animation)."""
        doc = self.documents()
        try:
            return len(doc.animation().times) if doc is not None else 0
        except HostError:
            return 0

    def start(self, request: JobRequest) -> bool:
        """Stylize the active layer's animation: its new layer is added first, and the clip
        request sent once it is in; False (and a message) if it cannot start."""
        refusal = self._refusal(request)
        if refusal:
            self.message.emit(refusal)
            return False
        doc = self.documents()
        try:
            if doc is None:
                raise HostError(NO_IMAGE)
            animation = doc.animation()
            frames = doc.read_frames(animation)
            clip = clip_request(
                request, animation.width, animation.height, len(frames), self.link.welcome
            )
        except HostError as e:
            self.message.emit(str(e))
            return False
        mode = request.mode
        name = result_name(request.style_name, mode, clip.settings, self.link.defaults)
        name = f"{name[:-1]}, animation)" if name.endswith(")") else f"{name} (animation)"
        job = self.clip = _Clip(doc, animation, clip, frames, name)
        self._set_state(JobState.SUBMITTING)
        ends = (lambda layer: self._layer_added(job, layer), lambda t: self._not_added(job, t))
        try:
            doc.add_animated_layer(animation, f"{request.style_name} (stylizing)", ends)
        except HostError as e:
            self.clip = None
            self._set_state(JobState.IDLE)
            self.message.emit(str(e))
            return False
        return True

    def _refusal(self, request: JobRequest) -> str:
        """Why a clip of `request` cannot start now ("" when it can)."""
        if self.state.active:
            return "a job is already running: cancel it first"
        if not self.link.usable():
            return f"cannot start: {self.link.describe()}"
        if self.unavailable():
            return self.unavailable()
        trained = request.settings.get("trained")
        if not (request.styles or preset_fields(request.presets) or trained):
            return NO_STYLE
        return ""

    def cancellable(self) -> bool:
        """Whether Cancel applies: not twice, nor once every frame is back and the last ones
        are being written (a moment)."""
        clip = self.clip
        waiting = self.state in (JobState.SUBMITTING, JobState.RUNNING)
        return clip is not None and waiting and not clip.finishing

    def cancel(self) -> None:
        """Cancel the clip job: its layer is taken away."""
        clip = self.clip
        if clip is None or not self.cancellable():
            return
        if clip.job_id is None:
            clip.cancel_on_accept = True
        else:
            self.link.cancel(clip.job_id)
        self._set_state(JobState.CANCELLING)

    def check_document(self) -> None:
        """Called when a document closes: a clip whose image is gone is cancelled."""
        clip = self.clip
        if clip is None or not self.state.active or clip.document.is_open():
            return
        if clip.job_id is not None:
            self.link.cancel(clip.job_id)
        self._end(JobState.CANCELLED, "the document was closed: its animation is cancelled")

    def show_current(self) -> None:
        """Write the frame back whose keyframe the image shows now, if it is not written yet
        (each SHOW_MS while the clip runs, and as each frame comes back)."""
        clip = self.clip
        if clip is None or self.state is not JobState.RUNNING or clip.layer is None:
            return
        if not clip.unwritten or clip.finishing:
            return
        if not clip.document.is_open():
            self.check_document()
            return
        if self._showing:  # (Krita's busy wait runs the event loop, and this timer, inside)
            return
        self._showing = True
        try:
            time = clip.document.show_frame(clip.layer, clip.unwritten)
        finally:
            self._showing = False
        if time is not None and clip.unwritten.pop(time, None) is not None:
            self.frame_shown.emit(time)

    # -- the new layer, on the event loop -------------------------------------------------

    def _layer_added(self, clip: _Clip, layer: str) -> None:
        """The new layer is in: send the clip request (or take the layer away again, when
        the clip ended meanwhile)."""
        if clip is not self.clip or not self.state.active:
            self._remove(clip, layer)
            return
        clip.layer = layer
        # A stroke meant for the source must not land on the keyframes that frames overwrite.
        clip.document.lock_layer(layer, True)
        if self.state is JobState.CANCELLING:  # cancelled before anything was sent
            self._end(JobState.CANCELLED, "")
            return
        if not self.link.usable():  # (the daemon went while the layer was added)
            self._end(JobState.FAILED, f"cannot start: {self.link.describe()}")
            return
        clip.handle = self.link.start_job(clip.request.to_message(), self)
        self.timer.start()

    def _not_added(self, clip: _Clip, text: str) -> None:
        if clip is self.clip and self.state.active:
            cancelled = self.state is JobState.CANCELLING
            state = JobState.CANCELLED if cancelled else JobState.FAILED
            self._end(state, "" if cancelled else f"the animated layer was not added: {text}")

    def _remove(self, clip: _Clip, layer: str) -> None:
        try:  # (unlocked: Redo may bring it back, as the painter's)
            clip.document.lock_layer(layer, False)
            clip.document.remove_animated_layer(clip.animation, layer)
        except Exception:  # the painter may have deleted it already
            log.exception("could not remove the animated layer")

    # -- the daemon's answers and the job's events (jobs.JobListener) ---------------------

    def _current(self, handle: JobHandle) -> _Clip | None:
        clip = self.clip
        if clip is None or not self.state.active or handle is not clip.handle:
            return None
        return clip

    def job_refused(self, handle: JobHandle, text: str) -> None:
        if self._current(handle) is not None:
            self._end(JobState.FAILED, f"the daemon refused the animation: {text}")

    def job_accepted(self, handle: JobHandle, position: int) -> None:
        clip = self._current(handle)
        if clip is None or handle.job is None:
            return
        clip.job_id = handle.job
        if clip.cancel_on_accept:
            self.link.cancel(handle.job)
            return
        frames, clip.frames = clip.frames, []
        self.link.send_frames(handle, frames)
        if self.state is JobState.SUBMITTING:
            self._set_state(JobState.RUNNING)

    def job_event(self, handle: JobHandle, event: Event) -> None:
        clip = self._current(handle)
        if clip is None:
            return
        if isinstance(event, RemoteError):
            self._end(JobState.FAILED, f"the animation failed: {event}")
        elif isinstance(event, Progress):
            eta = -1.0 if event.eta is None else event.eta
            self.progress.emit(event.iteration, event.total, eta)
        elif isinstance(event, FrameDone):
            self._keep(clip, event)
        elif isinstance(event, ClipDone):
            self._on_result(clip, event)
        elif isinstance(event, Cancelled):
            self._end(JobState.CANCELLED, "")

    def _keep(self, clip: _Clip, event: FrameDone) -> None:
        """A stylized frame, scaled to the image: into the layer now if the image shows its
        keyframe, else kept until it does or the clip ends."""
        times, image = clip.animation.times, event.image
        if not 0 <= event.index < len(times) or image.layout != "BGRA" or image.dtype != "u8":
            self._end(JobState.FAILED, f"the daemon sent a wrong frame ({event.index})")
            return
        w, h = clip.animation.width, clip.animation.height
        time = times[event.index]
        clip.back.add(time)
        clip.unwritten[time] = imaging.fitted(image, w, h, None)
        self.show_current()

    def _on_result(self, clip: _Clip, event: ClipDone) -> None:
        if self.state is JobState.CANCELLING:  # it finished first; the user wants none
            self._end(JobState.CANCELLED, "")
            return
        missing = len(clip.animation.times) - len(clip.back)
        if missing:
            self._end(JobState.FAILED, f"the daemon sent {missing} frames too few")
            return
        if not clip.document.is_open():
            self.check_document()
            return
        assert clip.layer is not None  # (the request went once the layer was in)
        self.last_result = dict(event.info)
        # Krita may run a nested event loop while it waits for the image (a busy wait shows
        # feedback): the look at the current time and Cancel must not step in meanwhile.
        clip.finishing = True
        self.timer.stop()
        frames, clip.unwritten = clip.unwritten, {}
        try:
            clip.document.fill_frames(clip.layer, frames)
        except HostError as e:
            self._end(JobState.FAILED, f"the frames were not written: {e}")
            return
        if self.clip is not clip or self.state is not JobState.RUNNING:
            return  # (it ended meanwhile: the image closed)
        clip.document.lock_layer(clip.layer, False)  # the result is the painter's to edit
        clip.document.rename_layer(clip.layer, clip.name)
        self.layers.append(clip.layer)
        self._end(JobState.DONE, "", remove=False)

    def _on_link_state(self) -> None:
        lost = self.link.state in (LinkState.UNREACHABLE, LinkState.ERROR)
        finishing = self.clip is not None and self.clip.finishing  # (every frame is here)
        if lost and self.state.active and not finishing:
            self._end(JobState.FAILED, f"lost the daemon: {self.link.describe()}")

    def _end(self, state: JobState, text: str, remove: bool = True) -> None:
        """The clip's end: its layer taken away unless it is the result (a layer still being
        added goes once it is in: _layer_added)."""
        self.timer.stop()
        clip = self.clip
        if clip is not None and clip.handle is not None:
            self.link.jobs.forget(clip.handle)
        if clip is not None and clip.layer is not None and remove:
            self._remove(clip, clip.layer)
        if clip is not None:
            clip.frames, clip.unwritten = [], {}
        announce_end(self, state.value, text)

    def _set_state(self, state: JobState) -> None:
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state.value)
