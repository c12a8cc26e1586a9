"""The README's picture and its caption's record, from `make demo`'s own run.

make demo && .venv/bin/python benchmarks/readme_figure.py --command "make demo"

`make demo` writes its picture (out/demo.png) and the stylize command's `--json` summary
(out/demo.json: size, iterations per scale, seconds, device and precision). This script draws
the README's row (content | style | result) into results/demo.png and writes results/demo.json:
that summary with the machine, the date, the commit and the command, so the README's caption
(written by figures.py) states what this run did and nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_info

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "daemon" / "impasto" / "examples"
RESULTS = ROOT / "benchmarks" / "results"


def row(panels: list[Path], height: int, out: Path) -> None:
    """Content, style and result side by side at one height, 8 px apart."""
    images = []
    for path in panels:
        with Image.open(path) as im:
            w, h = im.size
            images.append(im.convert("RGB").resize((round(w * height / h), height)))
    gap = 8
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * 2, height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + gap
    canvas.save(out, optimize=True)


def record(run: dict[str, Any], command: str) -> dict[str, Any]:
    """The demo's summary with what makes it reproducible. The machine is this one, which ran
    the demo just before (make figures runs the two back to back)."""
    for key in ("iterations", "seconds", "scales", "device", "width", "height"):
        if key not in run:
            raise ValueError(f"the demo's summary has no {key!r}: is it `impasto stylize --json`?")
    machine = machine_info("end")
    machine["command"] = command
    return {"machine": machine, "run": run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, default=ROOT / "out" / "demo.png")
    parser.add_argument("--run", type=Path, default=ROOT / "out" / "demo.json")
    parser.add_argument("--command", default="make demo", help="the command that ran the demo")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--height", type=int, default=256)
    args = parser.parse_args(argv)
    try:
        run = json.loads(args.run.read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"readme_figure: cannot read the demo's summary {args.run}: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    row(
        [EXAMPLES / "astronaut.png", EXAMPLES / "hubble.png", args.result],
        args.height,
        args.out / "demo.png",
    )
    (args.out / "demo.json").write_text(json.dumps(record(run, args.command), indent=1) + "\n")
    print(f"wrote {args.out / 'demo.png'} and {args.out / 'demo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
