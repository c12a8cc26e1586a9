"""The daemon's answers to `clip` and `frames` (SPEC.md, protocol 1.7).

A `clip` request makes the job, in state `receiving`, after the same checks a submit gets (the
styles, the settings against the frames' size) and the clip's own: its frame count, the size of
its frames and the memory its frames will take beside the other unfinished clips'. Its frames
then arrive in order in `frames` requests; the last one queues the job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from impasto_protocol import constants as C
from impasto_protocol.clip_messages import ClipRequest, FramesBatch
from impasto_protocol.codec import Message
from impasto_protocol.errors import ProtocolError
from impasto_protocol.limits import Limits

from .backend import FieldError, SettingsRequest
from .clip_state import ClipState
from .jobs import JobState
from .peers import Peer
from .refusals import check_input_size, refusal

if TYPE_CHECKING:
    from .requests import Requests

log = logging.getLogger(__name__)


class ClipRequests:
    def __init__(self, requests: Requests) -> None:
        self.requests = requests

    def clip(self, peer: Peer, msg: Message) -> None:
        r = self.requests
        if r.server.stopping:
            raise ProtocolError(C.E_SHUTTING_DOWN, "the daemon is shutting down")
        backend = r.server.backend
        if not backend.clips:
            raise ProtocolError(C.E_UNKNOWN_TYPE, "this daemon runs no clip jobs", "type")
        request = ClipRequest.from_message(msg)
        limits = r.server.config.limits
        _check_clip(request, limits)
        self._check_memory(request, limits)
        asked = SettingsRequest(
            settings=dict(request.settings),
            content_size=(request.width, request.height),
            warm_start=False,
            n_styles=len(request.styles),
            limits=limits,
        )
        try:
            checked = backend.check_settings(asked)
        except FieldError as e:
            raise refusal(e) from None
        r.check_room(peer, None)
        temporal = request.temporal
        if temporal is None:
            temporal = float(backend.describe()["clip_defaults"]["temporal"])
        job = r.new_job(
            peer,
            msg,
            request,
            checked,
            state=JobState.RECEIVING,
            total=request.frames,
            clip=ClipState(request, temporal),
        )
        log.info(
            "job %s from %s: a clip of %d frames, %dx%d",
            job.id, peer.name, request.frames, request.width, request.height,
        )  # fmt: skip
        r.book.add(job, None)
        r.reply(peer, msg, C.ACCEPTED, {"state": job.state.value, "position": 0}, job=job.id)

    def frames(self, peer: Peer, msg: Message) -> None:
        r = self.requests
        job = r.job(peer, msg)
        clip = job.clip
        if clip is None:
            raise ProtocolError(C.E_INVALID_FIELD, f"job {job.id} is a {job.kind} job", "job")
        if job.state is not JobState.RECEIVING:
            raise ProtocolError(
                C.E_INVALID_FIELD,
                f"job {job.id} takes no more frames: it is {job.state.value}",
                "job",
            )
        batch = FramesBatch.from_message(msg, job.id)
        _check_batch(batch, clip)
        clip.received.extend(batch.images)
        if clip.complete:
            r.book.frames_complete(job)
        body = {
            "received": len(clip.received),
            "state": job.state.value,
            "position": r.book.position(job),
        }
        r.reply(peer, msg, C.FRAMES_REPLY, body, job=job.id)
        r.book.start_next()

    def _check_memory(self, request: ClipRequest, limits: Limits) -> None:
        """The frames of the unfinished clips, this one's included, within max_clip_bytes."""
        need = request.frames * request.frame_bytes
        if need > limits.max_clip_bytes:
            raise ProtocolError(
                C.E_TOO_LARGE,
                f"{request.frames} frames of {request.frame_bytes} bytes are over the daemon's "
                f"limit of {limits.max_clip_bytes} bytes for clips",
                "frames",
            )
        held = sum(
            j.clip.reserved_bytes()
            for j in self.requests.book.jobs.values()
            if j.clip is not None and not j.state.finished
        )
        if held + need > limits.max_clip_bytes:
            raise ProtocolError(
                C.E_BUSY,
                f"the daemon holds {held} bytes of other clips' frames; this one needs {need} "
                f"more, over its limit of {limits.max_clip_bytes}",
                "frames",
            )


def _check_clip(request: ClipRequest, limits: Limits) -> None:
    """The clip's own limits: frames, their size, the style images and `after`'s."""
    if request.frames > limits.max_clip_frames:
        raise ProtocolError(
            C.E_TOO_LARGE,
            f"{request.frames} frames; the daemon takes at most {limits.max_clip_frames}",
            "frames",
        )
    check_input_size("width", request.width, request.height, limits.max_input_pixels)
    if len(request.styles) > limits.max_styles:
        raise ProtocolError(C.E_TOO_LARGE, f"at most {limits.max_styles} styles", "styles")
    images = [(f"styles[{i}]", s) for i, s in enumerate(request.styles)]
    if request.after is not None:
        images.append(("after.output", request.after[1]))
    for name, p in images:
        check_input_size(name, p.width, p.height, limits.max_input_pixels)


def _check_batch(batch: FramesBatch, clip: ClipState) -> None:
    """The next frames in order, each as the clip request said, none beyond its count."""
    expected = len(clip.received)
    if batch.first != expected:
        raise ProtocolError(
            C.E_INVALID_FIELD, f"frame {expected} comes next, not {batch.first}", "first"
        )
    end = batch.first + len(batch.images)
    if end > clip.request.frames:
        raise ProtocolError(
            C.E_TOO_LARGE,
            f"the clip has {clip.request.frames} frames; this batch ends at frame {end - 1}",
            "images",
        )
    for i, p in enumerate(batch.images):
        problem = clip.request.frame_problem(p)
        if problem is not None:
            raise ProtocolError(C.E_INVALID_FIELD, problem, f"images[{i}]")
