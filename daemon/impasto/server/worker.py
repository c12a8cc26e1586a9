"""An engine's thread, one per device. The socket loop hands each one job at a time and hears
back through a queue plus a wake-up socket, so the loop never waits on an engine (and an engine
never touches a socket that another thread uses)."""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import zmq

from impasto_protocol.clip_messages import ClipRequest
from impasto_protocol.messages import Submit, Train

from .backend import (
    Backend,
    ClipInput,
    FieldError,
    JobInput,
    JobOutput,
    JobPaused,
    JobStopped,
    OutOfMemory,
    ProgressSink,
    Samples,
    TrainInput,
)
from .imaging import result_layout, to_array, to_float, to_pixels
from .jobs import JobRecord

log = logging.getLogger(__name__)

WAKE_ENDPOINT = "inproc://impasto-worker-events"


@dataclass
class WorkerEvent:
    # loaded, load_failed, progress, preview, frame, result, stopped, paused, failed
    kind: str
    job: JobRecord | None = None
    body: dict[str, Any] = field(default_factory=dict)
    frames: list[Any] = field(default_factory=list)
    worker: int = 0  # the index of the worker that posted it
    image: Samples | None = None  # a clip's frame result, which the next frame is carried from


class Worker(threading.Thread):
    def __init__(
        self, backend: Backend, context: zmq.Context, index: int = 0, device: str = ""
    ) -> None:
        super().__init__(name=f"impasto-engine-{index}", daemon=True)
        self.backend = backend
        self.index = index
        self.device = device  # as the daemon was told (status shows it beside the job)
        self.events: queue.SimpleQueue[WorkerEvent] = queue.SimpleQueue()
        self._jobs: queue.SimpleQueue[tuple[JobRecord, Samples | None] | None] = queue.SimpleQueue()
        self._context = context
        self._wake: zmq.Socket | None = None

    def start_job(self, job: JobRecord, init: Samples | None) -> None:
        self._jobs.put((job, init))

    def stop(self) -> None:
        self._jobs.put(None)

    def run(self) -> None:
        self._wake = self._context.socket(zmq.PUSH)
        self._wake.connect(WAKE_ENDPOINT)
        try:
            try:
                self.backend.load()
            except Exception as e:
                log.error("the engine failed to load: %s", e)
                self._post(WorkerEvent("load_failed", body={"message": str(e)}))
                return
            self._post(WorkerEvent("loaded"))
            while (item := self._jobs.get()) is not None:
                self._run_job(*item)
        finally:
            self._wake.close(linger=0)

    def _post(self, event: WorkerEvent) -> None:
        event.worker = self.index
        self.events.put(event)
        assert self._wake is not None
        try:
            self._wake.send(b"", zmq.NOBLOCK)
        except zmq.Again:
            pass  # a thousand wake-ups are pending already; the loop will find this event too

    def _run_job(self, job: JobRecord, init: Samples | None) -> None:
        """Run a stylization or a training and post its outcome: exactly one final event."""
        if isinstance(job.submit, Train):
            layout, dtype = "RGB", "u8"  # a training's pictures are its validation picture
        elif isinstance(job.submit, ClipRequest):
            layout, dtype = job.submit.result_layout or "RGB", "u8"
        else:
            s = job.submit
            assert s.content is not None  # (inputs_from was resolved when the job was queued)
            layout, dtype = result_layout(s.result_layout, s.content), s.result_dtype

        def progress(fields: dict[str, Any], preview: Samples | None) -> None:
            if preview is None:
                self._post(WorkerEvent("progress", job, fields))
                return
            pixels = to_pixels(preview, layout, "u8")  # for display: 8 bits are enough
            body = {**fields, "image": pixels.descriptor(0)}
            self._post(WorkerEvent("preview", job, body, [pixels.data]))

        try:
            if isinstance(job.submit, Train):
                out = self._train(job, job.submit, progress)
            elif isinstance(job.submit, ClipRequest):
                out = self._clip(job, layout, progress)
                self._post(WorkerEvent("result", job, out.info))  # (its frames came before)
                return
            else:
                out = self._stylize(job, init, progress)
                job.keep_image(out.image)
            pixels = to_pixels(out.image, layout, dtype)
            body = {**out.info, "image": pixels.descriptor(0)}
            self._post(WorkerEvent("result", job, body, [pixels.data]))
        except JobStopped as e:
            job.keep_image(e.partial)
            self._post(WorkerEvent("stopped", job, dict(e.info)))
        except JobPaused as e:
            paused: dict[str, Any] = {"elapsed": e.elapsed}
            if job.training:  # (a clip goes on from the frames it sent)
                paused["checkpoint"] = e.step
            self._post(WorkerEvent("paused", job, paused))
        except FieldError as e:
            self._post(
                WorkerEvent("failed", job, {"code": e.code, "message": e.message, "field": e.field})
            )
        except OutOfMemory as e:
            self._post(WorkerEvent("failed", job, {"code": "out_of_memory", "message": str(e)}))
        except Exception as e:
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self._post(
                WorkerEvent(
                    "failed", job, {"code": "engine_error", "message": f"{type(e).__name__}: {e}"}
                )
            )

    def _stylize(self, job: JobRecord, init: Samples | None, progress: ProgressSink) -> JobOutput:
        s = job.submit
        assert isinstance(s, Submit) and s.content is not None
        inputs = JobInput(
            content=to_array(s.content),
            styles=[to_array(p) for p in s.styles],
            settings=job.settings,
            mask=None if s.mask is None else to_array(s.mask),
            init=init if s.init_image is None else to_array(s.init_image),
            result_dtype=s.result_dtype,
            progress_every=s.progress_every,
            preview_every=s.preview_every,
            preview_size=s.preview_size,
            time_budget=s.time_budget,
            cancel=job.cancel,
        )
        return self.backend.run(inputs, progress)

    def _clip(self, job: JobRecord, layout: str, progress: ProgressSink) -> JobOutput:
        """The clip's frames from the first not done yet; each frame's result is posted as a
        `frame` event, with the picture the next run goes on from if the clip makes way."""
        clip = job.clip
        assert clip is not None and isinstance(job.submit, ClipRequest)
        request, received, start = job.submit, clip.received, clip.done
        previous = None
        if start > 0 and clip.last_output is not None:
            previous = to_array(received[start - 1]), clip.last_output
        elif request.after is not None:
            previous = to_array(request.after[0]), to_float(request.after[1])

        def frame_done(index: int, image: Samples) -> None:
            pixels = to_pixels(image, layout, "u8")
            body = {"index": index, "image": pixels.descriptor(0)}
            self._post(WorkerEvent("frame", job, body, [pixels.data], image=image))

        inputs = ClipInput(
            frame=lambda i: to_array(received[i]),
            count=request.frames,
            styles=[to_array(p) for p in request.styles],
            settings=job.settings,
            temporal=clip.temporal,
            mask=None if request.mask is None else to_array(request.mask),
            start=start,
            previous=previous,
            progress_every=request.progress_every,
            preview_every=request.preview_every,
            preview_size=request.preview_size,
            elapsed_before=job.ran_seconds,
            cancel=job.cancel,
            pause=job.pause,
        )
        return self.backend.run_clip(inputs, progress, frame_done)

    def _train(self, job: JobRecord, t: Train, progress: ProgressSink) -> JobOutput:
        inputs = TrainInput(
            style=to_array(t.style),
            photos=[to_array(p) for p in t.photos],
            only_photos=t.only_photos,
            validation=None if t.validation is None else to_array(t.validation),
            settings=job.settings,
            name=t.name,
            overwrite=t.overwrite,
            restart=t.restart and job.runs == 1,
            progress_every=t.progress_every,
            preview_every=t.preview_every,
            preview_size=t.preview_size,
            elapsed_before=job.ran_seconds,
            cancel=job.cancel,
            pause=job.pause,
        )
        return self.backend.train(inputs, progress)
