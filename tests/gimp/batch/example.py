# The README's Python example, run by test_gimp_scripting.py exactly as written (everything
# below this header), in gimp-console-3.0's python-fu-eval; the same lines work in GIMP's
# Python console (Filters > Development > Python-Fu > Console).
from gi.repository import Gimp, Gio

photo = Gio.File.new_for_path("/shared/scriptfu/photo.png")
image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, photo)
proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
config = proc.create_config()
config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", image.get_selected_layers())
config.set_property("mode", "instant")  # instant, refine (the default) or paint
config.set_property("presets", "3:1,17:0.5")  # built-in styles 3 and 17, blended 2:1
result = proc.run(config)
status, previews, layer, details = (result.index(i) for i in range(4))
if status != Gimp.PDBStatusType.SUCCESS:
    raise RuntimeError(Gimp.PDB.get_last_error(Gimp.get_pdb()))
image.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
styled = Gio.File.new_for_path("/shared/scriptfu/instant.png")
Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, styled, None)
