"""The envelope: a multipart ZeroMQ message is one msgpack header map, then raw frames.

    header = {"v": [1, 0], "type": "submit", "id": "c1-7", "ref": None, "job": None,
              "body": {...}}

`decode` never trusts its input: sizes are bounded before unpacking, strings must be UTF-8, and
every failure is a ProtocolError with a code from SPEC.md, never another exception.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import msgpack

from .constants import (
    E_INVALID_FIELD,
    E_MISSING_FIELD,
    E_VERSION,
    MAX_FRAMES,
    MAX_HEADER_BYTES,
    MAX_ID_LENGTH,
    VERSION,
)
from .errors import ProtocolError, malformed
from .pixels import Buffer


@dataclass
class Message:
    type: str
    id: str
    body: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None  # the id of the request this message answers
    job: str | None = None  # the job it is about
    frames: list[Buffer] = field(default_factory=list)
    version: tuple[int, int] = VERSION


_counter = itertools.count(1)
_prefix = os.urandom(4).hex()


def new_id() -> str:
    """Unique within this process and, with overwhelming probability, among peers."""
    return f"{_prefix}-{next(_counter)}"


def encode(msg: Message) -> list[Buffer]:
    header = {
        "v": list(msg.version),
        "type": msg.type,
        "id": msg.id,
        "ref": msg.ref,
        "job": msg.job,
        "body": msg.body,
    }
    return [msgpack.packb(header, use_bin_type=True), *msg.frames]


def _unpack(data: Buffer) -> Any:
    # Limits bound what a hostile header can make us allocate; the header is at most 64 KiB, so
    # no container can legitimately hold more entries than that.
    n = len(data)
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=True,
        max_str_len=n,
        max_bin_len=n,
        max_array_len=n,
        max_map_len=n,
        max_ext_len=0,
    )


def decode(parts: Sequence[Buffer]) -> Message:
    """Parse a received multipart message (header first, then its frames)."""
    if not parts:
        raise malformed("empty message")
    if len(parts) > MAX_FRAMES + 1:
        raise malformed(f"{len(parts) - 1} frames; at most {MAX_FRAMES} are allowed")
    raw = parts[0]
    if len(raw) > MAX_HEADER_BYTES:
        raise malformed(f"header of {len(raw)} bytes; at most {MAX_HEADER_BYTES} are allowed")
    try:
        header = _unpack(raw)
    except Exception as e:  # msgpack raises several types for bad input, and RecursionError
        raise malformed(f"the header is not valid msgpack ({type(e).__name__})") from None
    if not isinstance(header, dict):
        raise malformed("the header is not a msgpack map")
    version = header.get("v")
    if not is_version(version):
        raise ProtocolError(E_MISSING_FIELD, "the header needs 'v': [major, minor]", "v")
    if version[0] != VERSION[0]:
        raise ProtocolError(
            E_VERSION,
            f"protocol {version[0]}.{version[1]} is not supported; "
            f"this peer speaks {VERSION[0]}.{VERSION[1]}",
            "v",
        )
    mtype = header.get("type")
    if mtype is None:
        raise ProtocolError(E_MISSING_FIELD, "the header needs a 'type' string", "type")
    if not isinstance(mtype, str) or not mtype:
        raise ProtocolError(E_INVALID_FIELD, "must be a non-empty string", "type")
    mid = _id(header, "id", required=True)
    body = header.get("body", {})
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ProtocolError(E_INVALID_FIELD, "the body must be a map", "body")
    return Message(
        type=mtype,
        id=mid,  # type: ignore[arg-type]
        body=body,
        ref=_id(header, "ref"),
        job=_id(header, "job"),
        frames=list(parts[1:]),
        version=(version[0], version[1]),
    )


def is_version(value: Any) -> TypeGuard[list[int]]:
    """Whether `value` is a protocol version as messages carry it: [major, minor], two ints."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in value)
    )


def _id(header: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = header.get(key)
    if value is None:
        if required:
            raise ProtocolError(E_MISSING_FIELD, f"the header needs an {key!r} string", key)
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise ProtocolError(
            E_INVALID_FIELD, f"must be a string of 1..{MAX_ID_LENGTH} characters", key
        )
    return value


def header_id(raw: Buffer) -> str | None:
    """The id of a message that failed to decode, if it can be read, so the error reply can
    point at it. Never raises."""
    return _header_text(raw, "id")


def header_type(raw: Buffer) -> str | None:
    """The type of a message that failed to decode, if it can be read: a broken notice is
    dropped, not answered. Never raises."""
    return _header_text(raw, "type")


def _header_text(raw: Buffer, key: str) -> str | None:
    try:
        header = _unpack(raw) if len(raw) <= MAX_HEADER_BYTES else None
        value = header.get(key) if isinstance(header, dict) else None
        return value if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH else None
    except Exception:
        return None
