"""The errors a request gets for an image over the daemon's limits or a setting the backend
refused, shared by the handlers of stills, trainings and clips."""

from __future__ import annotations

from impasto_protocol import constants as C
from impasto_protocol.errors import ProtocolError

from .backend import FieldError


def check_input_size(name: str, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise ProtocolError(
            C.E_TOO_LARGE,
            f"{width}x{height} is over the daemon's limit of {limit} pixels per image",
            name,
        )


def refusal(e: FieldError) -> ProtocolError:
    """A setting the backend refused, as the error naming it (`settings.<name>`)."""
    return ProtocolError(e.code, e.message, f"settings.{e.field}" if e.field else "settings")
