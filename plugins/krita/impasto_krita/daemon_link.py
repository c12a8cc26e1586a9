"""The link to the daemon: a NonBlockingClient driven by Qt's event loop, and the daemon start.

ZeroMQ's descriptor is edge-triggered: QSocketNotifier fires when its state changes, not while
data waits, so every wake-up drains until ZMQ_EVENTS says nothing is left, and one more drain is
scheduled after every send (a send can consume the edge). A 1 s timer sends heartbeats, notices a
silent daemon and retries. The UI reads `state` and `describe()`. A request that becomes a job
(`start_job`: a submit, a train) gets a JobHandle (jobs.py): its answer and the job's events
reach the caller as typed objects. `defaults` are the daemon's current engine defaults (the
latest hello_reply's): the strength mapping and the result's name both read them here.

Each time the link becomes ready it asks a daemon that has built-in styles (protocol 1.1) for
their swatches, once, and keeps them in `swatches` for the palette (`swatches_changed`): a
restarted daemon may be another one, with other styles or none.
"""

from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path
from typing import Any

from impasto_protocol import EstimateRequest, Message, NonBlockingClient, Pixels, State
from impasto_protocol.launcher import (
    DaemonStartError,
    PluginConfig,
    Startup,
    no_daemon_text,
    nothing_listening,
)
from impasto_protocol.messages import (
    TrainedStyleInfo,
    remote_error,
    swatches_from,
    trained_from,
)
from impasto_protocol.modes import Features

from .jobs import JobHandle, JobListener, JobRouter
from .qt import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

CLIENT_NAME = "krita-plugin 0.1"
TICK_MS = 1000
STATUS_EVERY = 2  # ticks between status polls (how busy the daemon is)
RETRY_EVERY = 5  # ticks between connection attempts while the daemon is unreachable


class LinkState(str, Enum):
    OFFLINE = "offline"  # not opened yet
    CONNECTING = "connecting"  # hello sent, nothing heard
    LAUNCHING = "launching"  # we started the daemon and wait for its first answer
    LOADING = "loading"  # the daemon answered and loads its model (jobs queue meanwhile)
    READY = "ready"
    UNREACHABLE = "unreachable"  # nothing answers and we cannot (or could not) start one
    ERROR = "error"  # refused (protocol version) or a broken configuration


class DaemonLink(QObject):
    state_changed = Signal()
    swatches_changed = Signal()  # `swatches` were (re)read from the daemon
    estimated = Signal(object)  # an estimate_reply's body, or {"error": text}

    def __init__(self, config_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.config_path = config_path
        self.config: PluginConfig | None = None
        self.client: NonBlockingClient | None = None
        self.state = LinkState.OFFLINE
        self.error = ""
        self.busy_jobs = 0  # other clients' queued + running jobs, from status polls
        self.mine: set[str] = set()  # ids of the jobs this plug-in submitted (not "busy")
        self.jobs = JobRouter(self.mine)  # requests that become jobs, and their events
        self.status_replies = 0  # how many status polls were answered (tests wait on it)
        # The daemon we start, at most once per open() and by ourselves; None: not tried.
        self.startup: Startup | None = None
        self._notifier: QSocketNotifier | None = None
        self._notifier_fd = -1
        self._ticks = 0
        self._status_id: str | None = None
        self.swatches: list[Pixels] = []  # the built-in styles' pictures, in preset order
        self.trained: list[TrainedStyleInfo] = []  # 1.5: the daemon's trained styles
        self._presets_id: str | None = None  # the presets request waiting for its answer
        self._estimate_id: str | None = None  # the latest estimate request
        self._estimates: set[str] = set()  # every one unanswered: older answers are dropped
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    # -- public ---------------------------------------------------------------------------

    @property
    def welcome(self) -> dict[str, Any] | None:
        return self.client.welcome if self.client is not None else None

    @property
    def defaults(self) -> dict[str, Any]:
        """The daemon's engine settings' defaults, from its latest hello_reply ({}: none yet)."""
        return dict((self.welcome or {}).get("defaults") or {})

    @property
    def process(self) -> Any:
        """The daemon this link started (a subprocess.Popen), or None."""
        return self.startup.process if self.startup is not None else None

    @property
    def endpoint(self) -> str:
        return self.config.resolved_endpoint() if self.config else "?"

    def open(self) -> None:
        """Connect (once); start the daemon when nothing can be listening."""
        if self.client is not None:
            return
        try:
            self.config = PluginConfig.load(self.config_path)
        except ValueError as e:
            self._set(LinkState.ERROR, str(e))
            return
        self.client = NonBlockingClient(self.config.resolved_endpoint(), name=CLIENT_NAME)
        absent = nothing_listening(self.client.endpoint)
        if absent:
            self._launch()
        self._hello()
        if absent and not self.config.daemon_command:
            # Nothing can answer and we may not start one: say so now, not after a timeout.
            # The hello stays queued and the timer keeps retrying: a daemon started by hand
            # later is found without restarting Krita.
            self._set(LinkState.UNREACHABLE, no_daemon_text(self.endpoint))
        self._timer.start()

    def close(self) -> None:
        self._timer.stop()
        self._drop_notifier()
        if self.client is not None:
            self.client.close()
            self.client = None
        self.state = LinkState.OFFLINE

    def usable(self) -> bool:
        """Jobs can be sent: the daemon answered (a loading daemon queues them)."""
        return self.state in (LinkState.READY, LinkState.LOADING)

    def start_job(self, request: Message, listener: JobListener) -> JobHandle:
        """Send a request that becomes a job (a submit, a train): its answer and then the
        job's events go to `listener`, with the handle returned."""
        assert self.client is not None
        handle = self.jobs.add(self.client.send(request), listener)
        self._after_send()
        return handle

    def send_frames(self, handle: JobHandle, frames: list[Pixels]) -> None:
        """A clip job's frames, to the job `handle` became (after its `accepted`), in
        bounded batches; an error to a batch reaches the handle's listener."""
        assert self.client is not None and handle.job is not None
        self.jobs.follow_batches(handle, self.client.send_frames(handle.job, frames))
        self._after_send()

    def refresh_styles(self) -> None:
        """Ask for the styles again: the library of trained styles changed (a training). A
        request still unanswered may have been answered from the library before the change."""
        self._presets_id = None
        self._ask_presets()

    def estimate(self, request: EstimateRequest) -> bool:
        """Ask what a job would be (protocol 1.4); the answer comes as `estimated`. False when
        the daemon cannot say (not connected, or older)."""
        if self.client is None or not self.usable():
            return False
        if not Features.from_hello(self.welcome or {}).estimate:
            return False
        self._estimate_id = self.client.send(request.to_message())
        self._estimates.add(self._estimate_id)
        self._after_send()
        return True

    def cancel(self, job: str) -> None:
        if self.client is not None:
            self.client.cancel(job)
            self._after_send()

    def describe(self, full: bool = False) -> str:
        """One line for the docker's state label: the device by its name ("cuda:0", "cpu"),
        or `full`, for its tooltip, with what the daemon adds (precision, memory)."""
        s = self.state
        if s is LinkState.READY:
            device = str((self.welcome or {}).get("device", ""))
            device = device if full else device.split(",")[0]
            n = self.busy_jobs
            busy = f", busy with {n} other job{'s' if n > 1 else ''}" if n else ""
            return f"Daemon connected ({device}){busy}"
        if s is LinkState.LOADING:
            return "Daemon starting: loading the model (jobs wait in its queue)"
        if s is LinkState.LAUNCHING:
            waited = self.startup.waited() if self.startup else 0.0
            return f"Starting the daemon ({int(waited)} s)..."
        if s is LinkState.CONNECTING:
            return f"Connecting to {self.endpoint}..."
        if s is LinkState.UNREACHABLE:
            return f"Daemon unreachable: {self.error}"
        if s is LinkState.ERROR:
            return f"Daemon error: {self.error}"
        return "Not connected"

    # -- internals ------------------------------------------------------------------------

    def _set(self, state: LinkState, error: str = "") -> None:
        if state is not self.state or error != self.error:
            log.info("daemon link: %s %s", state.value, error)
            became_ready = state is LinkState.READY and self.state is not LinkState.READY
            self.state, self.error = state, error
            if became_ready:
                self._ask_presets()
            self.state_changed.emit()

    def _ask_presets(self) -> None:
        """The swatches, once per connection: `presets` in hello_reply is 0 before `ready`, so
        this waits for the link to be ready; a daemon without built-in styles has none."""
        if self.client is None:
            return
        features = Features.from_hello(self.welcome or {})
        if features.presets == 0 and not features.trained:
            self._set_swatches([])
        elif self._presets_id is None:
            self._presets_id = self.client.presets()
            self._after_send()

    def _on_presets(self, msg: Message) -> None:
        self._presets_id = None
        if msg.type != "presets_reply":  # an older daemon: unknown_type
            text = str(remote_error(msg)) if msg.type == "error" else msg.type
            log.info("the daemon has no swatches: %s", text)
            self._set_swatches([])
            return
        try:
            swatches = swatches_from(msg)
            trained = trained_from(msg)
        except Exception as e:  # bad frames must not raise into Qt's event loop
            log.warning("ignoring unreadable swatches from the daemon: %s", e)
            swatches, trained = [], []
        self._set_swatches(swatches, trained)

    def _set_swatches(
        self, swatches: list[Pixels], trained: list[TrainedStyleInfo] | None = None
    ) -> None:
        trained = trained or []
        if swatches or self.swatches or trained or self.trained:
            log.info(
                "%d built-in and %d trained styles from the daemon", len(swatches), len(trained)
            )
            self.swatches = swatches
            self.trained = trained
            self.swatches_changed.emit()

    def _launch(self) -> None:
        assert self.config is not None
        if not self.config.daemon_command:
            return
        self.startup = Startup(self.config)
        try:
            self.startup.start()
        except DaemonStartError as e:
            self._set(LinkState.ERROR, str(e))
            return
        assert self.startup.process is not None
        log.info("started the daemon, pid %s", self.startup.process.pid)

    def _hello(self, announce: bool = True) -> None:
        assert self.client is not None
        self.client.connect()
        self._presets_id = None  # a request sent before is lost with the old connection
        self._estimate_id, self._estimates = None, set()
        self._watch_socket()
        self._after_send()
        if announce and self.state is not LinkState.ERROR:
            self._set(LinkState.LAUNCHING if self._launching() else LinkState.CONNECTING)

    def _launching(self) -> bool:
        """A daemon we started is still within its start timeout."""
        started = self.startup
        if started is None or started.process is None:
            return False
        try:
            started.check()
        except DaemonStartError:
            return False
        return True

    def _watch_socket(self) -> None:
        """(Re)arm the notifier: a reset after a silent daemon gives the client a new socket."""
        assert self.client is not None
        fd = self.client.fd
        if self._notifier is not None and fd == self._notifier_fd:
            return
        self._drop_notifier()
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._notifier_fd = fd

    def _drop_notifier(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
            self._notifier_fd = -1

    def _after_send(self) -> None:
        QTimer.singleShot(0, self._drain)

    def _drain(self, *_: Any) -> None:
        if self.client is None:
            return
        try:
            messages = self.client.drain()
        except Exception:  # a broken socket must not raise into Qt's event loop
            log.exception("reading from the daemon failed")
            messages = []
        self._follow_client_state()
        for msg in messages:
            if msg.ref is not None and msg.ref == self._status_id:
                self._on_status(msg)
            elif msg.ref is not None and msg.ref == self._presets_id:
                self._on_presets(msg)
            elif msg.ref is not None and msg.ref in self._estimates:
                self._estimates.discard(msg.ref)
                if msg.ref == self._estimate_id:  # (not one a later request replaced)
                    ok = msg.type == "estimate_reply"
                    self.estimated.emit(msg.body if ok else {"error": str(remote_error(msg))})
            elif msg.type != "hello_reply" and not self.jobs.route(msg):
                log.debug("nobody waits for %s %s", msg.type, msg.job or msg.ref)

    def _follow_client_state(self) -> None:
        assert self.client is not None
        s = self.client.state
        if s is State.READY:
            self._set(LinkState.READY)
        elif s is State.STARTING:
            self._set(LinkState.LOADING)
        elif s is State.REFUSED:
            self._set(LinkState.ERROR, self.client.error or "the daemon refused the connection")

    def _on_status(self, msg: Message) -> None:
        self._status_id = None
        self.status_replies += 1
        body = msg.body if msg.type == "status_reply" else {}
        queue, running = body.get("queue", 0), body.get("running")
        workers = body.get("workers")
        if isinstance(workers, list):  # 1.4: one per engine, with the job it runs (if seen)
            running_n = sum(1 for w in workers if isinstance(w, dict) and w.get("job"))
        else:
            running_n = 1 if running else 0
        jobs = body.get("jobs") if isinstance(body.get("jobs"), list) else []
        own = sum(
            1
            for j in jobs
            if isinstance(j, dict)
            and j.get("job") in self.mine
            and j.get("state") in ("queued", "running")
        )
        busy = max(0, (queue if isinstance(queue, int) else 0) + running_n - own)
        if busy != self.busy_jobs:
            self.busy_jobs = busy
            self.state_changed.emit()

    def _tick(self) -> None:
        if self.client is None:
            return
        self._ticks += 1
        if self.state is LinkState.LAUNCHING:
            self.state_changed.emit()  # the label counts seconds
        try:
            state = self.client.tick()
        except Exception:
            log.exception("heartbeat to the daemon failed")
            state = State.LOST
        if state is State.LOST or self._gone():
            self._on_silence()
        else:
            self._drain()
            if state is State.READY and self._ticks % STATUS_EVERY == 0:
                self.poll_status()

    def poll_status(self) -> None:
        """Ask how busy the daemon is now (after a job of ours ended), not at the next poll."""
        if self.client is not None and self.state is LinkState.READY and not self._status_id:
            self._status_id = self.client.status()
            self._after_send()

    def _gone(self) -> bool:
        """Whether the daemon that answered is known to be gone before its silence says so
        (the client's timeout, about 10 s of "Daemon connected" after `impasto shutdown`):
        the process this link started exited, or (one started elsewhere) its socket file was
        removed. (Ours removes its socket a moment before it exits: waiting for the exit, the
        link starts another one only once this one is gone.)"""
        if self.state not in (LinkState.READY, LinkState.LOADING):
            return False
        process = self.process
        if process is not None:
            return process.poll() is not None
        return nothing_listening(self.endpoint)

    def _on_silence(self) -> None:
        """The daemon did not answer within the client's timeout, or is gone: retry, start
        it, or say so."""
        assert self.client is not None and self.config is not None
        if self.state in (LinkState.READY, LinkState.LOADING) and self.process is not None:
            if self.process.poll() is not None:  # ours ran and stopped (a shutdown): not a
                self.startup = None  # failed start, so another one may be started now
        started = self.startup
        if started is not None and started.process is not None:
            try:
                started.check()
            except DaemonStartError as e:
                if started.process.poll() is not None:  # it exited: say so, start no other
                    started.process = None
                    self._set(LinkState.UNREACHABLE, str(e))
                    return
                # alive but late: unreachable below, and asked again now and then
            else:
                self._hello()  # still loading torch: keep asking
                return
        if started is None and self.config.daemon_command:
            self._launch()  # a socket file was there but nothing answered (a crashed daemon)
            self._hello()
            return
        if self.state is not LinkState.UNREACHABLE:
            why = self.client.error or f"no answer from {self.endpoint}"
            if not self.config.daemon_command:
                why = no_daemon_text(self.endpoint)
            self._set(LinkState.UNREACHABLE, why)
        if self._ticks % RETRY_EVERY == 0:
            self._hello(announce=False)  # Lazy Pirate: a fresh socket reaches a restarted daemon
