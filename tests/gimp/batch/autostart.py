# Runs inside gimp-console-3.0 (python-fu-eval) in the trixie root, with no daemon running: a
# user's first Style Transfer (Instant, a built-in style). The plug-in must start the daemon
# itself with the command its impasto.json names. Evidence: <out>/autostart.json.
import json
import os

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402


def _main():
    with open("/shared/autostart.json") as f:
        p = json.load(f)
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", image.get_selected_layers())
    cfg.set_property("mode", "instant")
    cfg.set_property("presets", "3")
    result = proc.run(cfg)
    status = result.index(0)
    evidence = {"status": status.value_nick, "layers": [x.get_name() for x in image.get_layers()]}
    if status == Gimp.PDBStatusType.SUCCESS:
        evidence["details"] = json.loads(result.index(3))
    else:
        evidence["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    with open(os.path.join(p["out"], "autostart.json"), "w") as f:
        json.dump(evidence, f, indent=1)
    if status != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError(evidence["error"])


_main()
