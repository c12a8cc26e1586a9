# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: one interactive call of
# plug-in-impasto-stylize on a freshly loaded image, while pytest acts as the user in the dialog
# (finds the swatches on the screen, clicks one, presses OK). Evidence in <out>/palette.json;
# raising makes GIMP exit non-zero.
import json
import os

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402


def _main():
    with open("/shared/palette.json") as f:
        p = json.load(f)
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    display = Gimp.Display.new(image)
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_layers())
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick, "layers": [x.get_name() for x in image.get_layers()]}
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["details"] = json.loads(result.index(3))
    else:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    image.clean_all()  # no "discard changes?" question when GIMP quits
    display.delete()
    tmp = os.path.join(p["out"], "palette.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ev, f, indent=1)
    os.replace(tmp, os.path.join(p["out"], "palette.json"))


_main()
