# Runs inside gimp-console-3.0: calls plug-in-impasto-stylize with inputs it must refuse and
# records each call's status and error message in /shared/out/<name>/errors.json.
import hashlib
import json
import os

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402


def _hash(drawable):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    data = drawable.get_buffer().get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP)
    return hashlib.sha256(bytes(data)).hexdigest()


def _call(image, style, **arguments):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [image.get_layers()[0]])
    if style:
        cfg.set_property("style-file", Gio.File.new_for_path(style))
    cfg.set_property("iterations", 2)
    for name, value in arguments.items():
        cfg.set_property(name, value)
    before = _hash(image.get_layers()[-1])
    status = proc.run(cfg).index(0)
    return {
        "status": status.value_nick,
        "error": Gimp.PDB.get_last_error(Gimp.get_pdb()),
        "layers": len(image.get_layers()),
        "source_unchanged": _hash(image.get_layers()[-1]) == before,
    }


def _off_8bit_grid(drawable):
    """The share of a layer's 16-bit samples that are not an 8-bit level (a multiple of 257):
    about 0 when the result came back in 8 bits and was widened, nearly 1 when it is 16-bit."""
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    data = bytes(drawable.get_buffer().get(rect, 1.0, "R'G'B' u16", Gegl.AbyssPolicy.CLAMP))
    samples = memoryview(data).cast("H")
    return sum(1 for v in samples if v % 257) / len(samples)


def _main():
    with open("/shared/params.json") as f:
        p = json.load(f)

    def load():
        return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))

    out = {}
    out["no_style"] = _call(load(), None)
    # (a missing style-file is refused by GIMP itself, before the plug-in runs)
    out["missing_style"] = _call(load(), p["style"], **{"style-paths": "/shared/no-such-style.png"})
    out["bad_advanced"] = _call(load(), p["style"], advanced="pooling=avg; colour=1")
    out["presets_unknown"] = _call(load(), p["style"], presets="3:1,26:1")
    out["presets_syntax"] = _call(load(), p["style"], presets="3:1,abc")
    out["presets_negative"] = _call(load(), None, presets="3:-1", mode="instant")
    # A daemon without the fast networks: Instant and Refine and the presets are refused.
    old = p["gatys_only"]
    out["no_fast_instant"] = _call(load(), p["style"], mode="instant", endpoint=old)
    out["no_fast_refine"] = _call(load(), p["style"], mode="refine", endpoint=old)
    out["no_fast_presets"] = _call(load(), None, mode="paint", presets="3", endpoint=old)
    out["no_fast_paint"] = _call(load(), p["style"], mode="paint", endpoint=old)
    out["no_daemon"] = _call(load(), p["style"], endpoint=p["dead_endpoint"])
    # Not an error: a newer daemon's unknown fields and events are ignored.
    out["newer_daemon"] = _call(load(), p["style"], endpoint=p["newer"])
    gray = load()
    gray.convert_grayscale()
    out["grayscale"] = _call(gray, p["style"])
    deep = load()
    deep.convert_precision(Gimp.Precision.U16_NON_LINEAR)
    out["u16"] = _call(deep, p["style"], advanced="seed=1")
    out["u16"]["off_8bit_grid"] = _off_8bit_grid(deep.get_layers()[0])
    with open(os.path.join(p["out"], "errors.json"), "w") as f:
        json.dump(out, f, indent=1)


_main()
