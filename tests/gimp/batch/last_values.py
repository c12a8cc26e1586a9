# Runs inside gimp-console-3.0 (a new GIMP session): calls plug-in-impasto-stylize with
# RunMode.WITH_LAST_VALS and arguments that differ from the remembered ones. GIMP should ignore
# them and use the values the last successful interactive run saved. Evidence in
# <out>/last_values.json.
import json
import os

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402


def _main():
    with open("/shared/interactive.json") as f:
        p = json.load(f)
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.WITH_LAST_VALS)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_layers())
    cfg.set_property("iterations", 1)  # not the remembered value: must be ignored
    cfg.set_property("strength", 90.0)  # not the remembered value either
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick}
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["details"] = json.loads(result.index(3))
    else:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    with open(os.path.join(p["out"], "last_values.json"), "w") as f:
        json.dump(ev, f, indent=1)
    image.delete()


_main()
