"""The GIMP procedure `plug-in-impasto-stylize`: its arguments, return values and run function.

Every setting is a procedure argument, so the filter runs the same from the menu (a dialog
generated from the arguments), from the Python console, Script-Fu or `gimp-console-3.0 -b`.
GIMP's procedure config remembers the last values between runs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, GObject  # noqa: E402

import impasto_protocol  # noqa: E402
from impasto_protocol import Pixels, Preview, Progress, policy  # noqa: E402
from impasto_protocol.modes import DEFAULT_MODE, Mode  # noqa: E402
from impasto_protocol.submission import (  # noqa: E402
    GIMP_CLIENT,
    JobRefused,
    build_submit,
    job_label,
)

from . import (  # noqa: E402
    estimate,
    frames_procedure,
    job,
    layers,
    procedures,
    train_procedure,
)
from .prefetch import Prefetch  # noqa: E402
from .procedures import (  # noqa: E402
    add_endpoint_argument,
    add_palette_arguments,
    add_style_arguments,
    config_styles,
    guarded_run,
    mode_choice,
    plugin_config,
    success_values,
)
from .settings import (  # noqa: E402
    Arguments,
    Features,
    config_style_files,
    engine_settings,
    parse_presets,
    parse_trained,
)

log = logging.getLogger(__name__)

PROC_NAME = "plug-in-impasto-stylize"
RW = GObject.ParamFlags.READWRITE
# Automatic first, as the default: what finishes in reasonable time on the daemon's device.
QUALITY_LABELS = {
    policy.AUTOMATIC: f"{policy.AUTOMATIC_LABEL} (up to about "
    f"{policy.duration(policy.REASONABLE_SECONDS)} here)",
    **{q.value: q.label for q in policy.Quality},
}


def _choice(values: dict[str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for i, (nick, label) in enumerate(values.items()):
        choice.add(nick, i, label, "")
    return choice


def _colour_choice() -> Gimp.Choice:
    """`preserve-colors`' values (the protocol's) with what each does, in a painter's words."""
    choice = Gimp.Choice.new()
    for i, value in enumerate(policy.COLOR_LABELS):
        choice.add(value, i, policy.COLOR_LABELS[value], policy.COLOR_HELP[value])
    return choice


def declare(p: Gimp.Procedure) -> None:
    """The arguments and return values; the dialog is generated from them. Each label's
    mnemonic is unique and avoids the dialog buttons' (_Help, _Reset, _Cancel, _OK, _Load
    Saved Settings, _Save Settings): GimpUi reports every clash when the dialog opens.
    Arguments added later go last, so that Script-Fu calls by position keep working."""
    add_style_arguments(p)
    p.add_double_argument(
        "strength", "Stre_ngth",
        "How much the style changes the photo: 0 leaves the photo as it is, 25 lays the "
        "painting over it at half, 50 paints the style as the daemon does by default, 100 "
        "pushes it furthest (the scale Krita's slider shows)",
        0.0, policy.STRENGTH_MAX, policy.DEFAULT_STRENGTH, RW,
    )  # fmt: skip
    p.add_choice_argument(
        "quality", "_Quality",
        "Size and iterations: draft 256 px, a third of the iterations; normal 512 px; high 1024 px,"
        " twice the iterations; full size: the layer's own resolution (slow on a CPU);"
        " automatic: the finest of draft, normal and high that the daemon expects to finish in"
        f" about {policy.duration(policy.REASONABLE_SECONDS)} on its device",
        _choice(QUALITY_LABELS), policy.AUTOMATIC, RW,
    )  # fmt: skip
    p.add_choice_argument(
        "preserve-colors", "Colo_urs",
        "; ".join(policy.COLOR_HELP.values()),
        _colour_choice(),
        "none", RW,
    )  # fmt: skip
    p.add_int_argument(
        "size", "Si_ze, px (0: the quality's)",
        "Longer side in pixels to paint at: smaller is faster, and the result is then scaled "
        "up to the layer (0: from the quality)",
        0, 65535, 0, RW,
    )  # fmt: skip
    p.add_int_argument(
        "iterations", "I_terations (0: the quality's)",
        "How many steps the painting is refined in: more take longer (0: from the quality)",
        0, 100000, 0, RW,
    )  # fmt: skip
    p.add_int_argument(
        "preview-every", "_Preview every N iterations (-1: auto)",
        "Iterations between live previews (-1: about 30 a job, at most 10 apart; 0: none)",
        -1, 100000, -1, RW,
    )  # fmt: skip
    p.add_int_argument(
        "padding", "Mar_gin around a selection, px (-1: auto)",
        "Pixels around the selection sent along as context (-1: a tenth of its longer side)",
        -1, 4096, -1, RW,
    )  # fmt: skip
    p.add_string_argument(
        "advanced", "E_xpert engine settings (e.g. seed=3)",
        "For experts: more settings of the painting engine, each as name=value with ';' "
        "between, e.g. seed=3 (another variation of the same painting), tv_weight=0.1 "
        "(smoother areas), pooling=avg, style_scale=0.5; the names are listed in the daemon's "
        "protocol (SPEC.md section 10)",
        "", RW,
    )  # fmt: skip
    add_endpoint_argument(p)
    p.add_choice_argument(
        "mode", "Mo_de",
        "; ".join(f"{m.value}: {m.help}" for m in Mode),
        mode_choice(), DEFAULT_MODE.value, RW,
    )  # fmt: skip
    add_palette_arguments(p)
    p.add_int_return_value(
        "previews", "Previews", "Previews written to the result layer before the result",
        0, 2**31 - 1, 0, RW,
    )  # fmt: skip
    p.add_layer_return_value("result-layer", "Result layer", "The new layer", True, RW)
    p.add_string_return_value(
        "details", "Details", "JSON: job id, iterations, time, device, weights, ...", "", RW
    )


class ImpastoPlugIn(Gimp.PlugIn):
    def do_query_procedures(self) -> list[str]:
        return [PROC_NAME, frames_procedure.PROC_NAME, train_procedure.PROC_NAME]

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        if name == train_procedure.PROC_NAME:
            return train_procedure.create(self, name)
        if name == frames_procedure.PROC_NAME:
            return frames_procedure.create(self, name)
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_image_types("RGB*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        p.set_menu_label("Style Transfer...")
        p.add_menu_path("<Image>/Filters/Artistic")
        p.set_documentation(
            "Neural style transfer with the Impasto daemon",
            "Paints the layer (or the selection) in the style of another image, as a new layer "
            "on top of the layers beside it, with live previews while it runs. One undo removes "
            "it.",
            name,
        )
        p.set_attribution("Impasto", "Impasto", "2026")
        declare(p)
        return p


def run(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: Any,
) -> Gimp.ValueArray:
    prefetch: Prefetch | str | None = None
    if run_mode == Gimp.RunMode.INTERACTIVE:
        ok, prefetch = _settings_dialog(procedure, image, drawables, config)
        if not ok:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)

    def work(ui: Any) -> Gimp.ValueArray:
        if isinstance(prefetch, Prefetch):
            if ui is not None and prefetch.endpoint == (config.get_property("endpoint") or None):
                # The palette's worker may still be starting this daemon: let it finish, or
                # the job would start a second one.
                ui.follow(prefetch)
                prefetch.wait(ui.pump)
            else:
                prefetch.stop()  # the user chose another daemon in the dialog
        return _run(procedure, image, drawables, config, ui)

    return guarded_run(procedure, run_mode, work)


def _settings_dialog(
    procedure: Gimp.Procedure,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
) -> tuple[bool, Prefetch | str]:
    """The settings dialog, with the palette fetched meanwhile: whether OK was pressed, and
    the palette's worker (or why there is none)."""
    from . import dialog  # GimpUi and Gtk only when there is a user to talk to

    prefetch = _prefetch(config)
    estimate_input = _estimate_input(image, drawables, config)
    if dialog.settings_dialog(procedure, config, prefetch, estimate_input):
        return True, prefetch
    if isinstance(prefetch, Prefetch):
        prefetch.stop()
    return False, prefetch


def _prefetch(config: Gimp.ProcedureConfig) -> Prefetch | str:
    """The worker that fetches the palette while the dialog is open, or why there is none."""
    try:
        daemon_config = plugin_config()
    except job.DaemonError as exc:
        return str(exc)
    return Prefetch(daemon_config, config.get_property("endpoint") or None)


def _arguments(config: Gimp.ProcedureConfig) -> Arguments:
    return Arguments(
        mode=config.get_property("mode") or DEFAULT_MODE.value,
        presets=config.get_property("presets") or "",
        strength=config.get_property("strength"),
        quality=config.get_property("quality"),
        preserve_colors=config.get_property("preserve-colors"),
        size=config.get_property("size"),
        iterations=config.get_property("iterations"),
        advanced=config.get_property("advanced") or "",
        trained=config.get_property("trained") or "",
    )


def _estimate_input(
    image: Gimp.Image, drawables: list[Gimp.Drawable], config: Gimp.ProcedureConfig
) -> Any:
    """For the dialog's estimate line: the arguments, the size of the pixels OK would send
    (the selection and its context, or the layer) and the number of style images named."""

    def current() -> tuple[Arguments, tuple[int, int], int] | None:
        if len(drawables) != 1:
            return None
        try:
            where = layers.region(image, drawables[0], config.get_property("padding"))
        except layers.HostError:
            return None
        named = len(config_style_files(config)) + (config.get_property("style-layer") is not None)
        return _arguments(config), (where.width, where.height), named

    return current


def _run(
    procedure: Gimp.Procedure,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    ui: Any,
) -> Gimp.ValueArray:
    if len(drawables) != 1:
        raise layers.HostError(f"select exactly one layer (there are {len(drawables)} selected)")
    source = drawables[0]
    fmt = layers.source_format(image, source)
    where = layers.region(image, source, config.get_property("padding"))
    args = _arguments(config)
    # Syntax first, so a typing slip is reported before the daemon is even reached.
    mix = parse_presets(args.presets)
    others = any(weight > 0 for weight in mix.values()) or bool(parse_trained(args.trained))
    styles = config_styles(config, presets=others)
    content = layers.read(source, where, fmt)
    mask = layers.selection_mask(image, source, where)

    Gimp.progress_init("Style transfer")
    status = ui.status if ui is not None else (lambda text: Gimp.progress_set_text(text))
    hooks = job.Hooks(idle=ui.pump if ui is not None else (lambda: False), status=status)
    daemon_config = plugin_config()
    client = job.connect(daemon_config, config.get_property("endpoint") or None, hooks)
    try:
        args, submit = _job(client, args, config, image, where, content, styles, mask, fmt)
        started = time.monotonic()
        leftovers = layers.remove_leftovers(image, source)
        hooks.progress = lambda p: _show_progress(p, status, ui, args.mode)
        outcome, result_layer, undo_group, shown = _paint(
            image, source, where, client, submit, hooks
        )
        Gimp.progress_update(1.0)
        Gimp.progress_end()
    finally:
        client.close()
    details = _details(outcome, client.endpoint, time.monotonic() - started)
    details["mode"] = args.mode
    details["undo_group"] = undo_group  # what the core answered to start and end
    details["leftovers_removed"] = leftovers
    details["first_preview_hidden_by"] = shown.get("hidden_by")
    return success_values(
        procedure,
        (GObject.TYPE_INT, outcome.previews),
        (Gimp.Layer, result_layer.layer),
        (GObject.TYPE_STRING, json.dumps(details)),
    )


def _job(
    client: Any,
    args: Arguments,
    config: Gimp.ProcedureConfig,
    image: Gimp.Image,
    where: Any,
    content: Pixels,
    styles: list[Pixels],
    mask: Pixels | None,
    fmt: Any,
) -> tuple[Arguments, Any]:
    """The arguments with Automatic quality resolved, and the submit for this daemon."""
    welcome = client.welcome or {}
    args, quality_words = estimate.resolve(client, args, (where.width, where.height), len(styles))
    log.info("quality: %s", quality_words)  # what the dialog's estimate line said
    settings = engine_settings(
        args,
        welcome.get("defaults", {}),
        (where.width, where.height),
        Features.from_hello(welcome),
        welcome.get("limits", {}),
    )
    try:
        submit = build_submit(
            content,
            styles,
            settings,
            welcome,
            label=job_label(GIMP_CLIENT, _image_name(image)),
            previews=config.get_property("preview-every"),
            mask=mask,
            result_layout=fmt.layout if fmt.layout in ("RGB", "RGBA") else "RGBA",
            result_dtype=fmt.dtype,  # the source's depth: no 8-bit bands in a 16-bit image
        )
    except JobRefused as e:  # ZeroMQ would drop the connection, the request unanswered
        raise layers.HostError(f"{e}: select a smaller area, or scale the image down") from None
    return args, submit


def _paint(
    image: Gimp.Image, source: Gimp.Drawable, where: Any, client: Any, submit: Any, hooks: Any
) -> tuple[job.Outcome, layers.ResultLayer, list[bool], dict[str, Any]]:
    """Run the job with its previews in the new layer, then the result into the same layer,
    all in one undo group. Returns the outcome, the result's layer, what the core answered to
    the undo group's start and end, and where the first preview landed."""
    # The group is open from the preview layer's birth to the result: GIMP's own Cancel in
    # the status bar kills the plug-in (no Python clean-up runs) and GIMP's clean-up then
    # closes the group, so the "(unfinished)" layer it leaves is one undo step, the one the
    # next Ctrl+Z removes. (Added with the stack frozen, it would stay outside the history,
    # and Ctrl+Z would remove the user's step before it instead.) The price, since GIMP 3.0
    # lets a plug-in neither drop nor undo a step: a run cancelled in its window, or failed,
    # leaves one step that changes nothing, and edits made during the job join the step.
    undo_group = [bool(image.undo_group_start())]
    try:
        with layers.same_selected_layers(image) as kept:
            result_layer = layers.ResultLayer(image, source, where)
            # Where the first preview landed, for the details: a second run's must be seen.
            shown: dict[str, Any] = {}
            hooks.preview = lambda p: _show_preview(result_layer, p, shown)
            try:
                outcome = job.run(client, submit, hooks)
            except BaseException:
                result_layer.remove()  # a Cancel or an error: the image is as it was
                raise
            result_layer.finish(outcome.result.image)
            kept.clear()  # the result stays selected, as GIMP selects a new layer
    finally:
        undo_group.append(bool(image.undo_group_end()))
    return outcome, result_layer, undo_group, shown


def _image_name(image: Gimp.Image) -> str:
    gfile = image.get_file()
    return (gfile.get_basename() if gfile is not None else None) or image.get_name() or "image"


def _show_preview(result_layer: layers.ResultLayer, preview: Preview, shown: dict) -> None:
    result_layer.write(preview.image)
    shown.setdefault("hidden_by", result_layer.hidden_by())


def _show_progress(progress: Progress, status: Any, ui: Any, mode: str) -> None:
    fraction = progress.fraction  # by time: the finer scales' iterations cost more
    text = policy.progress_line(mode, progress.iteration, progress.total, progress.eta)
    Gimp.progress_update(fraction)
    status(text)
    if ui is not None:
        ui.fraction(fraction)


def _details(outcome: job.Outcome, endpoint: str, seconds: float) -> dict[str, Any]:
    import msgpack
    import zmq

    info = outcome.result.info
    return {
        "job": outcome.job,
        "endpoint": endpoint,
        "previews": outcome.previews,
        "preview_iterations": outcome.preview_iterations,
        "iterations": info.get("iterations"),
        "elapsed": info.get("elapsed"),
        "wall": round(seconds, 3),
        "device": info.get("device"),
        "weights": info.get("weights"),
        "stopped": info.get("stopped"),
        "scales": info.get("scales"),  # [width, height, iterations] per size it computed at
        "settings": info.get("settings"),
        # Which copies were imported: the installer's vendored ones or the system's.
        "modules": {
            "zmq": zmq.__file__,
            "pyzmq": zmq.__version__,
            "msgpack": msgpack.__file__,
            "impasto_protocol": impasto_protocol.__file__,
            "python": sys.version.split()[0],
        },
    }


def main(plugin_dir: str, argv: list[str]) -> None:
    level = logging.DEBUG if os.environ.get("IMPASTO_GIMP_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="impasto-gimp: %(message)s")
    procedures.set_plugin_dir(plugin_dir)
    Gimp.main(ImpastoPlugIn.__gtype__, argv)
