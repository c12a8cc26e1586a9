# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: a user's earlier result
# on the image, then a long Style Transfer run that pytest kills the way GIMP's status-bar Cancel
# does (SIGKILL). Records the layers the kill left, waits for pytest to press Ctrl+Z in the
# image window, and records the layers after that one undo. Evidence: <out>/killed.json and
# <out>/undone.json.
import json
import os
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

EARLIER = "an earlier result"


def _params():
    with open("/shared/kill_undo.json") as f:
        return json.load(f)


def _write(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)  # pytest polls for it: never let it see half a file


def _names(image):
    return [layer.get_name() for layer in image.get_layers()]


def _main():
    p = _params()
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    display = Gimp.Display.new(image)
    source = image.get_layers()[0]
    earlier = Gimp.Layer.new(
        image, EARLIER, 8, 8, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL
    )
    image.insert_layer(earlier, None, 0)  # one undo step: the user's last before the run
    image.set_selected_layers([source])
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [source])
    cfg.set_property("style-file", Gio.File.new_for_path(p["style"]))
    for name, value in p["arguments"].items():
        cfg.set_property(name, value)
    result = proc.run(cfg)  # pytest kills the plug-in while it runs
    before = _names(image)
    _write(os.path.join(p["out"], "killed.json"), {
        "status": result.index(0).value_nick,
        "layers": before,
        "undo_enabled": image.undo_is_enabled(),
    })  # fmt: skip
    deadline = time.monotonic() + p["wait"]
    while not os.path.exists(os.path.join(p["out"], "undo-pressed")):
        if time.monotonic() > deadline:
            raise RuntimeError("pytest never pressed Ctrl+Z")
        time.sleep(0.1)
    deadline = time.monotonic() + 10
    while _names(image) == before and time.monotonic() < deadline:
        time.sleep(0.1)  # the core handles the key on its own time
    _write(os.path.join(p["out"], "undone.json"), {"layers": _names(image)})
    image.clean_all()  # no "discard changes?" question when GIMP quits
    display.delete()


_main()
