"""Jobs on a Ray cluster: the daemon stays the one endpoint, each engine is a Ray actor.

A studio with several GPU machines points the daemon at its Ray cluster (`impasto daemon --ray
ADDRESS`); editors and scripts keep talking to the daemon alone. Each `RayBackend` is one of
the daemon's engines (server.Server runs one worker thread per engine, as for local devices),
and owns one actor: a process on some node of the cluster holding a warm `StylizerBackend`
(VGG19, the fast networks, the style cache), with a GPU of its own when it asks for one.

Why an actor and not a task per job: the model and the style cache stay warm between jobs,
which is what makes repeated edits fast. The actor runs its methods on a few threads, so while
`run` computes, `drain` hands over the progress and previews gathered so far (the backend polls
it every POLL seconds) and `cancel` sets the job's cancel event, which the engine checks every
iteration. When the actor's process or node is lost, the job fails with a message that says so,
and the next job starts a new actor (on whichever node Ray chooses).

The settings are checked on the daemon, against the same rules as a local engine; a job too
large for the actor's memory budget is refused when it starts on the actor (`too_large`), since
the daemon cannot see the actor's free memory.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import uuid
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError

from ..server.backend import (
    ClipInput,
    FieldError,
    FrameSink,
    JobInput,
    JobOutput,
    JobStopped,
    OutOfMemory,
    ProgressSink,
    Samples,
    SettingsRequest,
    TrainingRequest,
    TrainInput,
)
from .local import StylizerBackend

log = logging.getLogger(__name__)

POLL = 0.05  # seconds between looks at a running job's progress
MAX_THREADS = 4  # the actor's: one runs the job, the others answer drain and cancel
LOAD_ATTEMPTS = 3  # actors started for one engine before the daemon gives up on it


class Engine:
    """The actor: one warm engine on one node (made with ray.remote in RayBackend)."""

    def __init__(self, engine_args: tuple[Any, ...]) -> None:
        self.backend = StylizerBackend(*engine_args)
        self._lock = threading.Lock()
        self._events: list[tuple[dict[str, Any], Samples | None]] = []
        self._cancels: dict[str, threading.Event] = {}

    def load(self) -> dict[str, Any]:
        self.backend.load()
        return {
            "describe": self.backend.describe(),
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
        }

    def run(self, job_id: str, fields: dict[str, Any]) -> tuple[Any, ...]:
        """Runs the job; the outcome as a tuple (exceptions of our own do not cross Ray
        intact: their constructors differ from what Ray's wrapper expects)."""
        with self._lock:
            cancel = self._cancels.setdefault(job_id, threading.Event())
        try:
            out = self.backend.run(JobInput(**fields, cancel=cancel), self._progress)
            return ("result", out.image, out.info)
        except JobStopped as e:
            return ("stopped", e.partial)
        except FieldError as e:
            return ("field", e.field, e.message, e.code)
        except OutOfMemory as e:
            return ("out_of_memory", str(e))
        finally:
            with self._lock:
                self._cancels.pop(job_id, None)

    def _progress(self, fields: dict[str, Any], preview: Samples | None) -> None:
        with self._lock:
            if preview is not None:
                # Latest wins, as in the daemon: an undelivered preview is replaced.
                self._events = [e for e in self._events if e[1] is None]
            self._events.append((fields, preview))

    def drain(self) -> list[tuple[dict[str, Any], Samples | None]]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def cancel(self, job_id: str) -> None:
        # (A cancel may arrive before run has started on its thread: the event waits for it.)
        with self._lock:
            self._cancels.setdefault(job_id, threading.Event()).set()

    def stats(self) -> dict[str, Any]:
        return self.backend.stats()


class RayBackend:
    """One engine of the daemon, computed by an actor on the cluster."""

    trains = False  # trainings are not placed on the cluster: `train` is `unknown_type`
    clips = False  # nor clips: `clip` is `unknown_type`

    def __init__(
        self, device: str, engine_args: tuple[Any, ...], gpus: float = 0.0, cpus: float = 1.0
    ) -> None:
        # For the daemon's own answers (hello, the settings check) without a model here.
        self.local = StylizerBackend(*engine_args)
        self.device = device
        self._engine_args = engine_args
        self._options = {"num_gpus": gpus, "num_cpus": cpus, "max_concurrency": MAX_THREADS}
        self._actor: Any = None
        self._described: dict[str, Any] | None = None
        self._stats: dict[str, Any] = {}
        self.node: str | None = None

    def load(self) -> None:
        # A node lost while the model loads is no reason to stop the daemon: Ray places the
        # next actor elsewhere. A load that fails for another reason fails every time.
        for attempt in range(LOAD_ATTEMPTS):
            try:
                self._start()
                return
            except RayActorError as e:
                if attempt == LOAD_ATTEMPTS - 1:
                    raise
                log.warning("an engine's actor died while loading (%s); again", _first_line(e))

    def _start(self) -> None:
        actor_class = ray.remote(Engine).options(**self._options)
        self._actor = actor_class.remote(self._engine_args)
        info = ray.get(self._actor.load.remote())
        self._described = info["describe"]
        self.node = info["node"]
        log.info("engine on ray node %s (pid %s): %s", self.node, info["pid"], self.device)

    def describe(self) -> dict[str, Any]:
        described = dict(self._described or self.local.describe())
        described.pop("train_defaults", None)  # trainings are not placed on the cluster
        described.pop("clip_defaults", None)  # nor clips
        return described

    def stats(self) -> dict[str, Any]:
        return self._stats  # as of the last job's end: the socket loop never waits on Ray

    def swatches(self) -> list[Samples]:
        return []  # rendered on the actor's node; not sent back to the daemon

    def trained_styles(self) -> list[tuple[dict[str, Any], Samples]]:
        return []  # not listed: trainings are not placed on the cluster

    def check_training(self, request: TrainingRequest) -> Any:
        raise NotImplementedError("trainings are not placed on the cluster")

    def train(self, job: TrainInput, progress: ProgressSink) -> JobOutput:
        raise NotImplementedError("trainings are not placed on the cluster")

    def run_clip(self, job: ClipInput, progress: ProgressSink, frame_done: FrameSink) -> JobOutput:
        raise NotImplementedError("clips are not placed on the cluster")

    def check_settings(self, request: SettingsRequest) -> Any:
        return self.local.check_settings(request)

    def estimate(self, request: SettingsRequest) -> dict[str, Any]:
        # The checks and the output size; the seconds and memory are the actors' to know,
        # and the socket loop does not wait on them.
        return self.local.estimate(request)

    def run(self, job: JobInput, progress: ProgressSink) -> JobOutput:
        if self._actor is not None:
            try:  # an idle actor may have been lost since its last job (its node went away)
                ray.get(self._actor.stats.remote(), timeout=30)
            except RayError:
                log.info("engine on ray node %s was lost while idle; starting another", self.node)
                self._actor = None
        if self._actor is None:
            self._start()
        job_id = uuid.uuid4().hex
        fields = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}
        del fields["cancel"]  # an Event does not travel; the actor makes its own
        actor = self._actor
        try:
            ref = actor.run.remote(job_id, fields)
            cancelled = False
            while True:
                done, _ = ray.wait([ref], timeout=POLL)
                for fields_, preview in ray.get(actor.drain.remote()):
                    progress(fields_, preview)
                if job.cancel.is_set() and not cancelled:
                    actor.cancel.remote(job_id)
                    cancelled = True
                if done:
                    break
            outcome = ray.get(ref)
            for fields_, preview in ray.get(actor.drain.remote()):
                progress(fields_, preview)
            self._stats = ray.get(actor.stats.remote())
        except RayActorError as e:
            self._actor = None
            raise EngineLost(
                f"the cluster lost this job's engine (node {(self.node or '?')[:12]}):"
                f" {_first_line(e)}; the next job starts a new one"
            ) from None
        except RayError as e:
            raise EngineLost(f"the cluster failed this job: {_first_line(e)}") from None
        kind = outcome[0]
        if kind == "result":
            return JobOutput(outcome[1], outcome[2])
        if kind == "stopped":
            raise JobStopped(outcome[1])
        if kind == "field":
            raise FieldError(outcome[1], outcome[2], outcome[3])
        raise OutOfMemory(outcome[1])


class EngineLost(RuntimeError):
    """A job's actor or node went away (the job fails; the daemon goes on)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0].rstrip(".") if text else type(e).__name__


def cluster_devices(requested: list[str] | None) -> list[tuple[str, float]]:
    """(device, GPUs) per engine: as asked (--devices), or one per GPU of the cluster, or one
    CPU engine on a cluster without GPUs."""
    if requested is None:
        gpus = int(ray.cluster_resources().get("GPU", 0))
        return [("cuda", 1.0)] * gpus if gpus else [("cpu", 0.0)]
    # Ray gives each actor its own GPUs (CUDA_VISIBLE_DEVICES), so a GPU engine is "cuda".
    return [("cpu", 0.0) if d == "cpu" else ("cuda", 1.0) for d in requested]
