# Runs inside gimp-console-3.0 (python-fu-eval): builds a layers-as-frames image from the
# frames in /shared/frames.json ({"frames": [{"path", "name", "offset": [x, y] or null,
# "group": bool}], "calls": {name: {"frames": N, "arguments": {...}, "indexed": bool}}}), calls
# plug-in-impasto-stylize-frames once per call on an image of the first N frames, and records
# what each call did in <out>/frames.json, each painted frame's RGBA bytes in
# <out>/<call>-<i>.rgba. Raising makes GIMP exit non-zero.
import hashlib
import json
import os

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402


def _bytes(drawable):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))


def _layer(image, frame):
    """The frame's layer (in a group of its own when "group"), on top of the image."""
    layer = Gimp.file_load_layer(
        Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(frame["path"])
    )
    parent = None
    if frame.get("group"):
        parent = Gimp.GroupLayer.new(image, frame["name"])
        image.insert_layer(parent, None, 0)
        layer.set_name(frame["name"] + " inside")
    else:
        layer.set_name(frame["name"])
    image.insert_layer(layer, parent, 0)
    if frame.get("offset"):
        layer.set_offsets(*frame["offset"])


def _image(frames):
    first = frames[0]
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(first["path"]))
    image.get_layers()[0].set_name(first["name"])
    for frame in frames[1:]:
        _layer(image, frame)
    return image


def _state(image):
    """The source's top-level layers, top first: names and a hash of their pixels."""
    return [
        [layer.get_name(), hashlib.sha256(_bytes(layer)).hexdigest()]
        for layer in image.get_layers()
    ]


def _call(name, frames, arguments, out, indexed=False):
    image = _image(frames)
    if indexed:  # as GIMP opens a GIF
        image.convert_indexed(
            Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 255, False, True, ""
        )
    before = _state(image)
    images = len(Gimp.get_images())
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize-frames")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_selected_layers())
    for key, value in arguments.items():
        cfg.set_property(key, value)
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick}
    if status != Gimp.PDBStatusType.SUCCESS:  # before any other call, which would replace it
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    ev.update(source_before=before, source_after=_state(image))
    ev["new_images"] = len(Gimp.get_images()) - images
    if status == Gimp.PDBStatusType.SUCCESS:
        animation = result.index(1)
        ev["details"] = json.loads(result.index(2))
        ev["size"] = [animation.get_width(), animation.get_height()]
        painted = list(reversed(animation.get_layers()))  # bottom (the first frame) up
        ev["names"] = [layer.get_name() for layer in painted]
        ev["layer_sizes"] = [[layer.get_width(), layer.get_height()] for layer in painted]
        for i, layer in enumerate(painted):
            with open(os.path.join(out, f"{name}-{i}.rgba"), "wb") as f:
                f.write(_bytes(layer))
        animation.delete()
    image.delete()
    return ev


def _main():
    with open("/shared/frames.json") as f:
        p = json.load(f)
    out = {
        name: _call(name, p["frames"][: c["frames"]], c["arguments"], p["out"], c.get("indexed"))
        for name, c in p["calls"].items()
    }
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize-frames")
    out["menu"] = {"label": proc.get_menu_label(), "paths": list(proc.get_menu_paths())}
    with open(os.path.join(p["out"], "frames.json"), "w") as f:
        json.dump(out, f, indent=1)


_main()
