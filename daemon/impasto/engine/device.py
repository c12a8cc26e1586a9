"""Choosing the device and the arithmetic the convolutions run in."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from enum import Enum

import torch

log = logging.getLogger(__name__)


class Precision(str, Enum):
    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class DeviceError(ValueError):
    """The device asked for does not exist on this machine."""


@dataclass(frozen=True)
class Compute:
    """Where and how the network runs: the device, and whether convolutions use bfloat16."""

    device: torch.device
    bfloat16: bool
    # NHWC activations (see select()).
    channels_last: bool = False

    @property
    def autocast_type(self) -> str:
        return self.device.type if self.device.type in ("cuda", "cpu", "mps") else "cpu"

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return f"{name}, {'bfloat16' if self.bfloat16 else 'float32'} convolutions"


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def _cpu_has_native_bf16() -> bool:
    # oneDNN runs bfloat16 convolutions natively with AVX512-BF16 or AMX, about twice as fast as
    # float32; elsewhere it emulates them, slower than float32.
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def select(device: str = "auto", precision: Precision | str = Precision.AUTO) -> Compute:
    """Resolve "auto" to CUDA, then MPS, then CPU; and "auto" precision to bfloat16 where it is
    native (CUDA with bf16 support, CPUs with AVX512-BF16/AMX) and float32 elsewhere."""
    precision = Precision(precision)
    valid = available_devices()
    if device == "auto":
        name = "cuda" if "cuda" in valid else "mps" if "mps" in valid else "cpu"
    elif device in valid:
        name = device
    else:
        raise DeviceError(f"device {device!r} is not available here; available: {', '.join(valid)}")
    dev = torch.device(name)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes per scale: autotuning pays off
        native = torch.cuda.is_bf16_supported()
    elif dev.type == "cpu":
        native = _cpu_has_native_bf16()
    else:
        native = False  # MPS: bfloat16 autocast support varies by macOS version
    if precision is Precision.AUTO:
        bf16 = native
    else:
        bf16 = precision is Precision.BFLOAT16
    # NHWC activations: cuDNN's tensor-core convolutions want them, and so does oneDNN on the
    # CPU (a forward and backward pass through VGG19 at 256 px: 1.4x faster in float32, 1.9x
    # in bfloat16 on an AVX512-BF16 CPU, benchmarks/RESULTS.md).
    return Compute(dev, bf16, channels_last=dev.type in ("cuda", "cpu"))


def free_memory(device: torch.device) -> int:
    """Bytes a job could still allocate on `device`: CUDA's free memory plus what torch holds
    cached but unused; on the CPU, the kernel's estimate of available memory (MemAvailable)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # Elsewhere (macOS, Windows): the free physical pages.
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
