"""A job's inputs, checked and converted once, at the output size, on the CPU.

`prepare` refuses what the engine cannot run (with the SettingsError, LimitError or ImageError
the job would meet later), converts the content, mask, styles and starting image to tensors at
the sizes the optimization needs, and plans the job's scales. Everything after it works on the
`PreparedJob` it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from . import color
from .fast import FastModelError
from .fast.styles import MIN_STYLE_SIDE, PREDICTOR_SIDE, InstantStyles
from .images import (
    ImageError,
    ImageInput,
    Picture,
    fit_size,
    image_size,
    resize,
    tensor_digest,
    to_mask,
    to_tensor,
)
from .job import SAMPLE_BITS, Job, Temporal
from .memory import MemoryPlan
from .schedule import Scale, finest_in_equal_time, plan_scales
from .settings import (
    MAX_STYLES,
    MIN_SIZE,
    InitMode,
    LimitError,
    Method,
    PreserveColor,
    SettingsError,
    StyleSettings,
    check_styles_given,
)
from .trained import TrainedStyle, from_u8

# A fast start (init "fast") runs only the finest scale of the automatic schedule, in the time
# the whole schedule would take: optimizing the painted picture at a coarser size and scaling it
# up blurs away what the network painted (benchmarks/RESULTS.md, "Instant styles").
FAST_START_SCALES = 1


@dataclass(frozen=True)
class TemporalTarget:
    """A job's temporal term at the output size (job.Temporal, converted)."""

    warped: torch.Tensor  # (1, 3, H, W) 0..1, as the network sees pictures
    weights: torch.Tensor  # (1, 1, H, W) 0..1
    weight: float


@dataclass
class PreparedJob:
    """A job's inputs, checked and converted once, at the output size, on the CPU."""

    settings: StyleSettings
    scales: list[Scale]
    content: torch.Tensor  # RGB as delivered (colour kept for luminance mode's chroma)
    net_content: torch.Tensor  # what the network sees: grey luminance in luminance mode
    alpha: torch.Tensor | None
    mask: torch.Tensor | None
    styles: list[torch.Tensor]  # colour-preprocessed style images (presets' swatches too)
    style_keys: list[str]
    blend: list[float]
    init: torch.Tensor | None
    # What the fast networks paint with: the style images (without the presets' swatches),
    # their weights, and the presets with theirs.
    fast_styles: list[torch.Tensor]
    fast_blend: list[float]
    presets: tuple[int, ...]
    preset_blend: list[float]
    trained: list[TrainedStyle | None]  # beside fast_styles
    sample_bits: int = 8  # the caller's storage precision (Job.sample_bits)
    painted: torch.Tensor | None = None  # the fast networks' picture at the output size
    memory: MemoryPlan | None = None  # how the job fits the memory budget (Method.GATYS)
    temporal: TemporalTarget | None = None  # a video frame's tie to the previous result

    @property
    def out_size(self) -> tuple[int, int]:
        return self.scales[-1].width, self.scales[-1].height


def prepare(job: Job, layer_names: tuple[str, ...], instant: InstantStyles) -> PreparedJob:
    """`job` checked and converted for an engine with VGG19's `layer_names` and the fast
    networks `instant` (the presets' swatches, and whether a fast start can paint)."""
    s = _checked_settings(job, layer_names)
    cw, ch = image_size(job.content)
    if cw < 1 or ch < 1:
        raise ImageError("content image is empty (0 pixels)")
    out_w, out_h = output_size(cw, ch, s)
    _check_init(job, s)
    content, alpha = _content(job, out_w, out_h)
    mask = _mask(job, cw, ch, out_w, out_h)
    net_content = content
    if s.preserve_color is PreserveColor.LUMINANCE:
        net_content = color.luminance(content)
    images, trained = _style_images(job, s)
    fast_blend = list(s.style_blend) if s.style_blend else [1.0] * len(images)
    preset_blend = list(s.preset_blend) if s.preset_blend else [1.0] * len(s.presets)
    if fast_blend and preset_blend and sum(fast_blend) + sum(preset_blend) <= 0:
        raise SettingsError("preset_blend", "the style and preset weights are all zero")
    blend = fast_blend
    if s.method is Method.GATYS and s.presets:
        # For the optimization a preset is its swatch: the example picture in that style.
        images += [_swatch(instant, k) for k in s.presets]
        blend = fast_blend + preset_blend
    # Larger styles than the largest scale needs are shrunk first: colour matching and
    # hashing then work on fewer pixels.
    # The fast networks' style predictor wants the shorter side at PREDICTOR_SIDE.
    style_long = max(style_long_side(out_w, out_h, s.style_scale), 2 * PREDICTOR_SIDE)
    styles = [_style_for_content(st, content, style_long, s) for st in images]
    fast_styles = styles[: len(job.styles)]
    init = _init_image(job, s)
    # Decided with the same test as where the picture is painted: a job the networks cannot
    # paint starts from the content and keeps the content's schedule.
    paints = s.init is InitMode.FAST and can_paint(instant, fast_styles, fast_blend)
    return PreparedJob(
        settings=s,
        scales=schedule(cw, ch, s, init is not None, paints),
        content=content,
        net_content=net_content,
        alpha=alpha,
        mask=mask,
        styles=styles,
        style_keys=[tensor_digest(st) for st in styles],
        blend=[b / sum(blend) for b in blend],
        init=init,
        fast_styles=fast_styles,
        fast_blend=fast_blend,
        presets=s.presets,
        preset_blend=preset_blend,
        trained=trained,
        sample_bits=job.sample_bits,
        temporal=_temporal(job.temporal, cw, ch, out_w, out_h, s),
    )


def _checked_settings(job: Job, layer_names: tuple[str, ...]) -> StyleSettings:
    s = job.settings.validate(layer_names)
    if s.trained:
        raise SettingsError(
            "trained", "names a daemon's trained styles; give the engine the styles themselves"
        )
    check_styles_given(s, len(job.styles))
    if job.sample_bits not in SAMPLE_BITS:
        raise SettingsError("sample_bits", f"{job.sample_bits} is not one of {SAMPLE_BITS}")
    return s


def _check_init(job: Job, s: StyleSettings) -> None:
    if s.method is Method.FAST and s.init not in (InitMode.CONTENT, InitMode.FAST):
        raise SettingsError("init", "the fast method paints the content; it takes no init")
    if (s.init is InitMode.IMAGE) != (job.init_image is not None):
        raise SettingsError("init", "an init image is given exactly when init is 'image'")


def _content(job: Job, w: int, h: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The content's RGB and alpha (if any) at w x h."""
    rgb, alpha = to_tensor(job.content)
    return resize(rgb, w, h), None if alpha is None else resize(alpha, w, h)


def _mask(job: Job, cw: int, ch: int, w: int, h: int) -> torch.Tensor | None:
    """The mask at w x h; it must be the content's size (cw x ch)."""
    if job.mask is None:
        return None
    mw, mh = image_size(job.mask)
    if (mw, mh) != (cw, ch):
        raise ImageError(f"mask is {mw}x{mh} but the content is {cw}x{ch}")
    return resize(to_mask(job.mask), w, h)


def _temporal(
    t: Temporal | None, cw: int, ch: int, w: int, h: int, s: StyleSettings
) -> TemporalTarget | None:
    """The temporal term's images at w x h; both must be the content's size (cw x ch)."""
    if t is None:
        return None
    if not t.weight >= 0 or t.weight == float("inf"):
        raise SettingsError("temporal", f"its weight must be finite and >= 0, not {t.weight}")
    for name, image in (("warped", t.warped), ("weights", t.weights)):
        iw, ih = image.size if isinstance(image, Picture) else image_size(image)
        if (iw, ih) != (cw, ch):
            raise ImageError(f"temporal {name} is {iw}x{ih} but the content is {cw}x{ch}")
    warped = t.warped.rgb if isinstance(t.warped, Picture) else to_tensor(t.warped)[0]
    if s.preserve_color is PreserveColor.LUMINANCE:
        warped = color.luminance(warped)
    return TemporalTarget(resize(warped, w, h), resize(to_mask(t.weights), w, h), t.weight)


def _style_images(
    job: Job, s: StyleSettings
) -> tuple[list[torch.Tensor], list[TrainedStyle | None]]:
    """The style images as tensors, and beside them the trained style each stands for.

    A trained style stands for its style image (the optimization's targets) and paints with
    its own network or norms where the fast networks paint."""
    trained = [st if isinstance(st, TrainedStyle) else None for st in job.styles]
    images = [
        from_u8(st.style_image) if isinstance(st, TrainedStyle) else to_tensor(st)[0]
        for st in _check_styles(job.styles)
    ]
    if s.method is Method.FAST:
        for i, st in enumerate(images):
            h, w = st.shape[-2:]
            if min(w, h) < MIN_STYLE_SIDE:
                raise SettingsError(
                    "styles",
                    f"style image {i + 1} is {w}x{h}; the fast networks need at least"
                    f" {MIN_STYLE_SIDE} px on its shorter side",
                )
    return images, trained


def _check_styles(
    styles: Sequence[ImageInput | TrainedStyle],
) -> Sequence[ImageInput | TrainedStyle]:
    if len(styles) > MAX_STYLES:
        raise SettingsError("styles", f"at most {MAX_STYLES} style images")
    for i, image in enumerate(styles):
        if not isinstance(image, TrainedStyle) and min(image_size(image)) < 1:
            raise ImageError(f"style image {i + 1} is empty (0 pixels)")
    return styles


def _swatch(instant: InstantStyles, preset: int) -> torch.Tensor:
    try:
        return instant.swatch(preset, 2 * PREDICTOR_SIDE)
    except FastModelError as e:
        raise SettingsError("presets", str(e)) from None


def _style_for_content(
    style: torch.Tensor, content: torch.Tensor, long_side: int, s: StyleSettings
) -> torch.Tensor:
    """A style image shrunk to `long_side` at most, its colours preprocessed for `content`."""
    if max(style.shape[-2:]) > long_side:
        style = resize(style, *style_size(style.shape[-1], style.shape[-2], long_side))
    if s.preserve_color is PreserveColor.LUMINANCE:
        return color.match_luminance(style, content)
    if s.preserve_color is PreserveColor.MATCH:
        return color.match_colors(style, content)
    return style


def _init_image(job: Job, s: StyleSettings) -> torch.Tensor | None:
    """The given starting image (init "image"), grey in luminance mode."""
    if job.init_image is None:
        return None
    given = job.init_image
    init = given.rgb if isinstance(given, Picture) else to_tensor(given)[0]
    if s.preserve_color is PreserveColor.LUMINANCE:
        init = color.luminance(init)
    return init


def can_paint(
    instant: InstantStyles, styles: Sequence[torch.Tensor], blend: Sequence[float]
) -> bool:
    """Whether the fast networks can paint with `styles` weighed by `blend`: their files are
    there, and no style image is too small for their predictor (the optimization copes with
    those)."""
    used = (st for st, w in zip(styles, blend, strict=True) if w > 0)
    small = any(min(st.shape[-2:]) < MIN_STYLE_SIDE for st in used)
    return instant.available and not small


def output_size(width: int, height: int, s: StyleSettings) -> tuple[int, int]:
    """The output size for a content of width x height, checked against the pixel limit
    (LimitError) and the smallest size VGG19 can take (SettingsError). A daemon calls this
    before queueing a job, so its refusal is the engine's own."""
    w, h = fit_size(width, height, s.size)
    if w * h > s.max_pixels:
        raise LimitError("size", f"{w}x{h} exceeds the limit of {s.max_pixels} pixels")
    if min(w, h) < MIN_SIZE:
        raise SettingsError(
            "size", f"output would be {w}x{h}; its shorter side must be >= {MIN_SIZE} px"
        )
    return w, h


def style_long_side(width: int, height: int, style_scale: float) -> int:
    """The style image's longer side for an output (or scale) of width x height."""
    return max(MIN_SIZE, round(max(width, height) * style_scale))


def style_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """`fit_size`, but with both sides at least MIN_SIZE: VGG19's pooling halves a side four
    times before relu5_1, so a thinner style (a banner, a small style_scale, a coarse scale)
    would reach a zero-sized layer and crash."""
    w, h = fit_size(width, height, long_side)
    if min(w, h) < MIN_SIZE:
        k = MIN_SIZE / min(width, height)
        w, h = max(MIN_SIZE, round(width * k)), max(MIN_SIZE, round(height * k))
    return w, h


def schedule(
    width: int, height: int, s: StyleSettings, warm_start: bool, paints: bool
) -> list[Scale]:
    """The scales a job on a width x height content runs, unless the caller asked for them:
    a warm start begins where the previous result ended, at full size; a fast start (`paints`)
    is stylized already, so it skips the coarse scales and spends their time at the finest."""
    n_scales = 1 if warm_start and s.scales == 0 else s.scales
    scales = plan_scales(width, height, s.size, s.iterations, n_scales)
    if paints and s.scales == 0:
        return finest_in_equal_time(scales, FAST_START_SCALES)
    return scales
