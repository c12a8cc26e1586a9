"""Turning the errors a user can cause into one line that names the problem."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import Any

from impasto_protocol.errors import ConnectionLost, JobCancelled, ProtocolError, RemoteError

from ..engine.settings import SettingsError, settings_fields
from .options import OTHER_OPTIONS, option_name

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as for any program that Ctrl-C ended (128 + SIGINT)


class CliError(Exception):
    """A problem with the command's input, reported as one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe_error(e: BaseException) -> str | None:
    """The one-line message for an error the user caused; None for a bug."""
    if isinstance(e, SettingsError):
        options = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
        known = e.field in options or e.field in OTHER_OPTIONS
        name = option_name(e.field) if known else e.field
        return f"{name}: {e.message}"
    if isinstance(e, (CliError, *_loaded_engine_errors())):
        return str(e)
    # The daemon's refusals and failures (RemoteError, a ProtocolError), a daemon that does not
    # answer, a job cancelled under us: each message already says what happened in one line.
    if isinstance(e, (RemoteError, ProtocolError, ConnectionLost, JobCancelled)):
        return str(e)
    return None


def _loaded_engine_errors() -> tuple[type[Exception], ...]:
    """The engine's error types, from the engine modules already loaded: the client commands
    never load torch, and an error can only come from a module that is loaded."""
    found: list[type[Exception]] = []
    for module, name in (
        ("device", "DeviceError"),
        ("images", "ImageError"),
        ("weights", "WeightsError"),
        ("fast.models", "FastModelError"),
        ("trained", "StyleFileError"),
        ("train_settings", "TrainSettingsError"),
    ):
        loaded = sys.modules.get(f"impasto.engine.{module}")
        if loaded is not None:
            found.append(getattr(loaded, name))
    return tuple(found)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """`kill` (SIGTERM) stops the command as Ctrl-C does: a daemon's job is cancelled at once
    rather than when the daemon notices the silence, a clip keeps the frames done."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
