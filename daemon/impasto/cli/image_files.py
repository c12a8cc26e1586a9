"""Image files in and out, for the commands that read pictures and write one: opened fully and
upright before any work, outputs checked before the work and written atomically after it."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CliError

# Pillow formats that cannot hold an alpha channel.
NO_ALPHA_FORMATS = {"JPEG", "BMP", "PPM", "PCX", "EPS", "PDF"}


def open_image(path: Path, role: str) -> Image.Image:
    """Load fully now, so a broken file fails before minutes of work, with EXIF rotation applied."""
    if not path.exists():
        raise CliError(f"{role} not found: {path}")
    if not path.is_file():
        raise CliError(f"{role} is not a file: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise CliError(f"{role} is not an image Pillow can read: {path}") from None
    except Image.DecompressionBombError:
        raise CliError(f"{role} is too large to open safely: {path}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise CliError(f"{role} cannot be read: {path} ({e})") from None


def check_output(output: Path, inputs: list[Path]) -> None:
    target = os.path.realpath(output)
    for p in inputs:
        if os.path.realpath(p) == target or (
            output.exists() and p.exists() and os.path.samefile(p, output)
        ):
            raise CliError(f"the output {output} is also an input; choose another output name")
    parent = output.parent
    if not parent.is_dir():
        raise CliError(f"the output's directory does not exist: {parent}")
    if output.is_dir():
        raise CliError(f"the output is a directory: {output}")
    if not os.access(parent, os.W_OK):
        raise CliError(f"the output's directory is not writable: {parent}")


def output_format(output: Path) -> str:
    fmt = Image.registered_extensions().get(output.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise CliError(
            f"cannot tell an image format from the output name {output.name!r}; use .png or .jpg"
        )
    return fmt


def save_atomically(image: Image.Image, output: Path, fmt: str) -> None:
    """Write beside the target, then rename: an interrupted run never leaves half a file."""
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format=fmt)
        os.replace(tmp, output)
    except OSError as e:
        raise CliError(f"cannot write {output}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
