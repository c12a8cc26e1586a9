# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: calls
# plug-in-impasto-stylize three times with RunMode.INTERACTIVE, as the menu does, while pytest acts
# as the user with xdotool (run 1: OK, then Cancel in the progress window; run 2: OK; run 3: Reset
# to Factory Defaults, OK refused, then Cancel in the dialog), and once with WITH_LAST_VALS after
# run 2, as Filters > Repeat does. Between the
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
MARKER = "painted before Start"


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
    laid_out = dialog.MAIN + dialog.STYLES + dialog.PALETTE + dialog.ADVANCED
    return {"arguments": arguments, "laid_out": laid_out}


def _wait_for(path, p):
    deadline = time.monotonic() + p["wait"]
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pytest never wrote {path}")
        time.sleep(0.1)


def _run(p, marker=None, mode=Gimp.RunMode.INTERACTIVE, twin=False):
    """One call (INTERACTIVE, or `mode`) on a freshly loaded image shown in a display, its
    layer selected as the user's choice to run the filter on. With a `marker`
    name, a layer of that name is added first, as a user's last step before Start; after the
    run, pytest presses Ctrl+Z in the image window and this records what that undid. With
    `twin`, a second copy of the image is open meanwhile: two layers of the same name in two
    images of the same name, for the dialog's "Add a layer..." list."""
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    other = (
        Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
        if twin
        else None
    )
    display = Gimp.Display.new(image)
    source = image.get_layers()[0]
    if marker:
        step = Gimp.Layer.new(image, marker, 8, 8, Gimp.ImageType.RGBA_IMAGE, 100.0,
                              Gimp.LayerMode.NORMAL)  # fmt: skip
        image.insert_layer(step, None, 0)
    image.set_selected_layers([source])  # the layer the user picked to run the filter on
    proc = Gimp.get_pdb().lookup_procedure(PROC)
    cfg = proc.create_config()
    cfg.set_property("run-mode", mode)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [source])
    started = time.monotonic()
    result = proc.run(cfg)
    status = result.index(0)
    ev = {
        "status": status.value_nick,
        "error": Gimp.PDB.get_last_error(Gimp.get_pdb())
        if status != Gimp.PDBStatusType.SUCCESS
        else None,
        "seconds": round(time.monotonic() - started, 2),
        "layers": _names(image),
        "undo_enabled": image.undo_is_enabled(),
        "selected": [layer.get_name() for layer in image.get_selected_layers()],
    }
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["previews"] = result.index(1)
        ev["result_name"] = result.index(2).get_name()
        ev["details"] = json.loads(result.index(3))
    if marker:
        _write(os.path.join(p["out"], "run1.json"), ev)
        # pytest presses Ctrl+Z twice; what each undid (the core handles a key in its time).
        _wait_for(os.path.join(p["out"], "undone"), p)
        deadline = time.monotonic() + 3
        while marker in _names(image) and time.monotonic() < deadline:
            time.sleep(0.1)
        ev["layers_after_undo"] = _names(image)
        _write(os.path.join(p["out"], "run1_undo.json"), ev)
        _wait_for(os.path.join(p["out"], "undone2"), p)
        deadline = time.monotonic() + 10
        while marker in _names(image) and time.monotonic() < deadline:
            time.sleep(0.1)
        ev["layers_after_second_undo"] = _names(image)
        _write(os.path.join(p["out"], "run1_undo2.json"), ev)
    image.clean_all()  # no "discard changes?" question when GIMP quits
    display.delete()
    if other is not None:
        other.delete()
    return ev


def _names(image):
    return [layer.get_name() for layer in image.get_layers()]


def _main():
    p = _params()
    evidence = {"dialog": _dialog_arguments(p)}
    evidence["run1"] = _run(p, marker=MARKER)
    _wait_for(os.path.join(p["out"], "go2"), p)
    evidence["run2"] = _run(p)
    evidence["repeat"] = _run(p, mode=Gimp.RunMode.WITH_LAST_VALS)  # Filters > Repeat
    _wait_for(os.path.join(p["out"], "go3"), p)
    # pytest resets the dialog to its factory defaults, then cancels it
    evidence["run3"] = _run(p, twin=True)
    _write(os.path.join(p["out"], "evidence.json"), evidence)


_main()
