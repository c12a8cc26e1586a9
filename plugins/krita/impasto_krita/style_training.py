"""Training a style on the daemon (protocol 1.6, `train`), from the docker.

    idle -> submitting -> training -> idle (trained, cancelled or failed)

The chosen style image becomes a trained style of the daemon's library; once it is there the
Trained styles list shows it (the link asks for the styles again) and the docker ticks it, so
Instant then paints with it in a fraction of a second. A training takes minutes to hours: it is
detached (it goes on, and lands in the library, if Krita closes) and makes way for
stylizations, so Start keeps working meanwhile. Cancel keeps the daemon's checkpoint: Train
again with the same style and steps goes on from there.

Like the job model, this one knows neither widgets nor sockets: it speaks through the
DaemonLink and reports with Qt signals.
"""

from __future__ import annotations

import logging
from enum import Enum

from impasto_protocol import Cancelled, Pixels, Progress, RemoteError, Result, policy
from impasto_protocol.modes import Features
from impasto_protocol.submission import KRITA_CLIENT, build_train, job_label

from . import progress_text
from .daemon_link import DaemonLink, LinkState
from .jobs import Event, JobHandle
from .qt import QObject, Signal

log = logging.getLogger(__name__)


class TrainingState(str, Enum):
    IDLE = "idle"
    SUBMITTING = "submitting"
    TRAINING = "training"
    CANCELLING = "cancelling"

    @property
    def active(self) -> bool:
        return self is not TrainingState.IDLE


class StyleTraining(QObject):
    changed = Signal()  # `state` or `text` changed
    trained = Signal(str)  # the style of this name is in the daemon's library now

    def __init__(self, link: DaemonLink, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.state = TrainingState.IDLE
        self.text = ""  # one line for the user: what the training does or how it ended
        self.name = ""
        self.steps = 0
        self.job_id: str | None = None
        self._handle: JobHandle | None = None  # the request, and its job once accepted
        link.state_changed.connect(self._on_link_state)

    def why_not(self) -> str:
        """Why Train cannot be pressed now, in words; empty when it can."""
        if not self.link.usable():
            return "the daemon is not connected"
        if not Features.from_hello(self.link.welcome or {}).trains:
            return "this daemon does not train styles (it is older than protocol 1.6, or a cluster)"
        if self.state.active:
            return f"it trains {self.name!r} now"
        return ""

    def exists(self, name: str) -> bool:
        """Whether the daemon's library has a trained style of this name (Train replaces it)."""
        return name in {t.name for t in self.link.trained}

    def start(self, style: Pixels, name: str, steps: int) -> bool:
        """Train `style` as the trained style `name` for `steps` steps; False (and the reason
        in `text`) when it cannot start."""
        why = self.why_not()
        if why:
            self._say(f"Cannot train: {why}")
            return False
        request = build_train(
            style,
            name,
            {"steps": steps},
            label=job_label(KRITA_CLIENT, f"train {name}"),
            overwrite=self.exists(name),
            detach=True,  # a background job: Krita may close before it ends
        )
        self.name, self.steps, self.job_id = name, steps, None
        self._handle = self.link.start_job(request.to_message(), self)
        self.state = TrainingState.SUBMITTING
        self._say(f"Sending {name!r} to the daemon to train...")
        return True

    def cancel(self) -> None:
        if self.state is TrainingState.TRAINING and self.job_id is not None:
            self.link.cancel(self.job_id)
            self.state = TrainingState.CANCELLING
            self._say(f"Cancelling the training of {self.name!r}...")

    # -- daemon messages ------------------------------------------------------------------

    def job_refused(self, handle: JobHandle, text: str) -> None:
        if handle is self._handle:
            self._end(f"The daemon refused to train {self.name!r}: {text}")

    def job_accepted(self, handle: JobHandle, position: int) -> None:
        if handle is not self._handle or not self.state.active:
            return
        self.job_id = handle.job
        self.state = TrainingState.TRAINING
        waits = ""  # (place 1 of a daemon that runs nothing else starts at once)
        if progress_text.waits(position, self.link.busy_jobs):
            waits = f" (it waits: number {position} in the queue)"
        self._say(f"Training {self.name!r} on the daemon{waits}...")

    def job_event(self, handle: JobHandle, event: Event) -> None:
        if handle is not self._handle or not self.state.active:
            return
        if isinstance(event, RemoteError):
            self._end(f"The training of {self.name!r} failed: {event}")
        elif isinstance(event, Progress):
            if self.state is TrainingState.TRAINING:
                self._say(policy.training_text(self.name, event))
        elif isinstance(event, Result):
            name = self.name
            self._end(f"{name!r} is trained: ticked under Trained styles (Instant paints with it)")
            self.link.refresh_styles()
            self.trained.emit(name)
        elif isinstance(event, Cancelled):
            step = f" at step {event.checkpoint}" if event.checkpoint else ""
            again = "; Train again goes on from there" if event.checkpoint else ""
            self._end(f"The training of {self.name!r} was cancelled{step}{again}")

    def _on_link_state(self) -> None:
        if self.state.active and self.link.state in (LinkState.UNREACHABLE, LinkState.ERROR):
            # (Detached: a daemon that still runs goes on with it; the library will show it.)
            self._end(f"Lost the daemon while it trained {self.name!r}: {self.link.describe()}")

    # -- helpers --------------------------------------------------------------------------

    def _end(self, text: str) -> None:
        self.state = TrainingState.IDLE
        if self._handle is not None:
            self.link.jobs.forget(self._handle)
            self._handle = None
        self._say(text)
        self.link.poll_status()

    def _say(self, text: str) -> None:
        self.text = text
        log.info("training: %s", text)
        self.changed.emit()
