"""Turning the errors a user can cause into one line that names the problem."""

from __future__ import annotations

from ..engine import DeviceError, ImageError, SettingsError, WeightsError
from ..engine.settings import settings_fields
from .options import option_name

EXIT_USAGE = 2


class CliError(Exception):
    """A problem with the command's input, reported as one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe_error(e: BaseException) -> str | None:
    """The one-line message for an error the user caused; None for a bug."""
    if isinstance(e, SettingsError):
        options = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
        name = option_name(e.field) if e.field in options else e.field
        return f"{name}: {e.message}"
    if isinstance(e, (CliError, ImageError, WeightsError, DeviceError)):
        return str(e)
    return None
