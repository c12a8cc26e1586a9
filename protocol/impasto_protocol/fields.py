"""Reading typed fields out of a message body, with errors that name the field."""

from __future__ import annotations

import math
from typing import Any

from .constants import E_INVALID_FIELD, E_MISSING_FIELD, MAX_ID_LENGTH, MAX_TEXT_LENGTH
from .errors import ProtocolError

_MISSING = object()


def _get(body: dict[str, Any], name: str, required: bool) -> Any:
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise ProtocolError(E_MISSING_FIELD, "this field is required", name)
        return _MISSING
    return value


def integer(
    body: dict[str, Any],
    name: str,
    default: int | None = None,
    lo: int | None = None,
    hi: int | None = None,
    required: bool = False,
) -> int | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(E_INVALID_FIELD, "expected an integer", name)
    _range(name, value, lo, hi)
    return value


def number(
    body: dict[str, Any],
    name: str,
    default: float | None = None,
    lo: float | None = None,
    hi: float | None = None,
) -> float | None:
    value = _get(body, name, False)
    if value is _MISSING:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(E_INVALID_FIELD, "expected a number", name)
    if not math.isfinite(value):
        raise ProtocolError(E_INVALID_FIELD, f"must be finite, got {value}", name)
    _range(name, value, lo, hi)
    return float(value)


def boolean(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = _get(body, name, False)
    if value is _MISSING:
        return default
    if not isinstance(value, bool):
        raise ProtocolError(E_INVALID_FIELD, "expected true or false", name)
    return value


def text(
    body: dict[str, Any],
    name: str,
    default: str | None = None,
    required: bool = False,
    max_length: int = MAX_TEXT_LENGTH,
    choices: tuple[str, ...] | None = None,
) -> str | None:
    value = _get(body, name, required)
    if value is _MISSING:
        return default
    if not isinstance(value, str):
        raise ProtocolError(E_INVALID_FIELD, "expected a string", name)
    if len(value) > max_length:
        raise ProtocolError(E_INVALID_FIELD, f"longer than {max_length} characters", name)
    if choices is not None and value not in choices:
        raise ProtocolError(
            E_INVALID_FIELD, f"invalid choice {value!r}; valid: {', '.join(choices)}", name
        )
    return value


def job_id(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = text(body, name, required=required, max_length=MAX_ID_LENGTH)
    if value == "":
        raise ProtocolError(E_INVALID_FIELD, "must not be empty", name)
    return value


def mapping(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = _get(body, name, False)
    if value is _MISSING:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(E_INVALID_FIELD, "expected a map", name)
    return value


def array(body: dict[str, Any], name: str, required: bool = False) -> list[Any]:
    value = _get(body, name, required)
    if value is _MISSING:
        return []
    if not isinstance(value, list):
        raise ProtocolError(E_INVALID_FIELD, "expected a list", name)
    return value


def _range(name: str, value: float, lo: float | None, hi: float | None) -> None:
    if lo is not None and value < lo:
        raise ProtocolError(E_INVALID_FIELD, f"must be >= {lo}, got {value}", name)
    if hi is not None and value > hi:
        raise ProtocolError(E_INVALID_FIELD, f"must be <= {hi}, got {value}", name)
