# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: calls
# plug-in-impasto-stylize twice with RunMode.INTERACTIVE, as the menu does, while pytest acts as
# the user with xdotool (run 1: OK, then Cancel in the progress window; run 2: OK). Between the
# runs it waits for pytest's go-ahead file, so that pytest can change the remembered values first.
# Evidence goes to <out>/run1.json and <out>/evidence.json; raising makes GIMP exit non-zero.
import json
import os
import sys
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

PROC = "plug-in-impasto-stylize"
STANDARD = ("run-mode", "image", "drawables")


def _params():
    with open("/shared/interactive.json") as f:
        return json.load(f)


def _write(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)  # pytest polls for it: never let it see half a file


def _dialog_arguments(p):
    """Which procedure arguments the dialog module lays out, and which exist."""
    # As impasto-stylize.py sets it up: the package, and the vendored protocol it imports.
    vendor = os.path.join(p["plugin_dir"], "vendor")
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    for folder in (p["plugin_dir"], os.path.join(vendor, version), os.path.join(vendor, "common")):
        sys.path.insert(0, folder)
    from impasto_gimp import dialog

    proc = Gimp.get_pdb().lookup_procedure(PROC)
    arguments = [spec.name for spec in proc.get_arguments() if spec.name not in STANDARD]
    return {"arguments": arguments, "laid_out": dialog.MAIN + dialog.PALETTE + dialog.ADVANCED}


def _run(p):
    """One interactive call on a freshly loaded image shown in a display."""
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    display = Gimp.Display.new(image)
    proc = Gimp.get_pdb().lookup_procedure(PROC)
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_layers())
    started = time.monotonic()
    result = proc.run(cfg)
    status = result.index(0)
    ev = {
        "status": status.value_nick,
        "error": Gimp.PDB.get_last_error(Gimp.get_pdb())
        if status != Gimp.PDBStatusType.SUCCESS
        else None,
        "seconds": round(time.monotonic() - started, 2),
        "layers": [layer.get_name() for layer in image.get_layers()],
        "undo_enabled": image.undo_is_enabled(),
    }
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["previews"] = result.index(1)
        ev["result_name"] = result.index(2).get_name()
        ev["details"] = json.loads(result.index(3))
    image.clean_all()  # no "discard changes?" question when GIMP quits
    display.delete()
    return ev


def _main():
    p = _params()
    evidence = {"dialog": _dialog_arguments(p)}
    evidence["run1"] = _run(p)
    _write(os.path.join(p["out"], "run1.json"), evidence["run1"])
    go = os.path.join(p["out"], "go2")
    deadline = time.monotonic() + p["wait"]
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pytest never wrote {go}")
        time.sleep(0.1)
    evidence["run2"] = _run(p)
    _write(os.path.join(p["out"], "evidence.json"), evidence)


_main()
