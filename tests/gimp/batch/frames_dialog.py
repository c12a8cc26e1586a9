# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: two interactive calls of
# plug-in-impasto-stylize-frames on a two-frame image, as the menu makes them, while pytest acts
# as the user: run 1 OK (the painted animation opens in a window of its own), run 2, after
# pytest's go-ahead file <out>/go2 (it changes the remembered values first), OK then Cancel in
# the progress window. Evidence in <out>/run1.json and <out>/run2.json; raising makes GIMP exit
# non-zero.
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402


def _write(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)  # pytest polls for it: never let it see half a file


def _animation(p):
    """The frames as layers, the first at the bottom."""
    first, second = (Gio.File.new_for_path(path) for path in p["frames"])
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, first)
    image.get_layers()[0].set_name(p["names"][0])
    layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, second)
    layer.set_name(p["names"][1])
    image.insert_layer(layer, None, 0)
    return image


def _call(p, run):
    image = _animation(p)
    images = len(Gimp.get_images())
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize-frames")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_selected_layers())
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick}
    if status == Gimp.PDBStatusType.EXECUTION_ERROR:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    ev["new_images"] = len(Gimp.get_images()) - images
    if status == Gimp.PDBStatusType.SUCCESS:
        animation = result.index(1)
        ev["names"] = [layer.get_name() for layer in reversed(animation.get_layers())]
        animation.clean_all()  # no "discard changes?" question when GIMP quits
    image.delete()
    _write(os.path.join(p["out"], f"run{run}.json"), ev)


def _wait_for(path, p):
    deadline = time.monotonic() + p["wait"]
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pytest never wrote {path}")
        time.sleep(0.1)


def _main():
    with open("/shared/frames_dialog.json") as f:
        p = json.load(f)
    _call(p, 1)
    _wait_for(os.path.join(p["out"], "go2"), p)
    _call(p, 2)


_main()
