# Runs inside gimp-console-3.0 (python-fu-eval) in the trixie root: loads the content image,
# selects a rectangle, calls plug-in-impasto-stylize non-interactively and records evidence for
# pytest in /shared/out/<name>/. Raising makes GIMP exit non-zero: the exit code decides the test.
import hashlib
import json
import os

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402


def _params():
    with open("/shared/params.json") as f:
        return json.load(f)


def _pixels(drawable, fmt="R'G'B'A u8"):
    w, h = drawable.get_width(), drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, w, h)
    return bytes(drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.CLAMP))


def _save(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _main():
    p = _params()
    out = p["out"]
    os.makedirs(out, exist_ok=True)
    evidence = {"phase": "start"}
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(p["content"]))
    source = image.get_layers()[0]
    evidence["source_before"] = _save(out, "source_before.rgba", _pixels(source))
    x, y, w, h = p["selection"]
    image.select_rectangle(Gimp.ChannelOps.REPLACE, x, y, w, h)
    evidence["undo_enabled_before"] = image.undo_is_enabled()
    evidence["layers_before"] = len(image.get_layers())

    proc = Gimp.get_pdb().lookup_procedure("plug-in-impasto-stylize")
    if proc is None:
        raise RuntimeError("plug-in-impasto-stylize is not registered")
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [source])
    cfg.set_property("style-file", Gio.File.new_for_path(p["style"]))
    for name, value in p["arguments"].items():
        cfg.set_property(name, value)
    with open(os.path.join(out, "evidence.json"), "w") as f:
        json.dump({**evidence, "phase": "running"}, f)  # the kill test waits for this
    result = proc.run(cfg)
    status = result.index(0)
    evidence["status"] = status.value_nick
    evidence["error"] = (
        Gimp.PDB.get_last_error(Gimp.get_pdb()) if status != Gimp.PDBStatusType.SUCCESS else None
    )
    evidence["source_after"] = _save(out, "source_after.rgba", _pixels(source))
    evidence["undo_enabled_after"] = image.undo_is_enabled()
    layers = image.get_layers()
    evidence["layers_after"] = [layer.get_name() for layer in layers]
    if status == Gimp.PDBStatusType.SUCCESS:
        evidence["previews"] = result.index(1)
        layer = result.index(2)
        evidence["details"] = json.loads(result.index(3))
        _, ox, oy = layer.get_offsets()
        evidence["result"] = {
            "name": layer.get_name(),
            "offsets": [ox, oy],
            "size": [layer.get_width(), layer.get_height()],
            "position": image.get_item_position(layer),
            "source_position": image.get_item_position(source),
            "sha256": _save(out, "result.rgba", _pixels(layer)),
        }
        # What a user's Filters > Repeat would run on: the layer, not its mask.
        evidence["result"]["edit_mask"] = layer.get_edit_mask()
        evidence["result"]["selected"] = [
            [d.get_name(), isinstance(d, Gimp.LayerMask)] for d in image.get_selected_drawables()
        ]
        mask = layer.get_mask()
        evidence["result"]["mask"] = mask is not None and _save(
            out, "mask.y", _pixels(mask, "Y u8")
        )
        dup = image.duplicate()
        merged = dup.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        evidence["composite"] = _save(out, "composite.rgba", _pixels(merged))
        saved = Gimp.file_save(
            Gimp.RunMode.NONINTERACTIVE,
            dup,
            Gio.File.new_for_path(os.path.join(out, "export.png")),
            None,
        )
        evidence["exported"] = bool(saved)
        dup.delete()
    if p.get("again"):  # the same again, after a killed run left its unfinished layer
        leftover = Gimp.Layer.new(
            image, layers[0].get_name() + " (unfinished)", 8, 8, Gimp.ImageType.RGBA_IMAGE,
            100.0, Gimp.LayerMode.NORMAL,
        )  # fmt: skip
        image.insert_layer(leftover, None, image.get_item_position(source))
        evidence["again_layers_before"] = [layer.get_name() for layer in image.get_layers()]
        again = proc.run(cfg)
        evidence["again_status"] = again.index(0).value_nick
        evidence["again_layers"] = [layer.get_name() for layer in image.get_layers()]
        evidence["again_position"] = image.get_item_position(again.index(2))
        again_details = json.loads(again.index(3))
        evidence["again_leftovers"] = again_details["leftovers_removed"]
        evidence["again_hidden_by"] = again_details["first_preview_hidden_by"]
    evidence["phase"] = "done"
    with open(os.path.join(out, "evidence.json"), "w") as f:
        json.dump(evidence, f, indent=1)


_main()
