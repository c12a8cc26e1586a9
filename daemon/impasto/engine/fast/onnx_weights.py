"""Reading a fast network's weights, and the few graph facts its torch module needs, from ONNX.

This is the only module of the engine that imports `onnx`, and only inside functions: the
networks run in torch, and the ONNX file is just the container their weights ship in.

The two arbitrary-style graphs were converted from TensorFlow Lite int8 models (tf2onnx), in
QDQ form: every weight is an int8 (bias: int32) initializer behind a DequantizeLinear, and every
activation passes through a QuantizeLinear/DequantizeLinear pair. We dequantize the weights once,
weight = (q - zero_point) * scale, per tensor or per output channel as the node's `axis` says,
and keep the activations' (scale, zero point) by name so the modules can emulate them on demand.
The 26-style graph (exported from PyTorch) holds plain float32 weights.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .models import INSTALL_HINT, REINSTALL_HINT, FastModelError

log = logging.getLogger(__name__)

# tf2onnx names an activation's QuantizeLinear after the TensorFlow op it follows plus one of
# these; stripped, what remains is the op's name ("MobilenetV2/Conv/Relu6").
_QUANTIZE_SUFFIXES = ("_quantize", "_int8")
_INTEGER_RANGE = {np.dtype(np.int8): (-128, 127), np.dtype(np.uint8): (0, 255)}


@dataclass(frozen=True)
class Quant:
    """The quantization of one activation tensor: q = clamp(round(x / scale) + zero_point)."""

    scale: float
    zero_point: int
    qmin: int
    qmax: int


@dataclass(frozen=True)
class ConvFacts:
    """One convolution of the graph: float32 weights (OIHW) and how it is applied."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: tuple[int, int]
    groups: int


@dataclass(frozen=True)
class OnnxWeights:
    """What the modules read from one model file."""

    path: Path
    sha256: str  # hex digest of the whole file
    tensors: Mapping[str, torch.Tensor]  # float initializers, by name
    convs: Mapping[str, ConvFacts]  # by the name of the conv's weight initializer
    activations: Mapping[str, Quant]  # activation quantization, by the TensorFlow op's name

    def _missing(self, what: str, name: str) -> FastModelError:
        return FastModelError(f"{self.path}: no {what} {name!r}; {REINSTALL_HINT}")

    def tensor(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        t = self.tensors.get(name)
        if t is None:
            raise self._missing("tensor", name)
        if tuple(t.shape) != shape:
            raise FastModelError(
                f"{self.path}: {name} has shape {tuple(t.shape)}, not {shape}; {REINSTALL_HINT}"
            )
        return t

    def conv(self, name: str) -> ConvFacts:
        facts = self.convs.get(name)
        if facts is None:
            raise self._missing("convolution", name)
        return facts

    def quant(self, name: str) -> Quant:
        q = self.activations.get(name)
        if q is None:
            raise self._missing("activation quantization", name)
        return q


def _import_onnx(path: Path) -> Any:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise FastModelError(f"reading {path} needs the onnx package (pip install onnx)") from None
    return onnx, numpy_helper


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int) -> np.ndarray:
    x = q.astype(np.float64)
    if scale.ndim == 1 and q.ndim > 0:  # per channel, along `axis`
        shape = [1] * q.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero = zero.reshape(shape) if zero is not None else None
    if zero is not None:
        x = x - zero.astype(np.float64)
    return (x * scale.astype(np.float64)).astype(np.float32)


def _parse(path: Path) -> OnnxWeights:
    if not path.is_file():
        raise FastModelError(f"{path}: fast-style model file not found; {INSTALL_HINT}")
    onnx, numpy_helper = _import_onnx(path)
    data = path.read_bytes()
    try:
        return _extract(path, data, onnx, numpy_helper)
    except FastModelError:
        raise
    except Exception as e:
        # Garbage bytes fail in the protobuf decoder (DecodeError), in numpy_helper or in our
        # walk over the graph, with a zoo of exception types: all mean "not our ONNX model".
        raise FastModelError(
            f"{path}: not a readable ONNX model ({type(e).__name__}); {INSTALL_HINT}"
        ) from None


def _extract(path: Path, data: bytes, onnx: Any, numpy_helper: Any) -> OnnxWeights:
    graph = onnx.load_model_from_string(data).graph
    if not graph.node or not graph.initializer:
        # Protobuf parses many short byte strings, an empty file included, as an empty model.
        raise FastModelError(f"{path}: not an ONNX model (no graph); {INSTALL_HINT}")
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    constants = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in graph.node
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"
    }
    dequantized, activations = _quantization(path, graph, inits, constants, onnx)
    convs = _convs(graph, inits, dequantized, onnx)
    tensors = {
        name: torch.from_numpy(a.copy()) for name, a in inits.items() if a.dtype == np.float32
    }
    return OnnxWeights(path, hashlib.sha256(data).hexdigest(), tensors, convs, activations)


def _attrs(onnx: Any, node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _quantization(
    path: Path,
    graph: Any,
    inits: dict[str, np.ndarray],
    constants: dict[str, np.ndarray],
    onnx: Any,
) -> tuple[dict[str, tuple[str, np.ndarray]], dict[str, Quant]]:
    """The graph's quantization: dequantized constants by the name of the DequantizeLinear
    output that carries them, as (the quantized initializer's name, the float32 values); and
    the activations' quantization by the name of their QuantizeLinear node (less suffixes)."""

    def value(name: str) -> np.ndarray | None:
        return inits.get(name, constants.get(name))

    dequantized: dict[str, tuple[str, np.ndarray]] = {}
    activations: dict[str, Quant] = {}
    for node in graph.node:
        if node.op_type not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        scale, zero = value(node.input[1]), value(node.input[2]) if len(node.input) > 2 else None
        if scale is None:
            continue
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:
            q = inits[node.input[0]]
            axis = _attrs(onnx, node).get("axis", 1)
            dequantized[node.output[0]] = (node.input[0], _dequantize(q, scale, zero, axis))
        elif node.op_type == "QuantizeLinear" and node.input[0] not in inits:
            key = node.name
            while key.endswith(_QUANTIZE_SUFFIXES):
                key = key.rsplit("_", 1)[0]
            dtype = zero.dtype if zero is not None else np.dtype(np.uint8)
            if dtype not in _INTEGER_RANGE:
                raise FastModelError(f"{path}: {node.name} quantizes to {dtype}; {REINSTALL_HINT}")
            qmin, qmax = _INTEGER_RANGE[dtype]
            zp = int(zero.item()) if zero is not None else 0
            activations[key] = Quant(float(scale.item()), zp, qmin, qmax)
    return dequantized, activations


def _convs(
    graph: Any,
    inits: dict[str, np.ndarray],
    dequantized: dict[str, tuple[str, np.ndarray]],
    onnx: Any,
) -> dict[str, ConvFacts]:
    """Each convolution's facts by its weight initializer's name."""

    def param(name: str) -> tuple[str, np.ndarray] | None:
        """A conv input traced back to its initializer: (initializer name, float32 value)."""
        if name in dequantized:
            return dequantized[name]
        if name in inits:
            return name, inits[name].astype(np.float32)
        return None

    convs: dict[str, ConvFacts] = {}
    for node in graph.node:
        if node.op_type != "Conv":
            continue
        weight = param(node.input[1])
        if weight is None:
            continue
        bias = param(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        a = _attrs(onnx, node)
        strides = tuple(a.get("strides", (1, 1)))
        convs[weight[0]] = ConvFacts(
            weight=torch.from_numpy(weight[1].copy()),
            bias=torch.from_numpy(bias[1].copy()) if bias is not None else None,
            stride=(int(strides[0]), int(strides[1])),
            groups=int(a.get("group", 1)),
        )
    return convs


@functools.lru_cache(maxsize=8)
def _read_cached(path: Path, mtime_ns: int, size: int) -> OnnxWeights:
    del mtime_ns, size  # only part of the cache key: a replaced file is read again
    start = time.perf_counter()
    weights = _parse(path)
    log.debug("read %s in %.2f s", path.name, time.perf_counter() - start)
    return weights


def read_onnx(path: Path | str) -> OnnxWeights:
    """The weights and graph facts of an ONNX file. Raises FastModelError for a missing or
    unreadable file.

    Cached per file (and its modification time): the first call costs about a second, mostly
    importing onnx; the modules copy what they need, so sharing the result is safe.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise FastModelError(f"{path}: fast-style model file not found; {INSTALL_HINT}") from None
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)
