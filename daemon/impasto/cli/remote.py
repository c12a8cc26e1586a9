"""`impasto ping|submit|status|watch|cancel|shutdown`: drive a daemon from the command line
and from scripts.

    JOB=$(impasto submit photo.jpg style.jpg --size 1024)
    impasto watch "$JOB" -o out.png

These commands speak the wire protocol (protocol/SPEC.md) through impasto_protocol and never
load the engine: no torch, so they start in a fraction of a second. Reaching the daemon is
daemon_client.py's, following a job job_view.py's, and building a job from files (and `impasto
stylize --daemon`) stylize_on_daemon.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impasto_protocol import policy
from impasto_protocol.errors import JobCancelled
from impasto_protocol.messages import (
    MAX_LABEL,
    MAX_PRIORITY,
    PREVIEW_EVERY,
    PREVIEW_SIZE,
    PROGRESS_EVERY,
    Cancelled,
    Result,
    Submit,
)

from ..engine.settings import InitMode
from .daemon_client import (
    add_connection_options,
    connected_client,
    curve_keys,
    endpoint_option,
    make_client,
    say_hello,
)
from .errors import CliError
from .image_files import NO_ALPHA_FORMATS, check_output, open_image, output_format, save_atomically
from .job_view import (
    EXIT_CANCELLED,
    ProgressView,
    follow,
    make_folder,
    preview_saver,
    result_line,
    result_summary,
)
from .options import (
    add_job_style_options,
    add_settings_options,
    check_styles_and_method,
    init_choice,
    option_name,
    preset_fields,
    settings_from_args,
)
from .stylize_on_daemon import given_settings, submit_job, to_pixels

if TYPE_CHECKING:
    pass


# -- options ----------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_connection_options(common)

    p = sub.add_parser(
        "ping",
        parents=[common],
        help="check that a daemon answers",
        description="Say hello to the daemon and print the round trip, its version, device "
        "and whether its model is loaded.",
    )
    p.add_argument("--json", action="store_true", help="print hello's answer as one JSON object")
    p.set_defaults(func=ping)

    p = sub.add_parser(
        "submit",
        parents=[common],
        help="queue a job on a daemon and print its id",
        description="Send CONTENT and STYLE images to the daemon and print the new job's id, "
        "one line on stdout, so that JOB=$(impasto submit ...) works. Follow the job with "
        "`impasto watch JOB -o OUT`.",
    )
    p.add_argument("content", metavar="CONTENT", help="the image to stylize")
    p.add_argument(
        "styles", metavar="STYLE", nargs="*", help="style image(s); none with --preset alone"
    )
    add_job_style_options(p, "fast")
    p.add_argument(
        "--init-job",
        metavar="JOB",
        help="start from that job's result (or the image it had reached when cancelled)",
    )
    p.add_argument(
        "--mask",
        metavar="PATH",
        help="grey image of the content's size: white is stylized, black keeps the content",
    )
    p.add_argument(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help=f"-{MAX_PRIORITY}..{MAX_PRIORITY}, higher runs first (default: 0)",
    )
    p.add_argument("--label", default="", help="a name for the job in `impasto status`")
    p.add_argument(
        "--detach",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the job when this command's connection goes away (default: on). This "
        "command exits as soon as the daemon accepts the job, and the daemon cancels the "
        "jobs of a client it stops hearing from unless they are detached: with --no-detach "
        "the job is cancelled a heartbeat timeout after submit returns",
    )
    p.add_argument(
        "--preview-every",
        type=int,
        default=PREVIEW_EVERY,
        metavar="K",
        help="make a preview every K iterations, for `impasto watch --previews` (default: none)",
    )
    p.add_argument(
        "--preview-size",
        type=int,
        default=PREVIEW_SIZE,
        metavar="PX",
        help="longer side of the previews, at most (default: %(default)s)",
    )
    p.add_argument(
        "--progress-every",
        type=int,
        default=PROGRESS_EVERY,
        metavar="K",
        help="report progress every K iterations (default: %(default)s)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="stop when this time is spent and deliver the current image",
    )
    add_settings_options(p)
    p.set_defaults(func=submit)

    p = sub.add_parser(
        "watch",
        parents=[common],
        help="follow a job to its end and save its result",
        description="Show a job's progress until it ends. Exit status: 0 when it is done, "
        "1 when it was cancelled, 2 when it failed (the daemon's message on stderr).",
    )
    p.add_argument("job", metavar="JOB", help="the job id that `impasto submit` printed")
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="save the result to this image file (a clip job's frames: to a video, an animation, "
        "a folder or a pattern like frames/%%04d.png, at 25 frames per second)",
    )
    p.add_argument(
        "--previews",
        metavar="DIR",
        help="save previews here as preview-<iteration>.png (when the job makes them: "
        "`impasto submit --preview-every K`)",
    )
    p.add_argument("--json", action="store_true", help="print the result's facts as JSON")
    p.set_defaults(func=watch)

    p = sub.add_parser(
        "status",
        parents=[common],
        help="show the daemon's jobs, or one job",
        description="Show the daemon's state and the jobs it keeps, or one job in detail.",
    )
    p.add_argument("job", metavar="JOB", nargs="?", help="show only this job")
    p.add_argument("--json", action="store_true", help="print the daemon's answer as JSON")
    p.set_defaults(func=status)

    p = sub.add_parser(
        "cancel",
        parents=[common],
        help="cancel a job",
        description="Cancel a queued or running job and print the state it was in.",
    )
    p.add_argument("job", metavar="JOB")
    p.set_defaults(func=cancel)

    p = sub.add_parser(
        "shutdown",
        parents=[common],
        help="stop the daemon",
        description="Stop the daemon; its unfinished jobs are cancelled. Allowed to local and "
        "authenticated (CurveZMQ) clients only.",
    )
    p.set_defaults(func=shutdown)


# -- connecting -------------------------------------------------------------------------------


# -- ping, status, cancel, shutdown -----------------------------------------------------------


def ping(args: argparse.Namespace) -> int:
    with connected_client(args) as client:
        welcome = client.welcome or {}
        rtt = client.ping()
    if args.json:
        print(json.dumps({"endpoint": client.endpoint, "round_trip_ms": rtt * 1000, **welcome}))
        return 0
    version = ".".join(str(v) for v in welcome.get("version", []))
    state = "ready" if welcome.get("ready") else "starting (loading its model)"
    print(
        f"{client.endpoint}: {welcome.get('daemon', '?')} (protocol {version}), {state}, "
        f"{welcome.get('device', '?')}; round trip {rtt * 1000:.2f} ms"
    )
    return 0


def status(args: argparse.Namespace) -> int:
    with connected_client(args) as client:
        body = client.status(args.job)
    if args.json:
        print(json.dumps(body))
    elif args.job:
        _print_job(body.get("job") or {})
    else:
        _print_daemon(client.endpoint, body)
    return 0


def _print_daemon(endpoint: str, body: dict[str, Any]) -> None:
    counts = body.get("counts") or {}
    done = ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no jobs"
    print(
        f"{endpoint}: {'ready' if body.get('ready') else 'starting'}, "
        f"up {_duration(body.get('uptime'))}, {body.get('clients', 0)} client(s), {done}"
    )
    workers = body.get("workers") or []
    if len(workers) > 1:  # (a 1.3 daemon sends none; one engine needs no list)
        for i, w in enumerate(workers):
            doing = w.get("job") or ("idle" if w.get("ready") else "loading")
            print(f"engine {i} on {w.get('device') or '?'}: {doing}")
    jobs = body.get("jobs") or []
    if not jobs:
        return
    rows = [("JOB", "STATE", "PROGRESS", "PRIO", "AGE", "DEVICE", "LABEL")]
    now = time.time()
    for j in jobs:
        state = str(j.get("state", "?"))
        if state == "queued" and j.get("position"):
            state += f" #{j['position']}"
        submitted = j.get("submitted")
        rows.append(
            (
                str(j.get("job", "?")),
                state,
                f"{j.get('iteration', 0)}/{j.get('total', 0)}",
                str(j.get("priority", 0)),
                _duration(now - submitted) if isinstance(submitted, (int, float)) else "-",
                _device(j),
                str(j.get("label", "")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
        print(line.rstrip())


def _print_job(j: dict[str, Any]) -> None:
    now = time.time()
    lines: list[tuple[str, str]] = [
        ("job", str(j.get("job", "?"))),
        ("state", str(j.get("state", "?"))),
        ("progress", f"{j.get('iteration', 0)}/{j.get('total', 0)} {_counted(j)}"),
    ]
    if j.get("kind") == "train":
        lines.append(("trains", str(j.get("name", "?"))))
    if j.get("state") == "queued":
        lines.append(("position", str(j.get("position", "?"))))
    lines += [
        ("label", str(j.get("label", ""))),
        ("priority", str(j.get("priority", 0))),
        ("detached", "yes" if j.get("detach") else "no"),
        ("device", _device(j)),
    ]
    for key in ("submitted", "started", "finished"):
        t = j.get(key)
        if isinstance(t, (int, float)):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
            lines.append((key, f"{stamp} ({_duration(now - t)} ago)"))
    if j.get("reason"):
        lines.append(("reason", str(j["reason"])))
    error = j.get("error")
    if isinstance(error, dict):
        where = f"{error.get('field')}: " if error.get("field") else ""
        lines.append(("error", f"{where}{error.get('message')} [{error.get('code')}]"))
    for key, value in lines:
        print(f"{key + ':':<11}{value}")


def _counted(j: dict[str, Any]) -> str:
    """What a job's progress counts: a training's steps (1.6), else iterations."""
    return "steps" if j.get("kind") == "train" else "iterations"


def _device(j: dict[str, Any]) -> str:
    """Where a started job runs or ran: its engine's number and device (1.4 daemons)."""
    if j.get("worker") is None:
        return "-"
    return f"{j['worker']}:{j.get('device') or '?'}"


def _duration(seconds: Any) -> str:
    return policy.duration(seconds) if isinstance(seconds, (int, float)) else "?"


def cancel(args: argparse.Namespace) -> int:
    with connected_client(args) as client:
        body = client.cancel(args.job)
    state = body.get("state", "?")
    if body.get("cancelled"):
        print(f"cancelled job {args.job} (it was {state})")
    else:
        print(f"job {args.job} had already finished ({state}); nothing to cancel")
    return 0


def shutdown(args: argparse.Namespace) -> int:
    with connected_client(args) as client:
        body = client.shutdown()
    n = body.get("jobs_cancelled", 0)
    print(f"the daemon at {client.endpoint} is shutting down ({n} unfinished job(s) cancelled)")
    return 0


# -- submit -----------------------------------------------------------------------------------


def _check_job_options(args: argparse.Namespace) -> None:
    if not -MAX_PRIORITY <= args.priority <= MAX_PRIORITY:
        raise CliError(f"--priority: must be in -{MAX_PRIORITY}..{MAX_PRIORITY}")
    if len(args.label) > MAX_LABEL:
        raise CliError(f"--label: at most {MAX_LABEL} characters")
    for name in ("progress_every", "preview_every"):
        low = 1 if name == "progress_every" else 0
        if getattr(args, name) < low:
            raise CliError(f"{option_name(name)}: must be >= {low}, got {getattr(args, name)}")
    if not 16 <= args.preview_size <= 65535:
        raise CliError(f"--preview-size: must be in 16..65535, got {args.preview_size}")
    if args.time_budget is not None and not args.time_budget > 0:
        raise CliError(f"--time-budget: must be > 0 seconds, got {args.time_budget}")


def submit(args: argparse.Namespace) -> int:
    _check_job_options(args)
    if args.init is not None and args.init_job is not None:
        raise CliError("--init and --init-job: give one, not both")
    init_mode, init_value = init_choice(args.init)
    init_path = Path(init_value) if init_value else None
    extra: dict[str, Any] = {"init": init_mode} if args.init_job is None else {}
    extra |= preset_fields(args)
    settings = settings_from_args(args, **extra).validate()  # the daemon checks again
    check_styles_and_method(args, settings)
    wire = given_settings(args)
    if args.init is not None and init_mode is not InitMode.IMAGE:  # else the daemon's default
        wire["init"] = init_mode.value
    endpoint = endpoint_option(args.endpoint)
    curve = curve_keys(args)
    content = open_image(Path(args.content), "content image")
    job = Submit(
        content=to_pixels(content),
        styles=[
            to_pixels(open_image(Path(s), f"style image {i + 1}"))
            for i, s in enumerate(args.styles)
        ],
        settings=wire,
        mask=to_pixels(open_image(Path(args.mask), "mask"), mask=True) if args.mask else None,
        init_image=to_pixels(open_image(init_path, "init image")) if init_path else None,
        init_job=args.init_job,
        priority=args.priority,
        progress_every=args.progress_every,
        preview_every=args.preview_every,
        preview_size=args.preview_size,
        detach=args.detach,
        label=args.label,
        time_budget=args.time_budget,
    )
    with make_client(args, endpoint, curve) as client:
        say_hello(client)
        handle = submit_job(client, job)
    print(handle.id)
    return 0


# -- watch ------------------------------------------------------------------------------------


def watch(args: argparse.Namespace) -> int:
    with connected_client(args) as client:
        if client.status(args.job)["job"].get("kind") == "clip":
            from .watch_clip import watch_clip

            return watch_clip(args, client, args.job)
    return _watch_still(args)


def _watch_still(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    fmt = None
    if output is not None:
        check_output(output, [])
        fmt = output_format(output)
    previews = Path(args.previews) if args.previews else None
    if previews is not None:
        make_folder(previews, "--previews")
    with connected_client(args) as client:
        handle = client.watch(args.job)
        view = ProgressView(lines=True, prefix=f"{handle.id}: ")
        accepted = handle.accepted
        where = f" (position {accepted['position']})" if accepted.get("position") else ""
        view.note(f"{accepted.get('state', '?')}{where}")
        try:
            saver = preview_saver(previews, "preview-{:05d}.png") if previews else None
            outcome = follow(handle, view, saver)
        finally:
            view.close()
    if isinstance(outcome, Cancelled):
        print(f"impasto watch: {JobCancelled(handle.id, outcome.reason)}", file=sys.stderr)
        return EXIT_CANCELLED
    if not isinstance(outcome, Result):
        raise CliError(f"job {handle.id} ended without a picture")
    image = outcome.image.to_pil()
    if output is not None:
        assert fmt is not None
        if fmt in NO_ALPHA_FORMATS and "A" in image.mode:
            raise CliError(f"{output}: {fmt} cannot store the result's transparency; use .png")
        save_atomically(image, output, fmt)
    if args.json:
        print(json.dumps(result_summary(outcome, output, handle.id, client.endpoint)))
    elif output is not None:
        print(result_line(outcome, f"wrote {output}"))
    else:
        print(result_line(outcome, f"job {handle.id} done"))
    return 0


# -- stylize --daemon -------------------------------------------------------------------------


# -- --daemon auto ----------------------------------------------------------------------------
