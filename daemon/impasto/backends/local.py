"""The style transfer engine behind the daemon's server: the one module that knows both.

The server speaks in wire terms (dicts of settings, arrays of samples, a threading.Event); this
adapter turns them into the engine's StyleSettings, Job and Reporting, and the engine's Progress
and StyleResult back into the fields of SPEC.md's `progress` and `result` messages.
"""

from __future__ import annotations

import dataclasses
import logging
from enum import Enum
from pathlib import Path
from typing import Any

import torch

from impasto_protocol.limits import Limits

from ..clips.sequence import DEFAULT_TEMPORAL
from ..engine import (
    LAYER_NAMES,
    Cancelled,
    CancelToken,
    ImageError,
    InitMode,
    Job,
    Precision,
    Progress,
    Reporting,
    SettingsError,
    StyleResult,
    StyleSettings,
    Stylizer,
)
from ..engine.fast import FastModelError
from ..engine.fast.styles import SWATCH_SIZE
from ..engine.images import Picture
from ..engine.settings import (
    NUM_PRESETS,
    LimitError,
    Method,
    check_method_fields,
    check_styles_given,
    wire_value,
)
from ..engine.stylizer import output_size
from ..engine.trained import StyleFileError, TrainedStyle
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
from .clip_jobs import run_clip
from .style_library import Library
from .training_jobs import DefaultPhotos, check_training, run_training, train_defaults

log = logging.getLogger(__name__)

SETTING_NAMES = frozenset(f.name for f in dataclasses.fields(StyleSettings))
# A result's wire sample type -> the bits per sample the engine rounds it to (0: not rounded).
BITS_OF_DTYPE = {"u8": 8, "u16": 16, "f32": 0}
# The size of the iterations timed while loading. Per-pixel costs at small sizes overstate
# larger ones; from 128 px, a 2-core CPU's estimate for a 512x384 job was 122 s, and the job
# took 112 s.
MEASURE_SIDE = 128


def settings_description() -> dict[str, Any]:
    """`hello_reply.defaults` and `.choices`: every setting's default, every enum's values."""
    return {
        "defaults": settings_to_wire(StyleSettings()),
        "choices": {
            f.name: [e.value for e in type(f.default)]
            for f in dataclasses.fields(StyleSettings)
            if isinstance(f.default, Enum)
        },
    }


def settings_to_wire(settings: StyleSettings) -> dict[str, Any]:
    return {f.name: wire_value(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


class StylizerBackend:
    trains = True
    clips = True

    def __init__(
        self,
        device: str = "auto",
        weights: str | Path | None = None,
        precision: Precision | str = Precision.AUTO,
        cache_bytes: int = 512 * 2**20,
        memory_budget: int | None = None,
    ) -> None:
        self._args = (device, weights, precision, cache_bytes, memory_budget)
        self.stylizer: Stylizer | None = None
        self._swatches: list[Samples] = []
        self.library = Library()  # the trained styles a job may name (settings.trained)
        self._photos = DefaultPhotos()  # what trainings crop from, read at the first

    def load(self) -> None:
        device, weights, precision, cache_bytes, memory_budget = self._args
        self.stylizer = Stylizer(device, weights, precision, cache_bytes, memory_budget)
        # Iterations measured at start: a client's first estimate has a time for this device.
        self.stylizer.warm_up(measure=MEASURE_SIDE)
        # Rendered once here, on the worker thread: the socket loop answers `presets` from them.
        if self.stylizer.instant.available:
            self._swatches = [
                Picture.of(self.stylizer.instant.swatch(k, SWATCH_SIZE)).to_array()
                for k in range(NUM_PRESETS)
            ]

    def swatches(self) -> list[Samples]:
        """One small picture per preset (the example painted in it); empty until loaded, or
        without the fast networks' files."""
        return self._swatches

    def trained_styles(self) -> list[tuple[dict[str, Any], Samples]]:
        """The library's usable trained styles for the `presets` request: what each is, and
        its swatch (the example picture painted in it when it was trained)."""
        found = []
        for entry in self.library.entries():
            if entry.style is None:
                continue
            style = entry.style
            info = {
                "name": entry.name,
                "kind": style.kind.value,
                "steps": style.settings.get("steps_done"),
                "loss": style.losses.get("loss"),
            }
            found.append((info, style.swatch.numpy().astype("float32") / 255))  # as Samples
        return found

    def _trained_style(self, name: str, field: str = "settings.trained") -> TrainedStyle:
        """The library's style `name` (FieldError on `field` when there is none: checked when
        queued, and again when the job runs, since a file may go meanwhile)."""
        try:
            return self.library.get(name)
        except StyleFileError as e:
            raise FieldError(field, str(e)) from None

    def describe(self) -> dict[str, Any]:
        s = self.stylizer
        return {
            "device": s.compute.describe() if s else str(self._args[0]),
            "weights": s.weights_name if s else None,
            "layers": list(LAYER_NAMES),
            # What this engine can run: the fast method and the presets need the fast
            # networks' files (reported once the model is loaded).
            "methods": [Method.GATYS.value]
            + ([Method.FAST.value] if s is not None and s.instant.available else []),
            "presets": NUM_PRESETS if s is not None and s.instant.available else 0,
            **settings_description(),
            "train_defaults": train_defaults(),  # 1.6: the `train` request's settings
            "clip_defaults": {"temporal": DEFAULT_TEMPORAL},  # 1.7: clip jobs
        }

    def stats(self) -> dict[str, Any]:
        if self.stylizer is None:
            return {}
        c = self.stylizer.cache.stats
        names = [e.name for e in self.library.entries() if e.style is not None]
        return {"style_cache": dataclasses.asdict(c), "trained_styles": names}

    def check_settings(self, request: SettingsRequest) -> StyleSettings:
        settings = dict(request.settings)
        limits = request.limits
        unknown = sorted(set(settings) - SETTING_NAMES)
        if unknown:
            # Refused rather than ignored: a misspelt setting would silently do nothing.
            raise FieldError(unknown[0], "unknown setting (hello_reply's `defaults` lists them)")
        asked = settings.get("iterations")
        if isinstance(asked, int) and not isinstance(asked, bool):
            _check_iterations(asked, limits)  # before the engine's own range says otherwise
        # The daemon's own output limit, unless the client asks for a lower one.
        requested = settings.get("max_pixels")
        if not isinstance(requested, int) or requested > limits.max_output_pixels:
            settings["max_pixels"] = limits.max_output_pixels
        if request.warm_start:
            settings["init"] = InitMode.IMAGE.value
        elif settings.get("init") == InitMode.IMAGE.value:
            raise FieldError("init", "'image' needs init_image or init_job")
        n_styles = request.n_styles
        try:
            s = StyleSettings(**settings).validate(LAYER_NAMES)
            check_method_fields(s.method, set(settings))
            check_styles_given(s, n_styles)
            if self.stylizer is not None and not self.stylizer.instant.available:
                # (init "fast" falls back to the content: it is only where to start from)
                if s.method is Method.FAST or s.presets:
                    self.stylizer.instant.check()  # raises the missing file's one line
        except FastModelError as e:
            raise FieldError("method", str(e)) from None
        except SettingsError as e:
            raise FieldError(e.field, e.message) from None
        except TypeError as e:  # e.g. a list where a number belongs, caught by __post_init__
            raise FieldError(None, str(e)) from None
        for name in s.trained:
            self._trained_style(name, "trained")  # refused now when there is no such style
        try:
            size = output_size(*request.content_size, s)
            if s.method is Method.GATYS and self.stylizer is not None:
                # Refused now, with the memory it needs, rather than failing once it runs.
                self.stylizer.memory_plan(*size, s)
        except LimitError as e:
            raise FieldError(e.field, e.message, "too_large") from None
        except SettingsError as e:
            raise FieldError(e.field, e.message) from None
        if s.method is Method.GATYS:
            _check_iterations(s.iterations, limits)  # the default, when none was given
        return s

    def estimate(self, request: SettingsRequest) -> dict[str, Any]:
        """The `estimate` request: the checks of a submit, then the engine's estimate."""
        s = self.check_settings(request)
        if self.stylizer is None:  # still loading: the checks, but nothing measured
            w, h = output_size(*request.content_size, s)
            return {"width": w, "height": h, "seconds": None, "tiled": None, "memory": None}
        try:
            e = self.stylizer.estimate(*request.content_size, s, request.warm_start)
        except LimitError as err:  # (check_settings passed: the free memory just shrank)
            raise FieldError(err.field, err.message, "too_large") from None
        return {
            "width": e.width,
            "height": e.height,
            "seconds": e.seconds,
            "tiled": e.tiled,
            "memory": e.memory,
        }

    def check_training(self, request: TrainingRequest) -> Any:
        return check_training(request, self.stylizer, self.library)

    def train(self, job: TrainInput, progress: ProgressSink) -> JobOutput:
        assert self.stylizer is not None, "load() first"
        try:
            return run_training(job, progress, self.stylizer, self.library, self._photos)
        except torch.OutOfMemoryError as e:
            raise self._out_of_memory(e) from e

    def run_clip(self, job: ClipInput, progress: ProgressSink, frame_done: FrameSink) -> JobOutput:
        assert self.stylizer is not None, "load() first"
        settings: StyleSettings = job.settings
        styles: list[Any] = [*job.styles, *(self._trained_style(n) for n in settings.trained)]
        plain = dataclasses.replace(job, settings=settings.replace(trained=()))
        try:
            out = run_clip(plain, progress, frame_done, self.stylizer, styles)
        except SettingsError as e:
            raise FieldError(f"settings.{e.field}", e.message) from None
        except ImageError as e:
            raise FieldError(None, str(e)) from None
        except torch.OutOfMemoryError as e:
            raise self._out_of_memory(e) from e
        out.info["settings"] = settings_to_wire(settings)
        return out

    def _out_of_memory(self, e: torch.OutOfMemoryError) -> OutOfMemory:
        """The job fails with the device's name; the memory it held goes back to the device."""
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        assert self.stylizer is not None
        return OutOfMemory(f"out of memory on {self.stylizer.compute.describe()}: {e}")

    def run(self, job: JobInput, progress: ProgressSink) -> JobOutput:
        assert self.stylizer is not None, "load() first"
        settings: StyleSettings = job.settings
        if settings.init is InitMode.IMAGE and job.init is None:
            settings = settings.replace(init=InitMode.CONTENT)  # the warm-start source is gone
        # The trained styles the settings name join the style images, after them.
        styles: list[Any] = [*job.styles, *(self._trained_style(n) for n in settings.trained)]
        engine_job = Job(
            job.content,
            styles,
            settings.replace(trained=()),
            job.mask,
            job.init,
            sample_bits=BITS_OF_DTYPE[job.result_dtype],
        )
        cache = self.stylizer.cache.stats
        hits, misses = cache.hits, cache.misses
        try:
            r = self.stylizer.stylize(engine_job, _reporting(job, progress))
        except Cancelled as e:
            raise JobStopped(None if e.partial is None else e.partial.to_array()) from None
        except SettingsError as e:
            # A LimitError here: the memory free when the job started was less than when it
            # was queued.
            raise FieldError(
                e.field if e.field == "styles" else f"settings.{e.field}",
                e.message,
                "too_large" if isinstance(e, LimitError) else "invalid_field",
            ) from None
        except ImageError as e:
            raise FieldError(None, str(e)) from None
        except torch.OutOfMemoryError as e:
            raise self._out_of_memory(e) from e
        info = _result_info(r, settings)
        info["style_cache"] = {"hits": cache.hits - hits, "misses": cache.misses - misses}
        return JobOutput(r.picture.to_array(), info)


def _reporting(job: JobInput, progress: ProgressSink) -> Reporting:
    """The engine's Reporting for a job: its Progress as the `progress` message's fields."""

    def on_progress(p: Progress) -> None:
        fields = {
            "iteration": p.iteration,
            "total": p.total,
            "scale": p.scale,
            "scales": p.scales,
            "width": p.width,
            "height": p.height,
            "loss": p.loss,
            "content_loss": p.content_loss,
            "style_loss": p.style_loss,
            "tv_loss": p.tv_loss,
            "elapsed": p.elapsed,
            "remaining": p.remaining,
        }
        progress(fields, None if p.preview is None else p.preview.to_array())

    return Reporting(
        on_progress=on_progress,
        every=job.progress_every,
        preview_every=job.preview_every,
        preview_size=job.preview_size,
        cancel=CancelToken(job.cancel),
        time_budget=job.time_budget,
    )


def _result_info(r: StyleResult, settings: StyleSettings) -> dict[str, Any]:
    """The `result` message's facts about a stylization (but the style cache's counts)."""
    return {
        "iterations": r.iterations,
        "elapsed": r.elapsed,
        "loss": r.loss,  # nil for the fast method, which optimizes nothing
        "content_loss": r.content_loss,
        "style_loss": r.style_loss,
        "tv_loss": r.tv_loss,
        "device": r.device,
        "weights": r.weights,
        "stopped": r.stopped.value,
        "scales": [list(s) for s in r.scales],
        # As used: the engine saw the trained styles among the styles, not as names.
        "settings": settings_to_wire(r.settings.replace(trained=settings.trained)),
    }


def _check_iterations(iterations: int, limits: Limits) -> None:
    if iterations > limits.max_iterations:
        raise FieldError(
            "iterations", f"{iterations} iterations; at most {limits.max_iterations}", "too_large"
        )
