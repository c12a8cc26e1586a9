"""The style transfer engine: torch, numpy and Pillow only; no sockets, no files but weights.

The names below load on first use (PEP 562), so `impasto.engine.settings` (plain dataclasses)
can be imported without torch: the command line's client commands derive their options from it
and start in a fraction of a second.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .device import DeviceError, Precision, available_devices
    from .images import ImageError, Picture
    from .job import (
        Cancelled,
        CancelToken,
        Job,
        Progress,
        ProgressCallback,
        Reporting,
        StopReason,
        StyleResult,
        Temporal,
    )
    from .settings import (
        InitMode,
        Optimizer,
        Pooling,
        PreserveColor,
        SettingsError,
        StyleSettings,
    )
    from .stylizer import Stylizer
    from .vgg import LAYER_NAMES
    from .weights import WeightsError

# name -> the submodule that defines it
_WHERE = {
    "DeviceError": "device",
    "Precision": "device",
    "available_devices": "device",
    "ImageError": "images",
    "Picture": "images",
    "Cancelled": "job",
    "CancelToken": "job",
    "Job": "job",
    "Progress": "job",
    "ProgressCallback": "job",
    "Reporting": "job",
    "StopReason": "job",
    "StyleResult": "job",
    "Temporal": "job",
    "InitMode": "settings",
    "Optimizer": "settings",
    "Pooling": "settings",
    "PreserveColor": "settings",
    "SettingsError": "settings",
    "StyleSettings": "settings",
    "Stylizer": "stylizer",
    "LAYER_NAMES": "vgg",
    "WeightsError": "weights",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "LAYER_NAMES",
    "CancelToken",
    "Cancelled",
    "DeviceError",
    "ImageError",
    "InitMode",
    "Job",
    "Optimizer",
    "Picture",
    "Pooling",
    "Precision",
    "PreserveColor",
    "Progress",
    "ProgressCallback",
    "Reporting",
    "SettingsError",
    "StopReason",
    "StyleResult",
    "StyleSettings",
    "Stylizer",
    "Temporal",
    "WeightsError",
    "available_devices",
]
