# Runs inside the GUI gimp-3.0 (python-fu-eval) on a virtual X server: one interactive call of
# plug-in-impasto-train-style, while pytest acts as the user (OK in the dialog, then Cancel in
# the progress window), then the dialog once more (pytest presses Escape). Evidence in
# <out>/train_dialog.json and <out>/again.json; raising makes GIMP exit non-zero.
import json
import os

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402


def _main():
    with open("/shared/train_dialog.json") as f:
        p = json.load(f)
    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-train-style")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    result = proc.run(cfg)
    status = result.index(0)
    ev = {"status": status.value_nick}
    if status == Gimp.PDBStatusType.SUCCESS:
        ev["name"] = result.index(1)
    elif status == Gimp.PDBStatusType.EXECUTION_ERROR:
        ev["error"] = Gimp.PDB.get_last_error(Gimp.get_pdb())
    tmp = os.path.join(p["out"], "train_dialog.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ev, f, indent=1)
    os.replace(tmp, os.path.join(p["out"], "train_dialog.json"))
    # The dialog again, as the user opens it to go on (pytest closes it with Escape): it
    # must open with the values of the cancelled run.
    again = proc.run(cfg)
    with open(os.path.join(p["out"], "again.json.tmp"), "w") as f:
        json.dump({"status": again.index(0).value_nick}, f)
    os.replace(os.path.join(p["out"], "again.json.tmp"), os.path.join(p["out"], "again.json"))


_main()
