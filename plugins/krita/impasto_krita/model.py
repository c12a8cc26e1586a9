"""One style-transfer job at a time: its state machine, and what it does to the document.

    idle -> submitting -> running -> done | cancelled | failed
                 '-----------'-> cancelling -> cancelled

A job creates its result layer when it starts, above the source layer (and above the results of
earlier jobs on it, which would hide it), and writes every preview into it (scaled to the target
area, masked by the feathered selection), then the final result into the same layer, renamed
after the style and the main settings. The source stays the active layer, while the job runs
too (and the preview layer is locked until the result lands), so a brush stroke made meanwhile
lands on the source rather than on a layer the next preview overwrites, and the next Start
stylizes the source again rather than the result. A strength change while the job runs submits a
replacement (`replace`) that warm-starts from the running job (`init_job`) for the iterations
that job had left, so the canvas keeps improving instead of starting over. Cancelling, a failure
or a closed document take the layer away by undoing its creation: what is left is either a
finished result (one undo step) or the document and its undo history as they were.

The request's mode (impasto_protocol.modes) decides the submit's settings: Instant is one pass
of the fast method (no previews: the result comes in a fraction of a second), Refine starts the
optimization from the instant picture, which comes as the preview of iteration 0, and Paint is
the optimization from the content. The iteration-0 preview of a Paint job or of a replacement (the
daemon sends one to every optimization) is not shown: it is not what that job starts from, and
the canvas would jump to the instant picture and back.

The model knows neither widgets, nor sockets, nor Krita: it takes a JobRequest (request.py
builds one from what the docker's widgets say), works on the image through a Document (host.py;
Krita's is document.KritaDocument), speaks to the daemon through a DaemonLink, which hands it
each job's answer and events as typed objects (jobs.py), and reports with Qt signals, which
the docker and the tests observe (tests/krita/test_model_unit.py runs it without Krita).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from impasto_protocol import (
    Cancelled,
    EstimateRequest,
    Pixels,
    Preview,
    Progress,
    RemoteError,
    Result,
    policy,
)
from impasto_protocol.messages import Submit
from impasto_protocol.modes import Features, Mode, preset_fields
from impasto_protocol.submission import KRITA_CLIENT, JobRefused, build_submit, job_label

from . import imaging, sizes
from .daemon_link import DaemonLink, LinkState
from .host import Document, HostError, Target
from .jobs import Event, JobHandle
from .qt import QImage, QObject, Signal
from .request import (
    JobRequest,
    StyleChoice,
    job_request,
    job_settings,
    replacement_iterations,
    result_name,
    styles_counted,
)

log = logging.getLogger(__name__)

NO_STYLE = "choose a style image or layer, or a built-in or trained style"
NO_IMAGE = "open an image first"


class JobState(str, Enum):
    IDLE = "idle"
    SUBMITTING = "submitting"
    RUNNING = "running"
    CANCELLING = "cancelling"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (JobState.SUBMITTING, JobState.RUNNING, JobState.CANCELLING)


@dataclass
class _Job:
    document: Document
    target: Target
    layer: str  # the result layer's id
    submit: Submit  # kept for replacements: same content, styles and mask
    name: str
    mask: QImage | None
    mode: Mode
    job_id: str | None = None
    handle: JobHandle | None = None  # the submit, and the job running now once accepted
    pending: JobHandle | None = None  # a replacement waiting for `accepted`
    superseded: set[str] = field(default_factory=set)
    pending_strength: dict[str, float] | None = None  # a strength change, sent once accepted
    cancel_on_accept: bool = False
    count: tuple[int, int] | None = None  # the running job's last (iteration, total)


def announce_end(model: Any, state: str, text: str) -> None:
    """How a job ends, the same for a still and a clip (clip_model.py): the final state, the
    daemon's busy count asked again without it (now rather than later), then `message` (when
    there is something to say) and `finished`."""
    model._set_state(type(model.state)(state))
    model.link.poll_status()
    if text:
        model.message.emit(text)
    model.finished.emit(state)


class StyleTransferModel(QObject):
    state_changed = Signal(str)
    # iteration, total, seconds left (-1 while unknown), whether the job is a replacement
    # (after a strength change: its own count restarts at 0, and the UI says why), and how far
    # it is by time (Progress.fraction: finer scales cost more per iteration).
    progress = Signal(int, int, float, bool, float)
    queued = Signal(int, bool)  # place in the daemon's queue (1: next), replacement
    preview_applied = Signal(int)  # the iteration now shown in the result layer
    finished = Signal(str)  # "done", "cancelled" or "failed"
    message = Signal(str)  # one line for the user (errors, why a job ended)
    estimated = Signal(str)  # what Start would do: size, time, tiles (see estimate())

    def __init__(
        self,
        link: DaemonLink,
        documents: Callable[[], Document | None],
        parent: QObject | None = None,
    ) -> None:
        """`documents()` gives the active image (None: none is open)."""
        super().__init__(parent)
        self.link = link
        self.documents = documents
        self.state = JobState.IDLE
        self.job: _Job | None = None
        self.last_result: dict[str, Any] = {}  # the result's info (iterations, warm_start...)
        self.jobs_seen: list[str] = []  # every job id this model ran, in order
        self.results: set[str] = set()  # the ids of the result layers it made
        # The quality's label, the area, and whether the job is the fast method's one pass.
        self._estimating: tuple[str, int, int, bool] = ("", 0, 0, False)
        # The last estimate's time for one picture (None: none given) and whether it is the
        # fast method's pass: what a whole animation's estimate is made of.
        self.picture_time: tuple[float | None, bool] | None = None
        self._estimate_key: str | None = None  # what the last estimate was asked for
        link.state_changed.connect(self._on_link_state)
        link.estimated.connect(self._on_estimate)

    @property
    def mode(self) -> Mode | None:
        """The mode of the current (or last) job, for the progress text."""
        return self.job.mode if self.job is not None else None

    def style_weight(self, strength: float) -> float:
        """The style weight of a strength (0..100), by the daemon's current defaults: the same
        ones the result layer's name reads the strength back with."""
        return policy.style_weight(strength, self.link.defaults)

    def blends(self) -> bool:
        """Whether the daemon blends a picture with the photo (protocol 1.8's `amount`): the
        strength scale's low half and Instant's strength need it."""
        return self._features().blends

    def request(self, choice: StyleChoice) -> JobRequest:
        """What Start sends for the docker's `choice`: style files and layers read, settings
        by name; HostError (one line) when something is missing or unreadable."""
        return job_request(choice, self.documents(), self.link.defaults, blends=self.blends())

    # -- commands -------------------------------------------------------------------------

    def start(self, request: JobRequest) -> bool:
        """Start a job on the active layer; False (and a message) if it cannot start."""
        if self.state.active:
            self.message.emit("a job is already running: cancel it first")
            return False
        if not self.link.usable():
            self.message.emit(f"cannot start: {self.link.describe()}")
            return False
        if (
            not request.styles
            and not preset_fields(request.presets)
            and not request.settings.get("trained")
        ):
            self.message.emit(NO_STYLE)
            return False
        doc = self.documents()
        try:
            if doc is None:
                raise HostError(NO_IMAGE)
            target = doc.target(request.selection_only)
            content = doc.read_pixels(target)
        except HostError as e:
            self.message.emit(str(e))
            return False
        built = self._build_submit(request, target, content)
        if built is None:
            return False
        submit, mask = built
        try:
            name = f"{request.style_name} (stylizing)"
            layer = doc.add_result_layer(target, name, frozenset(self.results))
        except HostError as e:
            self.message.emit(str(e))
            return False
        # A stroke made while the job runs must land on the source, not on the preview layer
        # that the next preview overwrites (and that undo would bring back into the result).
        doc.lock_layer(layer, True)
        doc.keep_source_active(target, layer)
        self.job = _Job(doc, target, layer, submit, request.style_name, mask, request.mode)
        self._send(self.job, submit)
        self._set_state(JobState.SUBMITTING)
        return True

    def why_not(self, choice: StyleChoice) -> str:
        """Why Start would be refused now, in the words start() uses; "" when nothing stops
        it. No style is read: the docker asks again whenever something changes, so that the
        line of a refused Start goes once its cause has (the daemon connected, an image
        opened, a style added) instead of staying, stale."""
        if not self.link.usable():
            return f"cannot start: {self.link.describe()}"
        if not (styles_counted(choice) or preset_fields(choice.presets) or choice.trained):
            return NO_STYLE
        doc = self.documents()
        if doc is None:
            return NO_IMAGE
        try:
            doc.target(choice.selection_only)
        except HostError as e:
            return str(e)
        return ""

    def _build_submit(
        self, request: JobRequest, target: Target, content: Pixels
    ) -> tuple[Submit, QImage | None] | None:
        """The submit for `request` on `target`, and the feathered mask its pictures are
        written through; None (and a message) when the daemon could not take it."""
        area = target.area
        settings = self._settings(request, area.width, area.height)
        mask = None
        mask_pixels = None
        if target.selection is not None:
            radius = imaging.feather_radius(area.width, area.height)
            mask = imaging.feathered_mask(target.selection, area.width, area.height, radius)
            mask_pixels = Pixels(area.width, area.height, target.selection, "L", "u8")
        try:
            submit = build_submit(
                content,
                request.styles,
                settings,
                self.link.welcome,
                label=job_label(KRITA_CLIENT, request.style_name),
                mask=mask_pixels,
                result_layout="BGRA",
                # (a 1.2 daemon sends u8 whatever one asks, so ask it for u8)
                result_dtype=target.result_dtype if self._features().deep_results else "u8",
            )
        except JobRefused as e:  # ZeroMQ would drop the connection, the request unanswered
            self.message.emit(f"{e}: select a smaller area")
            return None
        return submit, mask

    def estimate(self, choice: StyleChoice, label: str, again: bool = False) -> None:
        """Ask the daemon what Start would do now (size, time, tiles), unless nothing changed
        since the last answer (`again`: ask anyway, e.g. after a job measured new costs). The
        answer comes as `estimated`, one line for the docker ("" when there is nothing to say).
        No style is read: only their number matters here."""
        doc = self.documents()
        size = doc.target_size(choice.selection_only) if doc is not None else None
        if size is None:
            self._estimate_key = None
            self.estimated.emit("")
            return
        request = job_request(choice, doc, self.link.defaults, load=False)
        n_styles = styles_counted(choice)
        settings = self._settings(request, *size)
        key = repr((label, size, sorted(settings.items()), n_styles))
        if key == self._estimate_key and not again:
            return
        self._estimate_key = key
        label = sizes.quality_label(label, *size) if request.quality == label else label
        self._estimating = (label, *size, settings.get("method") == "fast")
        # Without styles or presets Start would refuse; that is said then, not here.
        given = n_styles or preset_fields(request.presets) or settings.get("trained")
        styles = n_styles if given else 1
        if not self.link.estimate(EstimateRequest(*size, settings, styles=styles)):
            self.estimated.emit("")

    def _on_estimate(self, body: dict[str, Any]) -> None:
        if "error" in body:
            self.picture_time = None
            self.estimated.emit(str(body["error"]))
            return
        label, width, height, instant = self._estimating
        seconds = body.get("seconds")
        known = isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
        self.picture_time = (float(seconds) if known else None, instant)
        self.estimated.emit(policy.estimate_text(label, body, width, height, instant))

    def cancel(self) -> None:
        job = self.job
        if job is None or not self.state.active:
            return
        if job.job_id is None:
            job.cancel_on_accept = True
        else:
            self.link.cancel(job.job_id)
        self._set_state(JobState.CANCELLING)

    def set_strength(self, strength: float) -> None:
        """A new strength (0..100): while a job runs, replace it with a warm-started one at
        the strength's style weight and (protocol 1.8) blend with the photo."""
        self._retarget(policy.strength_settings(strength, self.link.defaults, self.blends()))

    def _retarget(self, strength: dict[str, float]) -> None:
        """New strength settings: while a job runs, replace it with a warm-started one."""
        job = self.job
        if job is None or self.state not in (JobState.SUBMITTING, JobState.RUNNING):
            return
        if job.mode is Mode.INSTANT:  # the fast method has no style weight (and is done soon)
            return
        if job.pending is not None or job.job_id is None:
            job.pending_strength = strength  # one replacement in flight at a time
            return
        self._replace(job, strength)

    def check_document(self) -> None:
        """Called when a document closes: a job whose document is gone is cancelled."""
        job = self.job
        if job is None or not self.state.active or job.document.is_open():
            return
        if job.job_id is not None:
            self.link.cancel(job.job_id)
        self._end(JobState.CANCELLED, "the document was closed: its job is cancelled", False)

    # -- the daemon's answers and the job's events (jobs.JobListener) ---------------------

    def _current(self, handle: JobHandle) -> _Job | None:
        """The active job when `handle` is its submit or its pending replacement."""
        job = self.job
        if job is None or not self.state.active or handle not in (job.handle, job.pending):
            return None
        return job

    def job_refused(self, handle: JobHandle, text: str) -> None:
        job = self._current(handle)
        if job is None:
            return
        if handle is job.pending:  # the running job goes on with the old strength
            job.pending = None
            self.message.emit(f"the new strength was not applied: {text}")
            return
        self._end(JobState.FAILED, f"the daemon refused the job: {text}")

    def job_accepted(self, handle: JobHandle, position: int) -> None:
        job = self._current(handle)
        if job is None or handle.job is None:
            return
        replacing = handle is job.pending
        if replacing:  # the daemon cancels the job it replaces: its events are not wanted
            job.superseded.add(job.job_id)  # type: ignore[arg-type]
            self._forget(job.handle)
            job.handle, job.pending, job.count = handle, None, None
        job.job_id = handle.job
        self.jobs_seen.append(handle.job)
        log.info("job %s accepted%s", handle.job, " (replacement)" if replacing else "")
        if job.cancel_on_accept or self.state is JobState.CANCELLING:
            self.link.cancel(handle.job)  # (a replacement sent before Cancel, too)
            return
        self.queued.emit(position, replacing)
        if self.state is JobState.SUBMITTING:
            self._set_state(JobState.RUNNING)
        if job.pending_strength is not None:
            strength, job.pending_strength = job.pending_strength, None
            self._replace(job, strength)

    def job_event(self, handle: JobHandle, event: Event) -> None:
        job = self._current(handle)
        if job is None or handle is not job.handle:
            return
        if isinstance(event, RemoteError):
            self._end(JobState.FAILED, f"the job failed: {event}")
        elif isinstance(event, Progress):
            self._report(job, event)
        elif isinstance(event, Preview):
            self._report(job, event.progress)
            if self.state is JobState.RUNNING and self._wanted(job, event.progress):
                if self._show(job, event.image):
                    self.preview_applied.emit(event.progress.iteration)
        elif isinstance(event, Result):
            self._on_result(job, event)
        elif isinstance(event, Cancelled):
            why = {"client_gone": "the daemon lost track of Krita", "shutdown": "it shut down"}
            reason = why.get(event.reason, "")
            text = f"the daemon cancelled the job: {reason}" if reason else ""
            self._end(JobState.CANCELLED, text)

    def _on_result(self, job: _Job, event: Result) -> None:
        if self.state is JobState.CANCELLING:  # it finished first; the user wants none
            self._end(JobState.CANCELLED, "")
        elif self._show(job, event.image):
            job.document.lock_layer(job.layer, False)  # the result is the painter's to edit
            job.document.rename_layer(job.layer, self._result_name(job))
            job.document.keep_source_active(job.target, job.layer)
            self.results.add(job.layer)
            self.last_result = dict(event.info)
            self._end(JobState.DONE, sizes.scaled_up(event.image, job.target), remove=False)

    def _on_link_state(self) -> None:
        if self.state.active and self.link.state in (LinkState.UNREACHABLE, LinkState.ERROR):
            self._end(JobState.FAILED, f"lost the daemon: {self.link.describe()}")

    # -- helpers --------------------------------------------------------------------------

    def _replace(self, job: _Job, strength: dict[str, float]) -> None:
        assert job.job_id is not None
        settings = {k: v for k, v in job.submit.settings.items() if k != "amount"}
        settings.update(strength)  # (no amount: the whole picture, from the middle up)
        if job.count is not None:  # it goes on from the current picture: the rest of the count
            settings["iterations"] = replacement_iterations(*job.count, settings.get("iterations"))
        job.submit = replace(job.submit, settings=settings, replace=job.job_id, init_job=job.job_id)
        sent = job.submit
        if self._features().inputs_from:  # the daemon has the images: send only the settings
            sent = replace(sent, content=None, styles=[], mask=None, inputs_from=job.job_id)
        job.pending = self.link.start_job(sent.to_message(), self)

    def _send(self, job: _Job, submit: Submit) -> None:
        job.handle = self.link.start_job(submit.to_message(), self)

    def _forget(self, handle: JobHandle | None) -> None:
        if handle is not None:
            self.link.jobs.forget(handle)

    @staticmethod
    def _wanted(job: _Job, p: Progress) -> bool:
        """Whether a preview goes on the canvas: not the instant picture (iteration 0) unless
        the job starts from it, i.e. a Refine job that is not a warm-started replacement."""
        return p.iteration > 0 or (job.mode is Mode.REFINE and not job.superseded)

    def _show(self, job: _Job, image: Pixels) -> bool:
        """Write a preview or the result into the layer; False when that is impossible."""
        target = job.target
        if not job.document.is_open():
            self.check_document()
            return False
        wanted = ("u8", job.submit.result_dtype)  # previews are u8; the result as asked
        if image.layout != "BGRA" or image.dtype not in wanted:
            self._end(JobState.FAILED, f"the daemon sent {image.layout} {image.dtype}, not BGRA")
            return False
        area = target.area
        pixels = imaging.fitted(image, area.width, area.height, job.mask)
        job.document.write_result(target, job.layer, pixels, image.dtype)
        # Krita activates a new layer a moment after adding it, or the user may click it:
        # the source is made active again at each picture, so a stroke never lands here.
        job.document.keep_source_active(target, job.layer)
        return True

    def _report(self, job: _Job, p: Progress) -> None:
        job.count = (p.iteration, p.total)
        eta = p.eta
        replacing = bool(self.job and self.job.superseded)
        eta_or_unknown = -1.0 if eta is None else eta
        self.progress.emit(p.iteration, p.total, eta_or_unknown, replacing, p.fraction)

    def _end(self, state: JobState, text: str, remove: bool = True) -> None:
        job = self.job
        if job is not None:
            self._forget(job.handle)
            self._forget(job.pending)
        if job is not None and remove:
            try:  # (unlocked: Redo may bring it back, as the painter's)
                job.document.lock_layer(job.layer, False)
                job.document.remove_result_layer(job.target, job.layer)
            except Exception:  # the user may have deleted it already
                log.exception("could not remove the result layer")
        announce_end(self, state.value, text)

    def _set_state(self, state: JobState) -> None:
        if state is not self.state:
            self.state = state
            self.state_changed.emit(state.value)

    def _settings(self, request: JobRequest, width: int, height: int) -> dict[str, Any]:
        """The submit's settings for a width x height area (request.job_settings)."""
        return job_settings(request, width, height, self.link.welcome)

    def _result_name(self, job: _Job) -> str:
        """The style, the mode, the strength it ended with and its size (request.py)."""
        return result_name(job.name, job.mode, job.submit.settings, self.link.defaults)

    def _features(self) -> Features:
        return Features.from_hello(self.link.welcome or {})
