"""Training a style's own feed-forward network (Johnson et al. 2016; Dumoulin et al. 2017), so
that a style used again and again paints in one pass.

The loss is the optimization's perceptual loss (objective.py): VGG19's content layers against the
content crop, Gram matrices of its style layers against the style image's, and total variation,
with the engine's default layers and weights. The network paints random crops of the training
photos (random scale, position and mirror), and its weights follow the loss's gradient (Adam).

Two starts (trained.Kind): `fast` trains the arbitrary-style transformer's instance norms,
begun where its predictor puts the style (a few thousand numbers: minutes on a CPU), and
`scratch` trains Johnson's whole network from random weights (the better network, given many
more steps).

Every `checkpoint_every` steps, and when cancelled, the trainer writes a checkpoint that a
later run resumes from (the same steps then follow, as if it had not stopped: the random crops
come from a generator saved with it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from .images import ImageInput, Picture, fit_size, resize, tensor_digest, to_tensor
from .job import Cancelled, CancelToken
from .losses import tv_loss
from .objective import layer_weights
from .settings import StyleSettings
from .train_settings import MIN_CROP, Kind, TrainSettings, TrainSettingsError
from .trained import (
    STYLE_IMAGE_SIDE,
    SWATCH_SIDE,
    StyleFileError,
    TrainedStyle,
    load_record,
    save_record,
    to_u8,
)

if TYPE_CHECKING:
    from .stylizer import Stylizer

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "impasto-training-checkpoint"
# Settings a resumed training may change: they do not change the steps it takes.
RESUMABLE = frozenset({"steps", "preview_every", "checkpoint_every"})
VALIDATION_CROPS = 2  # fixed crops the reported losses are measured on
# Photos larger than this are scaled down when loaded: crops come from at most this size.
PHOTO_SIDE = 1024


@dataclass(frozen=True)
class TrainProgress:
    step: int  # steps done
    steps: int
    loss: float  # the weighted total on this step's crops
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float  # seconds of this run (a resumed run counts from its own start)
    remaining: float | None  # seconds, from this run's pace
    preview: Picture | None = None  # the validation picture as the network paints it now


@dataclass
class TrainReporting:
    on_progress: Callable[[TrainProgress], None] | None = None
    every: int = 1
    cancel: CancelToken | None = None
    checkpoint: Path | None = None  # where checkpoints go (None: none are written)


# The default training photos: the package's own examples and, when scikit-image is
# installed, its public-domain pictures (read from its data folder; nothing is downloaded).
# Only the pictures listed below are used: the others are kept for checks on pictures
# nothing was tuned or trained on.
# motorcycle_right (the other half of motorcycle_left's stereo pair) is held apart too, as a
# validation photo for the training figures (benchmarks/training.py).
SKIMAGE_PHOTOS = (
    "astronaut.png", "rocket.jpg", "motorcycle_left.png", "ihc.png", "retina.jpg",
    "hubble_deep_field.jpg", "camera.png", "coins.png", "moon.png", "brick.png", "grass.png",
)  # fmt: skip
EXAMPLE_PHOTOS = ("astronaut.png", "rocket.png", "hubble.png", "brick.png")
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


def photo_files(extra: Path | None = None, defaults: bool = True) -> list[Path]:
    """The training photos' files: the defaults (above) and every picture in `extra`, sorted
    by name there; a picture both default sets have is taken once."""
    import importlib.util
    from importlib import resources

    found: dict[str, Path] = {}
    if defaults:
        examples = resources.files("impasto").joinpath("examples")
        for name in EXAMPLE_PHOTOS:
            with resources.as_file(examples.joinpath(name)) as path:
                found[Path(name).stem] = Path(path)
        spec = importlib.util.find_spec("skimage")
        if spec is not None and spec.submodule_search_locations:
            data = Path(next(iter(spec.submodule_search_locations))) / "data"
            for name in SKIMAGE_PHOTOS:
                stem = Path(name).stem.replace("hubble_deep_field", "hubble")
                if (data / name).is_file():
                    found.setdefault(stem, data / name)
    files = list(found.values())
    if extra is not None:
        if not extra.is_dir():
            raise TrainSettingsError(f"content folder {extra} does not exist")
        mine = sorted(p for p in extra.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if not mine:
            raise TrainSettingsError(f"content folder {extra} holds no pictures")
        files += mine
    return files


def load_photos(files: Sequence[Path]) -> TrainingPhotos:
    """The photos, opened with Pillow as RGB (a file it cannot read: one line naming it)."""
    images = []
    for path in files:
        try:
            with Image.open(path) as im:
                im.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
                images.append(im.convert("RGB"))
        except (OSError, ValueError) as exc:
            raise TrainSettingsError(f"cannot read training photo {path}: {exc}") from None
    return TrainingPhotos(images)


class TrainingPhotos:
    """The content pictures crops are cut from, as (1, 3, H, W) 0..1 tensors."""

    def __init__(self, photos: Sequence[ImageInput | torch.Tensor]) -> None:
        self.photos = []
        for photo in photos:  # pictures, or (1, 3, H, W) tensors another TrainingPhotos holds
            rgb = photo if isinstance(photo, torch.Tensor) else to_tensor(photo)[0]
            h, w = rgb.shape[-2:]
            if max(w, h) > PHOTO_SIDE:
                rgb = resize(rgb, *fit_size(w, h, PHOTO_SIDE))
            self.photos.append(rgb)
        if not self.photos:
            raise TrainSettingsError("no training photos")

    def crops(self, n: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """`n` random crops (n, 3, size, size): a random photo each, scaled by a random factor
        (from just covering the crop to the photo's own size), cut at a random place, mirrored
        half of the time."""
        out = []
        for _ in range(n):
            photo = self.photos[int(torch.randint(len(self.photos), (1,), generator=generator))]
            h, w = photo.shape[-2:]
            smallest = size / min(w, h)  # the scale at which the crop just fits
            low, high = min(smallest, 1.0), max(smallest, 1.0)
            scale = low + (high - low) * float(torch.rand((), generator=generator))
            sw, sh = max(size, round(w * scale)), max(size, round(h * scale))
            scaled = resize(photo, sw, sh)
            x = int(torch.randint(sw - size + 1, (1,), generator=generator))
            y = int(torch.randint(sh - size + 1, (1,), generator=generator))
            crop = scaled[..., y : y + size, x : x + size]
            if float(torch.rand((), generator=generator)) < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        return torch.cat(out)


class Trainer:
    """Trains one style's network on an engine's VGG19 (and, for the fast start, its instant
    networks). One training at a time per engine, like its jobs."""

    def __init__(
        self,
        engine: Stylizer,
        style: ImageInput,
        photos: TrainingPhotos,
        settings: TrainSettings | None = None,
        name: str = "style",
        validation: ImageInput | torch.Tensor | None = None,
    ) -> None:
        self.engine = engine
        self.s = (settings or TrainSettings()).validate()
        self.name = name
        self.photos = photos
        self.device = engine.compute.device
        rgb, _ = to_tensor(style)
        h, w = rgb.shape[-2:]
        if min(w, h) < MIN_CROP:
            raise TrainSettingsError(f"the style image is {w}x{h}; it needs {MIN_CROP} px a side")
        self.style = rgb
        self.style_digest = tensor_digest(rgb)
        self.content = StyleSettings()  # the perceptual loss's layers and their weights
        self._layer_weights = layer_weights(self.content)
        self.generator = torch.Generator().manual_seed(self.s.seed)
        self.step = 0
        self._build()
        # The losses reported and kept in the file are measured on the same crops every time.
        fixed = torch.Generator().manual_seed(self.s.seed + 1)
        self.validation_crops = photos.crops(VALIDATION_CROPS, self.s.size, fixed)
        if validation is None:
            self.validation = self.engine.instant.swatch_picture
        elif isinstance(validation, torch.Tensor):
            self.validation = validation
        else:
            self.validation = to_tensor(validation)[0]
        self._targets = self._style_targets()

    # -- the network being trained ------------------------------------------------------------

    def _build(self) -> None:
        if self.s.start is Kind.FAST:
            instant = self.engine.instant
            _, transformer = instant.arbitrary()
            self.transformer = transformer
            with torch.no_grad():  # where the predictor puts the style, as instant paints it
                norms = transformer.norms(instant.style_vector(self.style))
            self.params = [torch.nn.Parameter(t.detach().clone()) for pair in norms for t in pair]
            self.network = None
        else:
            torch.manual_seed(self.s.seed)  # the network's initial weights
            from .fast.johnson import JohnsonNetwork

            self.network = JohnsonNetwork(self.s.width).to(self.device).train()
            self.params = list(self.network.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=self.s.rate)

    def paint(self, content: torch.Tensor) -> torch.Tensor:
        """The network's picture of `content` (N, 3, H, W), with gradients to its weights."""
        x = content.to(self.device)
        if self.network is not None:
            return self.network(x)
        norms = [(self.params[2 * i], self.params[2 * i + 1]) for i in range(len(self.params) // 2)]
        return self.transformer(x, None, norms)

    # -- the loss --------------------------------------------------------------------------------

    def _style_targets(self) -> dict[str, torch.Tensor]:
        h, w = self.style.shape[-2:]
        style = resize(self.style, *fit_size(w, h, self.s.style_size)).to(self.device)
        with torch.no_grad():
            feats = self.engine.features(style, self.content.style_layers)
        return {name: _grams(f)[0] for name, f in feats.items()}

    def loss(self, content: torch.Tensor) -> tuple[torch.Tensor, tuple[float, float, float]]:
        """The weighted loss of the network's picture of `content`, and its three terms."""
        s = self.content
        cw, sw = self._layer_weights
        x = content.to(self.device)
        out = self.paint(x)
        layers = list(dict.fromkeys([*s.content_layers, *s.style_layers]))
        feats = self.engine.features(out, layers)
        with torch.no_grad():
            targets = self.engine.features(x, s.content_layers)
        zero = out.new_zeros(())
        c = sum(
            (
                wt * _relative(feats[n].float(), targets[n].float())
                for n, wt in zip(s.content_layers, cw, strict=True)
            ),
            zero,
        )
        st = sum(
            (
                wt * _style_error(_grams(feats[n]), self._targets[n])
                for n, wt in zip(s.style_layers, sw, strict=True)
            ),
            zero,
        )
        tv = tv_loss(out)
        total = self.s.content_weight * c + self.s.style_weight * st + self.s.tv_weight * tv
        return total, (float(c.detach()), float(st.detach()), float(tv.detach()))

    def validation_losses(self) -> dict[str, float]:
        with torch.no_grad():
            total, (c, st, tv) = self.loss(self.validation_crops)
        return {"loss": float(total), "content": c, "style": st, "tv": tv}

    # -- the run ---------------------------------------------------------------------------------

    def run(self, reporting: TrainReporting | None = None) -> TrainedStyle:
        """Train up to `steps` (from where a resumed run stands) and return the trained style.
        Raises Cancelled when cancelled (after writing the checkpoint)."""
        rep = reporting or TrainReporting()
        started = time.perf_counter()
        first = self.step
        while self.step < self.s.steps:
            if rep.cancel is not None and rep.cancel.cancelled:
                self._checkpoint(rep)
                raise Cancelled(None)
            crops = self.photos.crops(self.s.batch, self.s.size, self.generator)
            self.optimizer.zero_grad(set_to_none=True)
            total, (c, st, tv) = self.loss(crops)
            total.backward()
            self.optimizer.step()
            self.step += 1
            value = float(total.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"the loss became {value} at step {self.step}")
            if rep.checkpoint is not None and self.s.checkpoint_every:
                if self.step % self.s.checkpoint_every == 0 and self.step < self.s.steps:
                    self._checkpoint(rep)
            last = self.step == self.s.steps
            wants_preview = bool(self.s.preview_every) and (
                self.step % self.s.preview_every == 0 or last
            )
            if rep.on_progress is not None and (
                self.step % max(1, rep.every) == 0 or last or wants_preview
            ):
                elapsed = time.perf_counter() - started
                pace = elapsed / (self.step - first)
                preview = Picture.of(self.picture(self.validation)) if wants_preview else None
                rep.on_progress(
                    TrainProgress(
                        self.step,
                        self.s.steps,
                        value,
                        c,
                        st,
                        tv,
                        elapsed,
                        pace * (self.s.steps - self.step),
                        preview,
                    )
                )
        return self.result()

    def picture(self, content: torch.Tensor) -> torch.Tensor:
        """`content` painted by the network as it stands, (1, 3, H, W) 0..1 on the CPU."""
        if self.network is not None:
            self.network.eval()
        try:
            with torch.no_grad():
                return self.paint(content).float().cpu().clamp(0, 1)
        finally:
            if self.network is not None:
                self.network.train()

    def result(self) -> TrainedStyle:
        if self.network is not None:
            weights = {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}
            base = ""
        else:
            weights = {}
            for i in range(len(self.params) // 2):
                weights[f"norm{i}.scale"] = self.params[2 * i].detach().cpu()[0].clone()
                weights[f"norm{i}.shift"] = self.params[2 * i + 1].detach().cpu()[0].clone()
            base = self.transformer.info.name
        h, w = self.style.shape[-2:]
        kept = resize(self.style, *fit_size(w, h, min(max(w, h), STYLE_IMAGE_SIDE)))
        swatch_source = self.engine.instant.swatch_picture
        sh, sw = swatch_source.shape[-2:]
        swatch = self.picture(resize(swatch_source, *fit_size(sw, sh, SWATCH_SIDE)))
        return TrainedStyle(
            name=self.name,
            kind=self.s.start,
            weights=weights,
            style_image=to_u8(kept),
            swatch=to_u8(swatch),
            width=self.s.width if self.network is not None else 0,
            base=base,
            settings={**self.s.as_dict(), "steps_done": self.step},
            losses=self.validation_losses(),
        )

    # -- checkpoints -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "settings": self.s.as_dict(),
            "style": self.style_digest,
            "step": self.step,
            "params": [p.detach().cpu() for p in self.params],
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def _checkpoint(self, rep: TrainReporting) -> None:
        if rep.checkpoint is not None:
            save_record(self.state(), rep.checkpoint)
            log.info("checkpoint at step %d: %s", self.step, rep.checkpoint)

    def resume(self, path: Path) -> int:
        """Continue from the checkpoint at `path`: the step it reached. Raises StyleFileError
        when it is not a checkpoint of this training (another style image or settings)."""
        record = load_record(path)
        if record.get("format") != CHECKPOINT_FORMAT:
            raise StyleFileError(f"{path}: not an Impasto training checkpoint")
        if record.get("style") != self.style_digest:
            raise StyleFileError(f"{path}: a checkpoint of another style image")
        mine = {k: v for k, v in self.s.as_dict().items() if k not in RESUMABLE}
        theirs = {k: v for k, v in (record.get("settings") or {}).items() if k not in RESUMABLE}
        if mine != theirs:
            changed = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise StyleFileError(f"{path}: a checkpoint with other settings ({', '.join(changed)})")
        params = record.get("params")
        if not isinstance(params, list) or len(params) != len(self.params):
            raise StyleFileError(f"{path}: a checkpoint of another network")
        with torch.no_grad():
            for p, saved in zip(self.params, params, strict=True):
                if not isinstance(saved, torch.Tensor) or saved.shape != p.shape:
                    raise StyleFileError(f"{path}: a checkpoint of another network")
                p.copy_(saved)
        self.optimizer.load_state_dict(record["optimizer"])
        self.generator.set_state(record["generator"])
        self.step = int(record["step"])
        return self.step


def _grams(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C) Gram matrices per position, in float32."""
    f = features.float().flatten(2)
    return f @ f.transpose(1, 2) / f.shape[2]


def _relative(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The content term as the optimization's (losses.ContentLoss), per image, averaged."""
    n = features.shape[0]
    error = (features - target).pow(2).reshape(n, -1).mean(1)
    norm = target.pow(2).reshape(n, -1).mean(1).clamp_min(1e-8)
    return (error / norm).mean()


def _style_error(grams: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The style term as the optimization's (losses.StyleLoss), per image, averaged."""
    norm = target.pow(2).sum().clamp_min(1e-8)
    return ((grams - target).pow(2).sum((1, 2)) / norm).mean()
