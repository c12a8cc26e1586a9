"""Run one job and print how far its resident memory rose above the warm engine's (JSON).

A separate process per measurement: the peak (VmHWM) is then this job's alone. Used by
test_tiling.py; `python peak_memory.py SIZE BUDGET_MB|none`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

from impasto.engine import Job, StyleSettings, Stylizer

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"
SHALLOW = dict(content_layers=("relu2_2",), style_layers=("relu1_1", "relu2_1", "relu3_1"))


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    size, budget = int(sys.argv[1]), sys.argv[2]
    engine = Stylizer(
        device="cpu",
        precision="float32",
        memory_budget=None if budget == "none" else int(budget) * 2**20,
    )
    content = Image.open(EXAMPLES / "astronaut.png").convert("RGB").resize((size, size))
    style = Image.open(EXAMPLES / "hubble.png").convert("RGB").resize((size, size))
    s = StyleSettings(size=size, scales=1, iterations=3, init="content", **SHALLOW)
    engine.warm_up(32)
    plan = engine.memory_plan(size, size, s)
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    engine.stylize(Job(content, [style], s))
    grew = _status("VmHWM") - before
    print(json.dumps({"grew": grew, "tile": plan.tile, "budget": plan.budget}))


if __name__ == "__main__":
    main()
