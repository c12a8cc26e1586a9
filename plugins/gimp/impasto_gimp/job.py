"""Talking to the daemon: connect (starting it when nothing answers), submit, follow the job.

No GIMP here: the plug-in passes callbacks for previews, progress and "keep the UI alive", so
this module is the connection state machine and nothing else. A GIMP plug-in owns its process,
so the blocking Client fits; waits are cut into 0.1 s slices so that the dialog stays responsive
and a Cancel is sent within a slice. The job is never submitted with `detach`: when GIMP kills
the plug-in (its Cancel is a SIGKILL), the daemon hears no more heartbeats and cancels the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from impasto_protocol import (
    Cancelled,
    Client,
    ConnectionLost,
    ImpastoError,
    JobCancelled,
    JobHandle,
    Preview,
    Progress,
    Result,
    Submit,
)
from impasto_protocol.launcher import DaemonStartError, PluginConfig, Startup, connect_or_start
from impasto_protocol.messages import Train

log = logging.getLogger(__name__)

CLIENT_NAME = "gimp-plugin 0.1"
SLICE = 0.1  # seconds between UI pumps while waiting


class DaemonError(RuntimeError):
    """The daemon could not be reached, started, or refused the job (one line for the user)."""


class UserCancelled(RuntimeError):
    """The user pressed Cancel in the plug-in's own progress window. `checkpoint`: the step a
    cancelled training saved (the daemon's `cancelled` event), None when it saved none."""

    def __init__(self, message: str, checkpoint: int | None = None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint


@dataclass
class Hooks:
    """What the plug-in does while it waits. `idle` pumps the UI and returns True when the user
    asked to cancel; `status` shows a line of text."""

    idle: Callable[[], bool] = lambda: False
    status: Callable[[str], None] = lambda text: None
    progress: Callable[[Progress], None] = lambda p: None
    preview: Callable[[Preview], None] = lambda p: None


@dataclass
class Outcome:
    result: Result
    job: str
    previews: int = 0  # previews written before the result
    preview_iterations: list[int] = field(default_factory=list)


def connect(config: PluginConfig, endpoint: str | None, hooks: Hooks) -> Client:
    """A client that has said hello to a ready daemon at `endpoint` (or the configured one);
    starts the daemon with the configured command when nothing answers."""
    target = endpoint or config.resolved_endpoint()
    client = Client(target, name=CLIENT_NAME)
    normal_timeout = client.timeout

    def hello(timeout: float) -> dict[str, Any] | None:
        if hooks.idle():
            raise UserCancelled("cancelled while the daemon was starting")
        client.timeout = timeout
        try:
            return _hello(client, hooks)
        except ConnectionLost:
            return None

    try:
        connect_or_start(
            Startup(replace(config, endpoint=target)),
            hello,
            pause=lambda seconds: _sleep(seconds, hooks),
            on_wait=hooks.status,
        )
    except DaemonStartError as exc:
        client.close()
        raise DaemonError(str(exc)) from None
    except BaseException:
        client.close()
        raise
    client.timeout = normal_timeout
    return client


def _hello(client: Client, hooks: Hooks) -> dict[str, Any]:
    try:
        return client.hello()
    except ImpastoError as exc:
        if isinstance(exc, ConnectionLost):
            raise
        raise DaemonError(f"the daemon at {client.endpoint} refused us: {exc}") from None


def _sleep(seconds: float, hooks: Hooks) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        hooks.idle()
        time.sleep(min(SLICE, max(0.0, end - time.monotonic())))


def run(client: Client, submit: Submit | Train, hooks: Hooks) -> Outcome:
    """Submit (a stylization, or a training: protocol 1.6) and follow the job to its end.
    Raises UserCancelled, DaemonError."""
    try:
        handle = client.train(submit) if isinstance(submit, Train) else client.submit(submit)
    except ImpastoError as exc:
        raise DaemonError(f"the daemon refused the job: {exc}") from None
    log.info("job %s accepted: %s", handle.id, handle.accepted)
    hooks.status("Queued" if handle.accepted.get("position", 1) > 1 else "Starting")
    outcome = Outcome(result=None, job=handle.id)  # type: ignore[arg-type]

    def take(event: Any) -> bool:
        if isinstance(event, Result):
            outcome.result = event
            return True
        if isinstance(event, Preview):
            hooks.preview(event)
            outcome.previews += 1
            outcome.preview_iterations.append(event.progress.iteration)
            hooks.progress(event.progress)
        else:
            hooks.progress(event)
        return False

    follow(client, handle, hooks, take)
    return outcome


def follow(client: Client, handle: JobHandle, hooks: Hooks, take: Callable[[Any], bool]) -> None:
    """Follow an accepted job to its outcome: `take` gets each event but a cancellation and
    returns True for the last one. A Cancel in the UI (`hooks.idle`) asks the daemon to cancel,
    and its confirmation raises UserCancelled; everything else that ends the job early raises
    DaemonError. Shared by every kind of job: stills, trainings, clips."""
    cancel_sent = False
    while True:
        try:
            for event in handle.events(timeout=SLICE):
                if isinstance(event, Cancelled):
                    if cancel_sent:
                        raise UserCancelled(f"job {handle.id} cancelled", event.checkpoint)
                    raise DaemonError(f"the daemon cancelled the job ({event.reason})")
                if take(event):
                    return
                if not cancel_sent and hooks.idle():
                    break  # send the cancel below
        except TimeoutError:
            pass
        except JobCancelled as exc:
            raise DaemonError(str(exc)) from None
        except ConnectionLost as exc:
            raise DaemonError(f"lost the daemon while the job ran: {exc}") from None
        except ImpastoError as exc:
            raise DaemonError(f"the job failed: {exc}") from None
        if not cancel_sent and hooks.idle():
            hooks.status("Cancelling...")
            try:
                client.cancel(handle.id)
            except ImpastoError as exc:
                raise DaemonError(f"cannot cancel job {handle.id}: {exc}") from None
            cancel_sent = True
