"""The daemon's built-in styles, fetched on a thread while the settings dialog is open.

The palette needs the daemon before the user presses OK, and reaching it can take a while (it
may have to be started and load its model). Doing that on the dialog's thread would freeze the
dialog, so a worker thread connects (starting the daemon as a job would), asks for the swatches
and hands them over through a callback; the dialog opens at once and fills the palette when
they arrive. No GIMP or GTK here: the callbacks run on the worker thread, and the dialog turns
them into main-loop calls itself.

The worker's connection is closed when it is done: the job connects again after OK (a few
milliseconds once the daemon is up), so no socket ever moves between threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from impasto_protocol import ImpastoError, Pixels, RemoteError
from impasto_protocol.constants import E_UNKNOWN_TYPE
from impasto_protocol.launcher import PluginConfig
from impasto_protocol.messages import TrainedStyleInfo

from . import job
from .settings import Features

log = logging.getLogger(__name__)

WAIT_SLICE = 0.1  # seconds between UI pumps while the job waits for the worker


@dataclass
class Swatches:
    """What the palette shows: the daemon's features and the swatches in preset order, or
    `problem`, one line saying why there are none."""

    features: Features = field(default_factory=Features)
    pictures: list[Pixels] = field(default_factory=list)
    problem: str = ""
    trained: list[TrainedStyleInfo] = field(default_factory=list)  # 1.5: the daemon's library


def fetch(config: PluginConfig, endpoint: str | None, hooks: job.Hooks) -> Swatches:
    """Connect (starting the daemon when nothing answers) and ask for the swatches. Never
    raises for a daemon that cannot be reached or has no presets: `problem` says so."""
    try:
        client = job.connect(config, endpoint, hooks)
    except (job.DaemonError, job.UserCancelled) as exc:
        return Swatches(problem=str(exc))
    try:
        features = Features.from_hello(client.welcome or {})
        if features.presets <= 0:
            return Swatches(features, problem=_lacking(features.why_no_instant()))
        try:
            if features.trained:
                pictures, trained = client.palette()
            else:
                pictures, trained = client.presets(), []
        except RemoteError as exc:
            if exc.code == E_UNKNOWN_TYPE:  # an older daemon that still claims the presets
                return Swatches(features, problem=_lacking("it does not know the request"))
            raise
        if not pictures:
            return Swatches(features, problem="The daemon has no swatches to show yet.")
        return Swatches(features, pictures, trained=trained)
    except ImpastoError as exc:
        return Swatches(problem=f"cannot fetch the built-in styles: {exc}")
    finally:
        client.close()


def _lacking(why: str) -> str:
    return (
        f"This daemon has no instant styles ({why}). The built-in styles and the Instant and "
        "Refine modes need them; the Paint mode works."
    )


class Prefetch:
    """`fetch` on a worker thread. `on_status` and `on_done` are called on that thread (they
    may be replaced while it runs: the dialog hands them over to the progress window)."""

    def __init__(self, config: PluginConfig, endpoint: str | None) -> None:
        self.config = config
        self.endpoint = endpoint
        self.on_status: Callable[[str], None] = lambda text: None
        self.on_done: Callable[[Swatches], None] = lambda swatches: None
        self.result: Swatches | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="impasto-presets", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Give up (the dialog was cancelled): the worker stops waiting for a starting daemon.
        A daemon it already started keeps starting, ready for the next run."""
        self._stop.set()

    def wait(self, idle: Callable[[], bool]) -> None:
        """Wait for the worker, calling `idle` (which pumps the UI and returns True on Cancel)
        every slice. The job must not connect while the worker may still be starting the
        daemon, or both would start one. Raises job.UserCancelled when `idle` says so."""
        while self._thread.is_alive():
            if idle():
                self.stop()
                raise job.UserCancelled("cancelled while the daemon was starting")
            self._thread.join(WAIT_SLICE)

    def _work(self) -> None:
        hooks = job.Hooks(idle=self._stop.is_set, status=lambda text: self.on_status(text))
        try:
            self.result = fetch(self.config, self.endpoint, hooks)
        except Exception as exc:  # a bug must not kill the dialog: show it in the palette
            log.exception("fetching the built-in styles failed")
            self.result = Swatches(problem=f"cannot fetch the built-in styles: {exc}")
        log.info(
            "presets: %d swatches, %d trained styles%s",
            len(self.result.pictures),
            len(self.result.trained),
            f" ({self.result.problem})" if self.result.problem else "",
        )
        self.on_done(self.result)
