# Runs inside gimp-console-3.0 (python-fu-eval): calls plug-in-impasto-stylize once per entry of
# /shared/modes.json's "calls" ({name: {"style": path or null, "arguments": {...}, "cover":
# name or absent}}), each on a freshly loaded image, and records what each call did in
# <out>/modes.json. With "cover", an opaque layer of that name lies above the source first (an
# earlier result the user renamed). Raising makes GIMP exit non-zero.
import hashlib
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402


def _hash(drawable):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    data = drawable.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP)
    return hashlib.sha256(bytes(data)).hexdigest()


def _cover(image, name):
    """An opaque layer the size of the image right above the source, filled with white."""
    layer = Gimp.Layer.new(
        image, name, image.get_width(), image.get_height(), Gimp.ImageType.RGB_IMAGE, 100.0,
        Gimp.LayerMode.NORMAL,
    )  # fmt: skip
    image.insert_layer(layer, None, 0)
    layer.fill(Gimp.FillType.WHITE)


def _call(content, style, arguments, cover=None):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(content))
    source = image.get_layers()[0]
    if cover:
        _cover(image, cover)
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [source])
    if style:
        cfg.set_property("style-file", Gio.File.new_for_path(style))
    for name, value in arguments.items():
        cfg.set_property(name, value)
    before = _hash(source)
    started = time.monotonic()
    result = proc.run(cfg)
    status = result.index(0)
    ev = {
        "status": status.value_nick,
        "seconds": round(time.monotonic() - started, 3),
        "layers": [layer.get_name() for layer in image.get_layers()],
        "source_unchanged": _hash(source) == before,
    }
    if status == Gimp.PDBStatusType.SUCCESS:
        layer = result.index(2)
        ev["previews"] = result.index(1)
        ev["details"] = json.loads(result.index(3))
        ev["result_changed"] = _hash(layer) != before
        ev["result_size"] = [layer.get_width(), layer.get_height()]
        ev["result_position"] = image.get_item_position(layer)
    else:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    image.delete()
    return ev


def _main():
    with open("/shared/modes.json") as f:
        p = json.load(f)
    out = {
        name: _call(p["content"], c["style"], c["arguments"], c.get("cover"))
        for name, c in p["calls"].items()
    }
    with open(os.path.join(p["out"], "modes.json"), "w") as f:
        json.dump(out, f, indent=1)


_main()
