"""The Impasto wire protocol: message encoding and validation, and two clients.

Pure Python on pyzmq and msgpack, so editor plug-ins can vendor it (Python 3.10-3.13).
SPEC.md, next to this package, is the contract.
"""

from .client import Client, JobHandle
from .clip_messages import ClipRequest
from .codec import Message, decode, encode, new_id
from .constants import VERSION
from .curve import ClientKeys
from .endpoint import default_endpoint
from .errors import ConnectionLost, ImpastoError, JobCancelled, ProtocolError, RemoteError
from .messages import (
    Cancelled,
    ClipDone,
    EstimateRequest,
    FrameDone,
    JobEvent,
    Preview,
    Progress,
    Result,
    Submit,
    job_event,
)
from .nonblocking import NonBlockingClient, State
from .pixels import Pixels

__all__ = [
    "VERSION",
    "Cancelled",
    "Client",
    "ClientKeys",
    "ClipDone",
    "ClipRequest",
    "ConnectionLost",
    "EstimateRequest",
    "FrameDone",
    "ImpastoError",
    "JobCancelled",
    "JobEvent",
    "JobHandle",
    "Message",
    "NonBlockingClient",
    "Pixels",
    "Preview",
    "Progress",
    "ProtocolError",
    "RemoteError",
    "Result",
    "State",
    "Submit",
    "decode",
    "default_endpoint",
    "encode",
    "job_event",
    "new_id",
]
