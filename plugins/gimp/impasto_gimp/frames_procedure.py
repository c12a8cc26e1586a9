"""The GIMP procedure `plug-in-impasto-stylize-frames` (Filters > Artistic > Style Transfer
(Animation)...): an animation, one layer per frame, painted in a style without flicker.

The frames go to the daemon as one clip job (protocol 1.7): it carries each painted frame to
the next along the motion between them, so a still background stays still and what moves keeps
its brush strokes, where stylizing the layers one by one would paint every frame anew. The
result is a new image with the same frames in the same order and names (their timings with
them); the source image is only read. It is made once the last frame is in, so a Cancel, the
progress window's or GIMP's own (which kills the plug-in: the daemon then cancels the job at
its heartbeat timeout), leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, GObject  # noqa: E402

from impasto_protocol import (  # noqa: E402
    ClipDone,
    ClipRequest,
    FrameDone,
    ImpastoError,
    Progress,
    RemoteError,
    policy,
)
from impasto_protocol.constants import E_UNKNOWN_TYPE  # noqa: E402
from impasto_protocol.modes import Features, Mode  # noqa: E402
from impasto_protocol.submission import GIMP_CLIENT, job_label  # noqa: E402

from . import frames, job, procedures  # noqa: E402
from .settings import Arguments, engine_settings, parse_presets, parse_trained  # noqa: E402

log = logging.getLogger(__name__)

PROC_NAME = "plug-in-impasto-stylize-frames"
DIALOG_TITLE = "Style Transfer (Animation)"
RW = GObject.ParamFlags.READWRITE
# Instant by default: one pass of a network a frame, where an animation has many frames.
DEFAULT_MODE = Mode.INSTANT
# The size a frame is painted at when the `size` argument is 0: the frames' own, at most the
# Normal quality's side (an animation's frames are many; larger ones cost time on each).
DEFAULT_QUALITY = policy.Quality.NORMAL
# The dialog's rows: the mode and styles first, as in Style Transfer's.
LAID_OUT = [
    "mode", "style-file", "style-layer", "presets", "trained", "steadiness", "size", "iterations",
    "endpoint",
]  # fmt: skip
TOO_OLD = (
    "the daemon at {endpoint} is too old for animations: they need its clip jobs (Impasto "
    "protocol 1.7, not a cluster daemon); update it, or choose another in Impasto server"
)


def create(plugin: Gimp.PlugIn, name: str) -> Gimp.Procedure:
    p = Gimp.ImageProcedure.new(plugin, name, Gimp.PDBProcType.PLUGIN, run, None)
    p.set_image_types("*")
    p.set_sensitivity_mask(
        Gimp.ProcedureSensitivityMask.DRAWABLE
        | Gimp.ProcedureSensitivityMask.DRAWABLES
        | Gimp.ProcedureSensitivityMask.NO_DRAWABLES
    )  # an image is needed, whichever layers are selected: every one is a frame
    p.set_menu_label("Style Transfer (Animation)...")
    p.add_menu_path("<Image>/Filters/Artistic")
    p.set_documentation(
        "Paint an animation (one layer a frame) in a style, without flicker",
        "Paints every frame of an animation, its layers from the bottom one up, in the style "
        "of another image, each frame following the one before it so the strokes stay put "
        "where the picture does. The painted frames open as a new image with the same frame "
        "names and timings; the animation itself is left as it was.",
        name,
    )
    p.set_attribution("Impasto", "Impasto", "2026")
    _declare(p)
    return p


def _declare(p: Gimp.Procedure) -> None:
    """The arguments (the dialog is generated from them) and return values. The styles take
    the still procedure's arguments and words, so scripts name them alike."""
    procedures.add_style_arguments(p)
    procedures.add_palette_arguments(p)
    p.add_choice_argument(
        "mode", "Mo_de", "; ".join(f"{m.value}: {m.help}" for m in Mode),
        procedures.mode_choice(), DEFAULT_MODE.value, RW,
    )  # fmt: skip
    p.add_double_argument(
        "steadiness", "Steadi_ness between frames (-1: the usual)",
        "How closely each frame follows the painted frame before it, from 0 (every frame "
        "painted on its own: it flickers) to 1 (the steadiest); -1: the daemon's usual",
        -1.0, 1.0, -1.0, RW,
    )  # fmt: skip
    p.add_int_argument(
        "size", "Si_ze, px (0: the frames', at most 512)",
        "Longer side in pixels to paint each frame at: smaller is faster, and the frames are "
        f"then scaled up to the image (0: the image's, at most {DEFAULT_QUALITY.side})",
        0, 65535, 0, RW,
    )  # fmt: skip
    p.add_int_argument(
        "iterations", "I_terations (0: the usual)",
        "Refine and Paint: the steps the first frame is refined in (each later frame takes "
        "fewer, from the frame before it); more take longer (0: the daemon's usual)",
        0, 100000, 0, RW,
    )  # fmt: skip
    procedures.add_endpoint_argument(p)
    p.add_image_return_value("animation", "Animation", "The new image of painted frames", True, RW)
    p.add_string_return_value(
        "details", "Details", "JSON: job id, frames, size, time, device, settings, ...", "", RW
    )


def run(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: Any,
) -> Gimp.ValueArray:
    if run_mode == Gimp.RunMode.INTERACTIVE and not _settings_dialog(procedure, config):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    return procedures.guarded_run(
        procedure, run_mode, lambda ui: _run(procedure, image, config, ui)
    )


def _run(
    procedure: Gimp.Procedure, image: Gimp.Image, config: Gimp.ProcedureConfig, ui: Any
) -> Gimp.ValueArray:
    animation, details = _stylize(image, config, ui)
    if ui is not None:  # a user started it: show the animation (a script gets it back)
        Gimp.Display.new(animation)
    return procedures.success_values(
        procedure, (Gimp.Image, animation), (GObject.TYPE_STRING, json.dumps(details))
    )


def _settings_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig) -> bool:
    """GIMP's dialog generated from the arguments, the steadiness as a slider; True on OK.
    More style images (`style-paths`) stay for scripts: beside the trained styles' row its
    generated field would take the same mnemonic (the still's dialog has a list instead)."""
    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi  # only when there is a user to talk to

    from . import help_page

    GimpUi.init("impasto-stylize-frames")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, DIALOG_TITLE)
    help_page.own_help(dialog, "animation")
    dialog.get_scale_entry("steadiness", 1.0)
    dialog.fill(LAID_OUT)
    ok = bool(dialog.run())
    dialog.destroy()
    return ok


def _arguments(config: Gimp.ProcedureConfig) -> Arguments:
    return Arguments(
        mode=config.get_property("mode") or DEFAULT_MODE.value,
        presets=config.get_property("presets") or "",
        quality=DEFAULT_QUALITY.value,
        size=config.get_property("size"),
        iterations=config.get_property("iterations"),
        trained=config.get_property("trained") or "",
    )


def _stylize(
    image: Gimp.Image, config: Gimp.ProcedureConfig, ui: Any
) -> tuple[Gimp.Image, dict[str, Any]]:
    """Read the frames, run the clip, and make the new image of its frames."""
    source = frames.read_frames(image)  # a one-layer image is refused before anything else
    args = _arguments(config)
    mix = parse_presets(args.presets)  # a typing slip is reported before the daemon is reached
    others = any(weight > 0 for weight in mix.values()) or bool(parse_trained(args.trained))
    styles = procedures.config_styles(config, presets=others)
    Gimp.progress_init("Style transfer (animation)")
    status = ui.status if ui is not None else (lambda text: Gimp.progress_set_text(text))
    hooks = job.Hooks(idle=ui.pump if ui is not None else (lambda: False), status=status)
    hooks.progress = lambda p: _show_progress(p, status, ui)
    client = job.connect(procedures.plugin_config(), config.get_property("endpoint") or None, hooks)
    try:
        welcome = client.welcome or {}
        if "clip_defaults" not in welcome:
            raise job.DaemonError(TOO_OLD.format(endpoint=client.endpoint))
        steadiness = config.get_property("steadiness")
        request = ClipRequest(
            frames=len(source),
            width=image.get_width(),
            height=image.get_height(),
            layout="RGBA",
            styles=styles,
            settings=_settings(args, welcome, image),
            temporal=steadiness if steadiness >= 0 else None,
            result_layout="RGBA",  # the frames' transparency carried to their results
            label=job_label(GIMP_CLIENT, f"animation {image.get_name() or 'image'}"),
        )
        painted, info, job_id = _clip(client, request, source, hooks)
        Gimp.progress_update(1.0)
        Gimp.progress_end()
    finally:
        client.close()
    named = [frames.Frame(f.name, pixels) for f, pixels in zip(source, painted, strict=True)]
    details = {"job": job_id, "endpoint": client.endpoint, **info}
    details["sent"] = {"settings": request.settings, "temporal": request.temporal}
    return frames.new_animation(image, named), details


def _settings(args: Arguments, welcome: dict[str, Any], image: Gimp.Image) -> dict[str, Any]:
    return engine_settings(
        args,
        welcome.get("defaults", {}),
        (image.get_width(), image.get_height()),
        Features.from_hello(welcome),
        welcome.get("limits", {}),
    )


def _clip(
    client: Any, request: ClipRequest, source: list[frames.Frame], hooks: job.Hooks
) -> tuple[list[Any], dict[str, Any], str]:
    """Send the clip and its frames, then take every painted frame in order: the frames'
    pixels, the result's facts and the job's id. A daemon that answers `clip` as an unknown
    request is too old for animations (it said so by leaving clip_defaults out, too)."""
    try:
        handle = client.clip(request, (frame.pixels for frame in source))
    except RemoteError as exc:
        if exc.code == E_UNKNOWN_TYPE:
            raise job.DaemonError(TOO_OLD.format(endpoint=client.endpoint)) from None
        raise job.DaemonError(f"the daemon refused the animation: {exc}") from None
    except ImpastoError as exc:
        raise job.DaemonError(f"the daemon refused the animation: {exc}") from None
    hooks.status(f"Style transfer: {len(source)} frames sent, waiting for the first")
    painted: list[Any] = []
    done: dict[str, Any] = {}

    def take(event: Any) -> bool:
        if isinstance(event, FrameDone):
            if event.index != len(painted):
                raise job.DaemonError(f"the daemon sent frame {event.index} for {len(painted)}")
            painted.append(event.image)
        elif isinstance(event, Progress):
            hooks.progress(event)
        elif isinstance(event, ClipDone):
            done.update(event.info)
            return True
        return False

    job.follow(client, handle, hooks, take)
    if len(painted) != len(source):
        raise job.DaemonError(f"the daemon sent {len(painted)} of {len(source)} frames")
    return painted, done, handle.id


def frame_line(p: Progress) -> str:
    """ "Style transfer: frame 3 of 12, about 2 min left": the frame being painted (after
    the `iteration` frames done) and the time the daemon expects for the rest; at the end,
    that all are done."""
    if p.total and p.iteration >= p.total:
        return f"Style transfer: all {p.total} frames painted"
    text = f"Style transfer: frame {p.iteration + 1} of {p.total}"
    if p.paused:
        return text + ", waiting while a stylization runs"
    if p.eta is None:
        return text
    return text + f", about {policy.duration(p.eta)} left"


def _show_progress(p: Progress, status: Any, ui: Any) -> None:
    fraction = p.iteration / p.total if p.total else 0.0
    Gimp.progress_update(fraction)
    line = frame_line(p)
    log.info("progress: %s", line)  # (IMPASTO_GIMP_DEBUG=1: what the user read, in the log)
    status(line)
    if ui is not None:
        ui.fraction(fraction)
