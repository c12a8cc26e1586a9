"""The daemon's server: ZeroMQ, jobs, peers. It knows the protocol, not the engine."""

from .backend import Backend, FieldError, JobInput, JobOutput, JobStopped, OutOfMemory
from .binding import AlreadyRunning
from .config import ServerConfig
from .server import Server

__all__ = [
    "AlreadyRunning",
    "Backend",
    "FieldError",
    "JobInput",
    "JobOutput",
    "JobStopped",
    "OutOfMemory",
    "Server",
    "ServerConfig",
]
