"""Make the README's picture from `make demo`'s output: content | style | result, one row.

make demo && .venv/bin/python benchmarks/readme_figure.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "daemon" / "impasto" / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, default=ROOT / "out" / "demo.png")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "demo.png")
    parser.add_argument("--height", type=int, default=256)
    args = parser.parse_args()
    panels = [EXAMPLES / "astronaut.png", EXAMPLES / "hubble.png", args.result]
    images = []
    for path in panels:
        with Image.open(path) as im:
            w, h = im.size
            images.append(im.convert("RGB").resize((round(w * args.height / h), args.height)))
    gap = 8
    canvas = Image.new("RGB", (sum(i.width for i in images) + gap * 2, args.height), "white")
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width + gap
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
