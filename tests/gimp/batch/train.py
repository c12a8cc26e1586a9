# Runs inside gimp-console-3.0 (python-fu-eval): calls plug-in-impasto-train-style once per
# entry of /shared/train.json's "calls" ({name: {"style": path or null, "layer": bool,
# "arguments": {...}}}), in order, then plug-in-impasto-stylize with the trained style, and
# records what each call did in <out>/train.json. Raising makes GIMP exit non-zero.
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402


def _train(style, layer, arguments):
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-train-style")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    image = None
    if style:
        cfg.set_property("style-file", Gio.File.new_for_path(style))
    if layer:  # the style as a layer of an open image too, named `layer`: the layer goes first
        image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(style))
        image.get_layers()[0].set_name(layer)
        cfg.set_property("image", image)
        cfg.set_property("style-layer", image.get_layers()[0])
    for name, value in arguments.items():
        cfg.set_property(name, value)
    started = time.monotonic()
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick, "seconds": round(time.monotonic() - started, 3)}
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["name"] = result.index(1)
        ev["details"] = json.loads(result.index(2))
    else:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    if image is not None:
        image.delete()
    return ev


def _stylize(content, trained):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(content))
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_layers())
    cfg.set_property("mode", "instant")
    cfg.set_property("trained", trained)
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick}
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["details"] = json.loads(result.index(3))
    else:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    image.delete()
    return ev


def _main():
    with open("/shared/train.json") as f:
        p = json.load(f)
    out = {
        name: _train(c.get("style"), c.get("layer"), c["arguments"])
        for name, c in p["calls"].items()
    }
    out["stylize"] = _stylize(p["content"], p["trained"])
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-train-style")
    out["menu"] = {"label": proc.get_menu_label(), "paths": list(proc.get_menu_paths())}
    with open(os.path.join(p["out"], "train.json"), "w") as f:
        json.dump(out, f, indent=1)


_main()
