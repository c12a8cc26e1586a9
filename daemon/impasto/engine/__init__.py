"""The style transfer engine: torch, numpy and Pillow only; no sockets, no files but weights."""

from .device import DeviceError, Precision, available_devices
from .images import ImageError
from .job import (
    Cancelled,
    CancelToken,
    Job,
    Progress,
    ProgressCallback,
    Reporting,
    StopReason,
    StyleResult,
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

__all__ = [
    "LAYER_NAMES",
    "CancelToken",
    "Cancelled",
    "DeviceError",
    "ImageError",
    "InitMode",
    "Job",
    "Optimizer",
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
    "WeightsError",
    "available_devices",
]
