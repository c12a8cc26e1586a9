"""Exceptions of the protocol package. Each carries what a user needs in one line."""

from __future__ import annotations

from .constants import E_MALFORMED


class ImpastoError(Exception):
    """Base class of everything this package raises on purpose."""


class ProtocolError(ImpastoError):
    """A message broke the protocol. `code` is an error code of SPEC.md, `field` the offending
    field (dotted path into the body, e.g. "settings.size"), when there is one."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.message = message
        self.field = field


class RemoteError(ProtocolError):
    """The daemon answered with an `error`: a refused request or a failed job."""

    def __init__(
        self, code: str, message: str, field: str | None = None, job: str | None = None
    ) -> None:
        super().__init__(code, message, field)
        self.job = job

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.message} [{self.code}]"


class ConnectionLost(ImpastoError):
    """Nothing came from the daemon within the timeout: it is not running, not reachable, or
    died. The client resets its socket, so the next request can reach a restarted daemon."""


class JobCancelled(ImpastoError):
    """The job was cancelled (`reason` is one of SPEC.md's cancel reasons)."""

    def __init__(self, job: str, reason: str) -> None:
        super().__init__(f"job {job} was cancelled ({reason})")
        self.job = job
        self.reason = reason


def malformed(message: str) -> ProtocolError:
    return ProtocolError(E_MALFORMED, message)
