"""Protocol constants: the version, the message types, the error codes and the default timings.

SPEC.md is the contract; a test checks that every type and code named here is described there and
exercised by the test suite.
"""

from __future__ import annotations

# (major, minor). A peer refuses a different major version; minor versions only add optional
# fields and message types, which older peers ignore or answer with `unknown_type`.
VERSION: tuple[int, int] = (1, 8)

# Requests, client -> daemon. Each gets exactly one terminal answer (its reply, or `error`).
HELLO = "hello"
SUBMIT = "submit"
WATCH = "watch"
CANCEL = "cancel"
STATUS = "status"
PING = "ping"
SHUTDOWN = "shutdown"
PRESETS = "presets"  # 1.1: the built-in styles' swatches
ESTIMATE = "estimate"  # 1.4: a job's output size, time and memory, before it is sent
TRAIN = "train"  # 1.6: a training job, which turns a style image into a trained style
CLIP = "clip"  # 1.7: a clip job, whose frames follow in `frames` requests
FRAMES = "frames"  # 1.7: a batch of a clip's frames, in order
REQUESTS = (
    HELLO, SUBMIT, WATCH, CANCEL, STATUS, PING, SHUTDOWN, PRESETS, ESTIMATE, TRAIN, CLIP, FRAMES,
)  # fmt: skip

# Notices, client -> daemon: one-way, never answered.
HEARTBEAT = "heartbeat"
ACK = "ack"  # "I have consumed the preview of job J": the daemon may send the next one
NOTICES = (HEARTBEAT, ACK)

# Replies, daemon -> client (the `ref` field names the request).
HELLO_REPLY = "hello_reply"
CANCEL_REPLY = "cancel_reply"
STATUS_REPLY = "status_reply"
PING_REPLY = "ping_reply"
SHUTDOWN_REPLY = "shutdown_reply"
PRESETS_REPLY = "presets_reply"
ESTIMATE_REPLY = "estimate_reply"
FRAMES_REPLY = "frames_reply"  # 1.7
ACCEPTED = "accepted"  # the reply to submit and watch
ERROR = "error"
REPLIES = (
    HELLO_REPLY,
    CANCEL_REPLY,
    STATUS_REPLY,
    PING_REPLY,
    SHUTDOWN_REPLY,
    PRESETS_REPLY,
    ESTIMATE_REPLY,
    FRAMES_REPLY,
    ACCEPTED,
    ERROR,
)

# Job events, daemon -> the job's watchers. A job ends with exactly one of result, error, cancelled.
PROGRESS = "progress"
PREVIEW = "preview"
RESULT = "result"
CANCELLED = "cancelled"
FRAME = "frame"  # 1.7: one stylized frame of a clip job, never dropped
EVENTS = (PROGRESS, PREVIEW, RESULT, CANCELLED, FRAME)  # and ERROR, shared with the replies

# Job states, as `status` reports them.
RECEIVING = "receiving"  # 1.7: a clip whose frames are still arriving
QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED_STATE = "cancelled"
JOB_STATES = (RECEIVING, QUEUED, RUNNING, DONE, FAILED, CANCELLED_STATE)

# Why a job was cancelled.
BY_CLIENT = "client"  # a cancel request
REPLACED = "replaced"  # a submit with `replace` superseded it
CLIENT_GONE = "client_gone"  # its client stopped sending heartbeats
DAEMON_SHUTDOWN = "shutdown"
CANCEL_REASONS = (BY_CLIENT, REPLACED, CLIENT_GONE, DAEMON_SHUTDOWN)

# Error codes: stable strings a program can branch on. `message` is for people.
E_MALFORMED = "malformed"  # not a message: not msgpack, not a map, frames that do not add up
E_VERSION = "version_mismatch"  # a different major protocol version
E_UNKNOWN_TYPE = "unknown_type"
E_MISSING_FIELD = "missing_field"
E_INVALID_FIELD = "invalid_field"  # wrong type, out of range, unknown choice
E_TOO_LARGE = "too_large"  # over a limit: pixels, styles, iterations, bytes, queue length
E_UNKNOWN_JOB = "unknown_job"
E_NOT_ALLOWED = "not_allowed"  # shutdown from a remote client; replacing another client's job
E_BUSY = "busy"  # the queue is full
E_OUT_OF_MEMORY = "out_of_memory"  # the device ran out of memory during the job
E_ENGINE = "engine_error"  # the job failed in the engine
E_SHUTTING_DOWN = "shutting_down"
E_INTERNAL = "internal"  # a bug in the daemon; the daemon keeps serving
ERROR_CODES = (
    E_MALFORMED,
    E_VERSION,
    E_UNKNOWN_TYPE,
    E_MISSING_FIELD,
    E_INVALID_FIELD,
    E_TOO_LARGE,
    E_UNKNOWN_JOB,
    E_NOT_ALLOWED,
    E_BUSY,
    E_OUT_OF_MEMORY,
    E_ENGINE,
    E_SHUTTING_DOWN,
    E_INTERNAL,
)

# Timings, in seconds. The daemon announces its own in hello_reply; clients use those.
HEARTBEAT_INTERVAL = 1.0
HEARTBEAT_TIMEOUT = 10.0  # silence after which a peer is taken for gone

# Wire limits that do not depend on the daemon's configuration.
MAX_HEADER_BYTES = 64 * 1024
MAX_FRAMES = 32
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 1024
