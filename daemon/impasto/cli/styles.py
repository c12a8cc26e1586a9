"""`impasto styles`: the built-in styles and the trained ones (backends/style_library.py),
listed, and shown side by side on one picture.

The 26 presets of the conditional network have numbers, not names; a contact sheet (one swatch
per preset: the same picture painted in each) lets people choose by eye, then use the numbers
with `--preset K[:W]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from ..engine.settings import NUM_PRESETS
from .errors import CliError

SWATCH = 160  # px, the longer side of each swatch on the sheet
COLUMNS = 6
LABEL = 16  # px under each swatch for its number


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "styles",
        help="list the built-in styles and draw a contact sheet of them",
        description="List the built-in styles (use their numbers with --preset K[:W] and "
        "--method fast). With --sheet, paint one picture in every style and write the swatches "
        "side by side into one image.",
    )
    p.add_argument("--sheet", metavar="OUT", help="write the contact sheet to this image file")
    p.add_argument(
        "--on",
        metavar="IMAGE",
        help="the picture the swatches show (default: the bundled example)",
    )
    p.add_argument("--size", type=int, default=SWATCH, help=f"swatch size (default: {SWATCH})")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .stylize import check_output, open_image, output_format, save_atomically

    if not 16 <= args.size <= 1024:
        raise CliError(f"--size: must be in 16..1024, got {args.size}")
    picture = open_image(Path(args.on), "--on image") if args.on else None
    sheet_path = Path(args.sheet) if args.sheet else None
    if sheet_path is not None:
        check_output(sheet_path, [Path(args.on)] if args.on else [])
        fmt = output_format(sheet_path)

    from ..engine.device import select
    from ..engine.fast.styles import InstantStyles

    instant = InstantStyles(select(args.device))
    instant.check()  # one line naming the missing model file, if one is
    from ..backends import style_library as library

    entries = library.entries()
    usable = [e for e in entries if e.style is not None]
    info = {
        "presets": list(range(NUM_PRESETS)),
        "network": instant.names(presets_only=True),
        "trained": [_entry_info(e) for e in entries],
        "library": str(library.styles_dir()),
        "sheet": str(sheet_path) if sheet_path else None,
    }
    if sheet_path is not None:
        labels = [str(k) for k in range(NUM_PRESETS)] + [e.name for e in usable]
        swatches = _swatches(instant, usable, picture, args.size)
        save_atomically(contact_sheet(swatches, labels), sheet_path, fmt)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{NUM_PRESETS} built-in styles, 0-{NUM_PRESETS - 1} ({info['network']})")
    print("use them with: impasto stylize PHOTO --method fast --preset K[:W] [K[:W] ...] -o OUT")
    if entries:
        plural = "" if len(usable) == 1 else "s"
        print(f"{len(usable)} trained style{plural} in {library.styles_dir()}:")
        for e in entries:
            print(f"  {e.name}: {_entry_line(e)}")
        print("use them with: impasto stylize PHOTO NAME.style --method fast -o OUT")
    else:
        print(f"no trained styles in {library.styles_dir()} (make one with: impasto train STYLE)")
    if sheet_path is not None:
        print(f"wrote {sheet_path}: one swatch per style, numbered")
    else:
        print("see them with: impasto styles --sheet styles.png [--on PHOTO]")
    return 0


def _swatches(instant: Any, usable: list[Any], picture: Any, size: int) -> list[Any]:
    """One picture per style, built-in then trained: its swatch, or `picture` painted by it."""
    from ..engine.images import fit_size, resize, to_image, to_tensor
    from ..engine.trained import from_u8

    if picture is None:
        swatches = [to_image(instant.swatch(k, size)) for k in range(NUM_PRESETS)]
        for e in usable:
            t = from_u8(e.style.swatch)
            swatches.append(to_image(resize(t, *fit_size(t.shape[-1], t.shape[-2], size))))
        return swatches
    t = to_tensor(picture.convert("RGB"))[0]
    t = resize(t, *fit_size(t.shape[-1], t.shape[-2], size))
    swatches = [to_image(instant.paint(t, [], [], [k], [1.0])) for k in range(NUM_PRESETS)]
    for e in usable:
        image = from_u8(e.style.style_image)
        swatches.append(to_image(instant.paint(t, [image], [1.0], trained=[e.style])))
    return swatches


def _entry_info(entry: Any) -> dict[str, Any]:
    style = entry.style
    if style is None:
        return {"name": entry.name, "path": str(entry.path), "problem": entry.problem}
    return {
        "name": entry.name,
        "path": str(entry.path),
        "kind": style.kind.value,
        "steps": style.settings.get("steps_done"),
        "losses": style.losses,
    }


def _entry_line(entry: Any) -> str:
    style = entry.style
    if style is None:
        return f"unusable ({entry.problem})"
    loss = style.losses.get("loss")
    steps = style.settings.get("steps_done")
    return f"{style.kind.value}, {steps} steps" + (f", loss {loss:.3g}" if loss else "")


def contact_sheet(swatches: list[Image.Image], labels: list[str] | None = None) -> Image.Image:
    """The swatches in rows of COLUMNS, each labelled underneath (by default: numbered)."""
    w = max(s.width for s in swatches)
    h = max(s.height for s in swatches)
    rows = -(-len(swatches) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * w, rows * (h + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, swatch in enumerate(swatches):
        x, y = (k % COLUMNS) * w, (k // COLUMNS) * (h + LABEL)
        sheet.paste(swatch.convert("RGB"), (x, y))
        draw.text((x + 4, y + h + 2), labels[k] if labels else str(k), fill="black")
    return sheet
