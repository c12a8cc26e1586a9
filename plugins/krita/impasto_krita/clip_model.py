"""A layer's animation stylized as one clip job (protocol 1.7), beside the still jobs of
model.py, which it leaves as they are.

    idle -> submitting -> running -> done | cancelled | failed
                 '-----------'-> cancelling -> cancelled

(model.JobState's states; the last moment of `running`, once every frame is back, is the
writing of the layer, which Cancel no longer stops.)

Start reads every frame of the active layer (its keyframes in the playback range: host.Animation)
and sends one `clip` request with the settings, styles and label a still of the whole image
would have (request.clip_request); the frames follow once the daemon accepted it. Each stylized
frame comes back as a `frame` event and is kept, scaled to the image (the daemon paints at the
settings' size); when the clip's result says every frame was sent, the new animated layer is
added above the source in one undo step (Document.add_animated_layer, which finishes on the
event loop). Nothing is added to the image before that, so Cancel, a failure or a closed image
leave it as it was; the source is only read.

The daemon must run clips: its welcome has `clip_defaults` (a cluster daemon's and an older
one's have not); `unavailable()` says why not, for the docker's option.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from impasto_protocol import Cancelled, ClipDone, FrameDone, Progress, RemoteError
from impasto_protocol.modes import preset_fields

from . import imaging
from .daemon_link import DaemonLink, LinkState
from .host import Animation, Document, HostError
from .jobs import Event, JobHandle
from .model import NO_IMAGE, NO_STYLE, JobState, announce_end
from .qt import QObject, Signal
from .request import JobRequest, clip_request, result_name

log = logging.getLogger(__name__)

NO_CLIPS = "this daemon does not stylize animations (it runs no clip jobs)"


@dataclass
class _Clip:
    document: Document
    animation: Animation
    frames: list[Any]  # the frames to send once accepted (then dropped)
    name: str  # the result layer's name
    handle: JobHandle | None = None
    job_id: str | None = None
    cancel_on_accept: bool = False
    writing: bool = False  # every frame is back; the layer is being added
    stylized: dict[int, bytes] = field(default_factory=dict)  # time -> whole-image BGRA u8


class ClipModel(QObject):
    state_changed = Signal(str)
    progress = Signal(int, int, float)  # frames back, frame count, seconds left (-1: unknown)
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
        """Stylize the active layer's animation; False (and a message) if it cannot start."""
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
        self.clip = _Clip(doc, animation, frames, name)
        self.clip.handle = self.link.start_job(clip.to_message(), self)
        self._set_state(JobState.SUBMITTING)
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
        """Whether Cancel applies: not once every frame is back and the layer is being added
        (a moment), nor twice."""
        clip = self.clip
        waiting = self.state in (JobState.SUBMITTING, JobState.RUNNING)
        return clip is not None and waiting and not clip.writing

    def cancel(self) -> None:
        """Cancel the clip job: nothing is added to the image."""
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
        if clip.job_id is not None and not clip.writing:
            self.link.cancel(clip.job_id)
        self._end(JobState.CANCELLED, "the document was closed: its animation is cancelled")

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
        """A stylized frame, scaled to the image, kept until every frame is back."""
        times, image = clip.animation.times, event.image
        if not 0 <= event.index < len(times) or image.layout != "BGRA" or image.dtype != "u8":
            self._end(JobState.FAILED, f"the daemon sent a wrong frame ({event.index})")
            return
        w, h = clip.animation.width, clip.animation.height
        clip.stylized[times[event.index]] = imaging.fitted(image, w, h, None)

    def _on_result(self, clip: _Clip, event: ClipDone) -> None:
        if self.state is JobState.CANCELLING:  # it finished first; the user wants none
            self._end(JobState.CANCELLED, "")
            return
        missing = len(clip.animation.times) - len(clip.stylized)
        if missing:
            self._end(JobState.FAILED, f"the daemon sent {missing} frames too few")
            return
        if not clip.document.is_open():
            self.check_document()
            return
        self.last_result = dict(event.info)
        clip.writing = True
        try:
            ends = (self._written, self._not_written)
            clip.document.add_animated_layer(clip.animation, clip.name, clip.stylized, ends)
        except HostError as e:
            self._not_written(str(e))

    def _writing(self) -> bool:
        return self.clip is not None and self.clip.writing and self.state is JobState.RUNNING

    def _written(self, layer: str) -> None:
        if self._writing():
            self.layers.append(layer)
            self._end(JobState.DONE, "")

    def _not_written(self, text: str) -> None:
        if self._writing():
            self._end(JobState.FAILED, f"the animated layer was not added: {text}")

    def _on_link_state(self) -> None:
        lost = self.link.state in (LinkState.UNREACHABLE, LinkState.ERROR)
        if lost and self.state.active and not self._writing():
            self._end(JobState.FAILED, f"lost the daemon: {self.link.describe()}")

    def _end(self, state: JobState, text: str) -> None:
        clip = self.clip
        if clip is not None and clip.handle is not None:
            self.link.jobs.forget(clip.handle)
        if clip is not None:
            clip.frames, clip.stylized = [], {}
        announce_end(self, state.value, text)

    def _set_state(self, state: JobState) -> None:
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state.value)
