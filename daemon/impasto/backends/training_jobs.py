"""Training as a daemon job (SPEC.md, `train`): a train request's wire terms turned into the
engine's Trainer (engine/training.py), its progress back into `progress` fields, and the trained
style written to the daemon's library (style_library.py), where the next `presets` reply lists
it.

A training runs on an engine's worker thread like a stylization, for minutes or hours. It
stops at the next step when cancelled or asked to make way for a stylization (`pause`), and
either way saves a checkpoint beside the style's file first (NAME.style.checkpoint, as
`impasto train` does), so that a later run, this job's own after a pause or a new train
request of the same name, resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..engine import Cancelled, CancelToken, Stylizer
from ..engine.fast import FastModelError
from ..engine.images import Picture, fit_size, resize, to_tensor
from ..engine.train_settings import MIN_CROP, Kind, TrainSettings, TrainSettingsError
from ..engine.trained import SUFFIX, StyleFileError
from ..engine.training import (
    Trainer,
    TrainingPhotos,
    TrainProgress,
    TrainReporting,
    load_photos,
    photo_files,
)
from ..server.backend import (
    FieldError,
    JobOutput,
    JobPaused,
    JobStopped,
    ProgressSink,
    TrainingRequest,
    TrainInput,
)
from .style_library import Library

log = logging.getLogger(__name__)

# The request's own `preview_every` says when previews come; every other TrainSettings field
# is a setting a train request may carry.
SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(TrainSettings)) - {"preview_every"}
VALIDATION_SIDE = 512  # px: a validation picture sent is painted at most this large


def train_defaults() -> dict[str, Any]:
    """`hello_reply.train_defaults`: every training setting's default."""
    d = TrainSettings().as_dict()
    return {k: v for k, v in d.items() if k in SETTING_NAMES}


def check_training(
    request: TrainingRequest, engine: Stylizer | None, library: Library
) -> TrainSettings:
    """The request's training settings, checked within the daemon's limits. FieldError's
    field is the wire path (`settings.steps`, `name`, `style`)."""
    given = dict(request.settings)
    unknown = sorted(set(given) - SETTING_NAMES)
    if unknown:
        raise FieldError(
            f"settings.{unknown[0]}",
            "unknown training setting (hello_reply's `train_defaults` lists them)",
        )
    defaults = TrainSettings()
    for name, value in given.items():
        default = getattr(defaults, name)
        if isinstance(default, Kind):
            if value not in {k.value for k in Kind}:
                raise FieldError(f"settings.{name}", f"{value!r} is not one of fast, scratch")
            given[name] = Kind(value)
        elif isinstance(value, bool) or not isinstance(value, type(default) | int):
            wanted = "a whole number" if isinstance(default, int) else "a number"
            raise FieldError(f"settings.{name}", f"{value!r} is not {wanted}")
    try:
        settings = TrainSettings(**given, preview_every=0).validate()
    except TrainSettingsError as e:
        raise FieldError(f"settings.{e.field}" if e.field else "settings", str(e)) from None
    limits = request.limits
    if settings.steps > limits.max_iterations:
        most = limits.max_iterations
        raise FieldError("settings.steps", f"{settings.steps} steps; at most {most}", "too_large")
    if settings.size * settings.size * settings.batch > limits.max_output_pixels:
        raise FieldError(
            "settings.size",
            f"{settings.batch} crops of {settings.size} px a step are over the daemon's limit of"
            f" {limits.max_output_pixels} output pixels",
            "too_large",
        )
    w, h = request.style_size
    if min(w, h) < MIN_CROP:
        raise FieldError("style", f"the style image is {w}x{h}; it needs {MIN_CROP} px a side")
    if settings.start is Kind.FAST and engine is not None:
        try:
            engine.instant.check()
        except FastModelError as e:
            raise FieldError("settings.start", f"{e}; train with start 'scratch'") from None
    if not request.overwrite and _style_file(library, request.name).exists():
        raise FieldError(
            "name", f"a trained style named {request.name!r} exists; send overwrite to replace it"
        )
    return settings


class DefaultPhotos:
    """The daemon's training photos (engine/training.py's defaults), read once, when the first
    training needs them."""

    def __init__(self) -> None:
        self._photos: TrainingPhotos | None = None
        self._lock = threading.Lock()

    def get(self) -> TrainingPhotos:
        with self._lock:
            if self._photos is None:
                self._photos = load_photos(photo_files())
            return self._photos


class _StopToken(CancelToken):
    """Cancelled or paused: either way the trainer saves its checkpoint and stops."""

    def __init__(self, cancel: threading.Event, pause: threading.Event) -> None:
        super().__init__(cancel)
        self._pause = pause

    @property
    def cancelled(self) -> bool:
        return super().cancelled or self._pause.is_set()


def run_training(
    job: TrainInput,
    progress: ProgressSink,
    engine: Stylizer,
    library: Library,
    defaults: DefaultPhotos,
) -> JobOutput:
    settings: TrainSettings = dataclasses.replace(job.settings, preview_every=job.preview_every)
    trainer = _trainer(job, settings, engine, defaults)
    path = _style_file(library, job.name)
    checkpoint = path.with_name(path.name + ".checkpoint")
    resumed_from = _resume(trainer, job, checkpoint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FieldError("name", f"cannot make the library folder {path.parent}: {e}") from None
    began = time.perf_counter()
    reporting = TrainReporting(
        _on_progress(job, progress),
        job.progress_every,
        _StopToken(job.cancel, job.pause),
        checkpoint,
    )
    try:
        style = trainer.run(reporting)
    except Cancelled:
        if job.cancel.is_set():
            raise JobStopped(None, {"checkpoint": trainer.step}) from None
        raise JobPaused(trainer.step, job.elapsed_before + time.perf_counter() - began) from None
    if not job.overwrite and path.exists():  # written by someone else since it was queued
        raise FieldError(
            "name", f"a trained style named {job.name!r} exists; send overwrite to replace it"
        )
    style.save(path)
    checkpoint.unlink(missing_ok=True)
    log.info("trained style %r written to %s", job.name, path)
    info = {
        "name": job.name,
        "kind": style.kind.value,
        "steps": trainer.step,
        "resumed_from": resumed_from,
        "losses": style.losses,
        "elapsed": job.elapsed_before + time.perf_counter() - began,
        "device": engine.compute.describe(),
        "photos": len(trainer.photos.photos),
        "settings": {k: v for k, v in settings.as_dict().items() if k in SETTING_NAMES},
    }
    return JobOutput(Picture.of(trainer.picture(trainer.validation)).to_array(), info)


def _trainer(
    job: TrainInput, settings: TrainSettings, engine: Stylizer, defaults: DefaultPhotos
) -> Trainer:
    """The engine's Trainer for a job: the default photos (unless only_photos) and the job's
    own, its validation picture at most VALIDATION_SIDE px."""
    photos = defaults.get().photos if not job.only_photos else []
    mine = [to_tensor(p)[0] for p in job.photos]
    validation = None
    if job.validation is not None:
        v = to_tensor(job.validation)[0]
        h, w = v.shape[-2:]
        validation = resize(v, *fit_size(w, h, min(max(w, h), VALIDATION_SIDE)))
    try:
        return Trainer(
            engine, job.style, TrainingPhotos([*photos, *mine]), settings, job.name, validation
        )
    except TrainSettingsError as e:
        raise FieldError("style" if e.field is None else f"settings.{e.field}", str(e)) from None


def _resume(trainer: Trainer, job: TrainInput, checkpoint: Path) -> int:
    """The step the trainer resumes at from the style's checkpoint (0: none, or `restart`)."""
    if not checkpoint.exists() or job.restart:
        return 0
    try:
        resumed_from = trainer.resume(checkpoint)
    except StyleFileError as e:
        raise FieldError("restart", f"{e}; send restart to start over") from None
    log.info("training %r resumes at step %d", job.name, resumed_from)
    return resumed_from


def _on_progress(job: TrainInput, progress: ProgressSink) -> Callable[[TrainProgress], None]:
    """The trainer's progress as the `progress` message's fields, counting the seconds the
    job ran before a pause; previews at most `preview_size` px."""

    def on_progress(p: TrainProgress) -> None:
        fields = {
            "iteration": p.step,
            "total": p.steps,
            "loss": p.loss,
            "content_loss": p.content_loss,
            "style_loss": p.style_loss,
            "tv_loss": p.tv_loss,
            "elapsed": job.elapsed_before + p.elapsed,
            "remaining": p.remaining,
        }
        preview = None
        if p.preview is not None:
            preview = _fit(p.preview, job.preview_size).to_array()
        progress(fields, preview)

    return on_progress


def _style_file(library: Library, name: str) -> Path:
    return library.folder / (name + SUFFIX)


def _fit(picture: Picture, side: int) -> Picture:
    """The picture at most `side` px on its longer side (previews' `preview_size`)."""
    w, h = picture.size
    if max(w, h) <= side:
        return picture
    return Picture.of(resize(picture.rgb, *fit_size(w, h, side)))
