"""Trained styles: a feed-forward network trained for one style image (training.py), kept in a
small file that stands wherever a style image does for the fast method.

Two kinds, by how the training started:
- `fast`: the arbitrary-style transformer (fast/arbitrary.py) stays as shipped; the style is its
  instance norms' scale and shift, started from what the predictor gives for the style image
  and trained (Dumoulin et al. 2017: a style lives in its normalization parameters). A few KB.
- `scratch`: Johnson et al.'s network (fast/johnson.py), every weight trained for this style.

The file is a torch archive of tensors, numbers and strings only, read with weights-only
loading (torch never unpickles code from it), and checked field by field: a corrupt file or one
that is not a trained style gets one line saying so. It also holds the style image (for the
optimization's style targets when the trained style stands for it in a Gatys job), a swatch
(the example picture in this style, for palettes), the training settings and the losses reached.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .fast.johnson import JohnsonNetwork
from .train_settings import Kind

FORMAT = "impasto-trained-style"
VERSION = 1
SUFFIX = ".style"  # what a file of a trained style is called: hubble.style
STYLE_IMAGE_SIDE = 512  # the style image as kept in the file, at most
SWATCH_SIDE = 128


class StyleFileError(ValueError):
    """A file that cannot be used as a trained style; the message is one line naming it."""


@dataclass
class TrainedStyle:
    """What a trained style file holds (see the module docstring)."""

    name: str
    kind: Kind
    # fast: "norm{i}.scale" and "norm{i}.shift", (C,) each, for the transformer's style
    # convolutions in order; scratch: the JohnsonNetwork's state dict.
    weights: dict[str, torch.Tensor]
    style_image: torch.Tensor  # (H, W, 3) uint8
    swatch: torch.Tensor  # (H, W, 3) uint8
    width: int = 0  # scratch: the network's width
    base: str = ""  # fast: the transformer's weights file (name and SHA-256 start) trained on
    settings: dict[str, Any] = field(default_factory=dict)  # the training's
    losses: dict[str, float] = field(default_factory=dict)  # reached on the validation crops

    # -- the networks -------------------------------------------------------------------------

    def norms(self, device: torch.device | str = "cpu") -> list[tuple[torch.Tensor, torch.Tensor]]:
        """fast: the transformer's norms, (1, C) each, as ArbitraryTransformer takes them."""
        count = sum(1 for k in self.weights if k.endswith(".scale"))
        return [
            (
                self.weights[f"norm{i}.scale"].float().to(device)[None],
                self.weights[f"norm{i}.shift"].float().to(device)[None],
            )
            for i in range(count)
        ]

    def network(self, device: torch.device | str = "cpu") -> JohnsonNetwork:
        """scratch: the network, ready to paint (frozen, eval mode)."""
        net = JohnsonNetwork(self.width)
        net.load_state_dict(self.weights)
        net.requires_grad_(False)
        return net.eval().to(device)

    # -- the file -------------------------------------------------------------------------------

    def save(self, path: Path | str) -> None:
        """Write the file whole or not at all (a temporary file, then renamed over `path`)."""
        path = Path(path)
        record = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "kind": self.kind.value,
            "width": int(self.width),
            "base": self.base,
            "settings": json.dumps(self.settings),
            "losses": json.dumps(self.losses),
            "style_image": self.style_image.contiguous(),
            "swatch": self.swatch.contiguous(),
            "weights": {k: v.detach().cpu().contiguous() for k, v in self.weights.items()},
        }
        save_record(record, path)

    @classmethod
    def load(cls, path: Path | str) -> TrainedStyle:
        path = Path(path)
        record = load_record(path)
        return cls.from_record(record, path)

    @classmethod
    def from_record(cls, record: dict[str, Any], path: Path) -> TrainedStyle:
        def bad(why: str) -> StyleFileError:
            return StyleFileError(f"{path}: not a usable trained style ({why})")

        if record.get("format") != FORMAT:
            raise StyleFileError(f"{path}: not an Impasto trained style file")
        if record.get("version") != VERSION:
            raise bad(f"file version {record.get('version')!r}, this Impasto reads {VERSION}")
        try:
            kind = Kind(record.get("kind"))
        except ValueError:
            raise bad(f"unknown kind {record.get('kind')!r}") from None
        weights = record.get("weights")
        if not isinstance(weights, dict) or not weights:
            raise bad("no weights")
        if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
            raise bad("weights are not tensors")
        if not all(v.is_floating_point() and torch.isfinite(v).all() for v in weights.values()):
            raise bad("weights are not finite numbers")
        pictures = {}
        for key in ("style_image", "swatch"):
            picture = record.get(key)
            if (
                not isinstance(picture, torch.Tensor)
                or picture.dtype != torch.uint8
                or picture.dim() != 3
                or picture.shape[2] != 3
                or min(picture.shape[:2]) < 1
            ):
                raise bad(f"its {key.replace('_', ' ')} is not an RGB picture")
            pictures[key] = picture
        try:
            settings = json.loads(record.get("settings", "{}"))
            losses = json.loads(record.get("losses", "{}"))
        except (TypeError, ValueError):
            raise bad("its settings are not JSON") from None
        # A style is called as its file is (a renamed file renames it); the name it was
        # trained under is only the default for that file's name.
        name = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.stem
        style = cls(
            name=name or str(record.get("name") or "style"),
            kind=kind,
            weights=weights,
            width=int(record.get("width") or 0),
            base=str(record.get("base") or ""),
            settings=settings if isinstance(settings, dict) else {},
            losses=losses if isinstance(losses, dict) else {},
            **pictures,
        )
        style._check_weights(bad)
        return style

    def _check_weights(self, bad: Any) -> None:
        """The weights fit their network: a file that loads but would fail mid-job is refused
        now."""
        if self.kind is Kind.SCRATCH:
            if self.width < 1:
                raise bad(f"network width {self.width}")
            try:
                JohnsonNetwork(self.width).load_state_dict(self.weights)
            except RuntimeError as exc:
                raise bad(f"weights do not fit the network: {str(exc).splitlines()[0]}") from None
            return
        count = sum(1 for k in self.weights if k.endswith(".scale"))
        expected = {f"norm{i}.{part}" for i in range(count) for part in ("scale", "shift")}
        if count == 0 or set(self.weights) != expected:
            raise bad("its norms are incomplete")
        if any(v.dim() != 1 for v in self.weights.values()):
            raise bad("its norms are not vectors")


def save_record(record: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(record, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_record(path: Path) -> dict[str, Any]:
    """A trained style's (or a training checkpoint's) record, read with weights-only loading."""
    if not path.is_file():
        raise StyleFileError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise StyleFileError(f"{path}: not an Impasto trained style file (not a torch archive)")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise StyleFileError(
            f"{path}: not an Impasto trained style file ({type(exc).__name__})"
        ) from None
    except Exception:  # weights-only loading refused what the file holds
        raise StyleFileError(
            f"{path}: not an Impasto trained style file (it holds more than tensors and numbers)"
        ) from None
    if not isinstance(record, dict):
        raise StyleFileError(f"{path}: not an Impasto trained style file")
    return record


def is_style_file(path: Path | str) -> bool:
    """Whether `path` names a trained style (by its suffix): a style argument that does is read
    as one, anything else as an image."""
    return str(path).lower().endswith(SUFFIX)


def to_u8(rgb: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) 0..1 -> (H, W, 3) uint8: a picture as the file keeps it."""
    return (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous()


def from_u8(picture: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) 0..1 float."""
    return picture.permute(2, 0, 1)[None].float() / 255
