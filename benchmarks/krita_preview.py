"""What a preview costs on Krita's UI thread: the plug-in's pixel work between the daemon's
frame and the bytes it hands to Krita's setPixelData (Krita's own write is not included).

Runs outside Krita, with the Qt (PyQt5) that Krita's Python uses (Debian's python3-pyqt5, put on
the project's Python's path), on an offscreen platform.
"Before" is the plug-in's sequence up to 2026-12-02 (copy the frame into a QImage, scale,
convert, copy out to bytes; with a selection copy those into a QImage again, composite and copy
out), written out here because the plug-in no longer has it; "after" is imaging.fitted (a view
of the frame, scale, composite in place, one conversion, one copy out). The u16 rows are the
final result of a 16-bit layer, which takes the same path once per job (previews are u8); they
have no "before", since the plug-in then received 8-bit results only. Each case is timed
alternately (before, after, before, ...) and the median of the repeats is reported.

    PYTHONPATH=/usr/lib/python3/dist-packages .venv/bin/python benchmarks/krita_preview.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins" / "krita"), str(ROOT / "protocol")]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from impasto_krita import imaging  # noqa: E402
from PyQt5.QtGui import QGuiApplication  # noqa: E402

from impasto_protocol import Pixels  # noqa: E402

PREVIEW_SIDE = 768  # the plug-in's MAX_PREVIEW_SIZE: previews come at most this large


def before(p: Pixels, width: int, height: int, mask: object) -> bytes:
    """The plug-in's preview path as it was (8-bit only)."""
    picture = imaging.scaled(imaging.from_bgra(p.data, p.width, p.height), width, height)
    bgra = imaging.to_bgra(picture)
    if mask is None:
        return bytes(bgra)
    image = imaging.from_bgra(bgra, width, height)
    imaging.multiply_alpha(image, mask)
    return imaging.to_bgra(image)


def after(p: Pixels, width: int, height: int, mask: object) -> bytes:
    return imaging.fitted(p, width, height, mask)


def frame(width: int, height: int, dtype: str) -> Pixels:
    rng = random.Random(1)
    n = width * height * 4 * (2 if dtype == "u16" else 1)
    return Pixels(width, height, rng.randbytes(n), "BGRA", dtype)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area", type=int, default=2048, help="the layer area's side, px")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/krita_preview.json"))
    args = ap.parse_args()
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (QPainter wants one)
    side = args.area
    selection = bytes(
        255 if (x // 64 + y // 64) % 2 else 0 for y in range(side) for x in range(side)
    )
    mask = imaging.feathered_mask(selection, side, side, imaging.feather_radius(side, side))
    rows = []
    for dtype, selected in (("u8", False), ("u8", True), ("u16", False), ("u16", True)):
        preview = frame(PREVIEW_SIDE, PREVIEW_SIDE, dtype)
        m = mask if selected else None
        ways = {"after": after} if dtype == "u16" else {"before": before, "after": after}
        times: dict[str, list[float]] = {k: [] for k in ways}
        for _ in range(args.repeats):
            for name, way in ways.items():  # alternating, so drift hits both alike
                t = time.perf_counter()
                out = way(preview, side, side, m)
                times[name].append(time.perf_counter() - t)
                assert len(out) == side * side * 4 * (2 if dtype == "u16" else 1)
        row = {
            "what": "preview" if dtype == "u8" else "16-bit layer's result",
            "dtype": dtype,
            "selection": selected,
            **{f"{k}_ms": round(1000 * statistics.median(v), 1) for k, v in times.items()},
        }
        print(row)
        rows.append(row)
    result = {
        "machine": f"{_cpu()}, {os.cpu_count()} logical CPUs",
        "date": time.strftime("%Y-%m-%d"),
        "command": "PYTHONPATH=/usr/lib/python3/dist-packages .venv/bin/python"
        f" benchmarks/krita_preview.py --area {side} --repeats {args.repeats}",
        "preview_side": PREVIEW_SIDE,
        "area_side": side,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
