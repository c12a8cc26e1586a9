"""`impasto ping|submit|status|watch|cancel|shutdown`, and `impasto stylize --daemon`: drive a
daemon from the command line and from scripts.

    JOB=$(impasto submit photo.jpg style.jpg --size 1024)
    impasto watch "$JOB" -o out.png

These commands speak the wire protocol (protocol/SPEC.md) through impasto_protocol and never
load the engine: no torch, so they start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zmq

from impasto_protocol import messages as M
from impasto_protocol.client import Client, JobHandle
from impasto_protocol.constants import CANCEL_REPLY, HEARTBEAT_TIMEOUT, HELLO_REPLY
from impasto_protocol.curve import ClientKeys
from impasto_protocol.endpoint import (
    EndpointError,
    default_endpoint,
    parse,
)
from impasto_protocol.errors import ConnectionLost, ImpastoError, JobCancelled, RemoteError
from impasto_protocol.launcher import (
    DEFAULT_START_TIMEOUT,
    DaemonStartError,
    PluginConfig,
    default_log_path,
    nothing_listening,
    start_daemon,
)
from impasto_protocol.messages import MAX_PRIORITY, Cancelled, Preview, Progress, Result, Submit
from impasto_protocol.pixels import Pixels

from .. import __version__
from ..engine.settings import InitMode, StyleSettings, settings_fields
from .errors import CliError
from .options import (
    add_job_style_options,
    add_settings_options,
    check_styles_and_method,
    init_choice,
    option_name,
    preset_fields,
    settings_from_args,
)
from .stylize import (
    _NO_ALPHA_FORMATS,
    _check_output,
    _jsonable,
    _open_image,
    _output_format,
    _save_atomically,
)

if TYPE_CHECKING:
    from PIL import Image

CLIENT_NAME = f"impasto-cli {__version__}"
READY_TIMEOUT = DEFAULT_START_TIMEOUT  # how long `--daemon auto` waits for the daemon it started
READY_POLL = 0.2
EXIT_CANCELLED = 1


# -- options ----------------------------------------------------------------------------------


def add_connection_options(p: argparse.ArgumentParser, endpoint: bool = True) -> None:
    g = p.add_argument_group("connection")
    if endpoint:
        g.add_argument(
            "--endpoint",
            metavar="ENDPOINT",
            help=f"the daemon's endpoint (default: $IMPASTO_ENDPOINT, else {default_endpoint()})",
        )
    g.add_argument(
        "--timeout",
        type=float,
        default=HEARTBEAT_TIMEOUT,
        metavar="S",
        help="take the daemon for gone after S seconds without a word from it "
        "(default: %(default)g)",
    )
    g.add_argument(
        "--server-key",
        type=Path,
        metavar="FILE",
        help="the daemon's CurveZMQ public key (its server.key, from `impasto keys`)",
    )
    g.add_argument(
        "--client-key",
        type=Path,
        metavar="FILE",
        help="this client's CurveZMQ secret key file (a .key_secret from `impasto keys`)",
    )


def add_daemon_options(p: argparse.ArgumentParser) -> None:
    """`impasto stylize --daemon`: the same job, run by a daemon instead of this process."""
    p.add_argument(
        "--daemon",
        nargs="?",
        const="auto",
        metavar="ENDPOINT|auto",
        help="run the job on a daemon: the one at ENDPOINT, or with `auto` (or no value) the "
        "one at the default endpoint, started in the background if none runs there and left "
        "running for the next call. --device, --precision and --weights then apply only to a "
        "daemon that auto starts. Ctrl-C cancels the job",
    )
    add_connection_options(p, endpoint=False)


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
        default=0,
        metavar="K",
        help="make a preview every K iterations, for `impasto watch --previews` (default: none)",
    )
    p.add_argument(
        "--preview-size",
        type=int,
        default=512,
        metavar="PX",
        help="longer side of the previews, at most (default: 512)",
    )
    p.add_argument(
        "--progress-every",
        type=int,
        default=10,
        metavar="K",
        help="report progress every K iterations (default: 10)",
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
    p.add_argument("-o", "--output", metavar="OUT", help="save the result to this image file")
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


def _endpoint(value: str | None, option: str = "--endpoint") -> str:
    endpoint = value or default_endpoint()
    try:
        parse(endpoint)
    except EndpointError as e:
        raise CliError(f"{option}: {e}") from None
    return endpoint


def _curve(args: argparse.Namespace) -> ClientKeys | None:
    server, client = args.server_key, args.client_key
    if server is None and client is None:
        return None
    if server is None or client is None:
        raise CliError("--server-key and --client-key go together")
    for option, path in (("--server-key", server), ("--client-key", client)):
        if not path.is_file():
            raise CliError(f"{option}: {path} is not a file")
    if not zmq.has("curve"):
        raise CliError("this pyzmq's libzmq has no CurveZMQ support")
    try:
        return ClientKeys.load(server, client)
    except (OSError, ValueError) as e:
        raise CliError(f"--server-key/--client-key: cannot load the keys: {e}") from None


def _client(args: argparse.Namespace, endpoint: str, curve: ClientKeys | None) -> Client:
    if not args.timeout > 0:
        raise CliError(f"--timeout: must be > 0 seconds, got {args.timeout:g}")
    return Client(endpoint, name=CLIENT_NAME, timeout=args.timeout, curve=curve)


@contextlib.contextmanager
def _connected(args: argparse.Namespace) -> Iterator[Client]:
    """A client that has said hello (so it speaks the daemon's version and timings)."""
    endpoint = _endpoint(args.endpoint)
    with _client(args, endpoint, _curve(args)) as client:
        _hello(client)
        yield client


def _hello(client: Client) -> dict[str, Any]:
    try:
        return client.hello()
    except zmq.ZMQError as e:  # e.g. a TCP host that does not resolve
        raise CliError(f"cannot connect to {client.endpoint}: {e}") from None


# -- ping, status, cancel, shutdown -----------------------------------------------------------


def ping(args: argparse.Namespace) -> int:
    with _connected(args) as client:
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
    with _connected(args) as client:
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
    jobs = body.get("jobs") or []
    if not jobs:
        return
    rows = [("JOB", "STATE", "PROGRESS", "PRIO", "AGE", "LABEL")]
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
        ("progress", f"{j.get('iteration', 0)}/{j.get('total', 0)} iterations"),
    ]
    if j.get("state") == "queued":
        lines.append(("position", str(j.get("position", "?"))))
    lines += [
        ("label", str(j.get("label", ""))),
        ("priority", str(j.get("priority", 0))),
        ("detached", "yes" if j.get("detach") else "no"),
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


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s // 60 % 60:02d}m"


def cancel(args: argparse.Namespace) -> int:
    with _connected(args) as client:
        body = client.cancel(args.job)
    state = body.get("state", "?")
    if body.get("cancelled"):
        print(f"cancelled job {args.job} (it was {state})")
    else:
        print(f"job {args.job} had already finished ({state}); nothing to cancel")
    return 0


def shutdown(args: argparse.Namespace) -> int:
    with _connected(args) as client:
        body = client.shutdown()
    n = body.get("jobs_cancelled", 0)
    print(f"the daemon at {client.endpoint} is shutting down ({n} unfinished job(s) cancelled)")
    return 0


# -- submit -----------------------------------------------------------------------------------


def _given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings options the user gave (the others are absent: argparse.SUPPRESS), as the
    wire carries them; the daemon supplies its defaults for the rest."""
    names = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
    given = {k: _jsonable(v) for k, v in vars(args).items() if k in names}
    return given | {k: _jsonable(v) for k, v in preset_fields(args).items()}


def _pixels(image: Image.Image, mask: bool = False) -> Pixels:
    """Content keeps its alpha (RGBA), a mask is grey (L)."""
    return Pixels.from_pil(image.convert("L") if mask else image)


def _check_job_options(args: argparse.Namespace) -> None:
    if not -MAX_PRIORITY <= args.priority <= MAX_PRIORITY:
        raise CliError(f"--priority: must be in -{MAX_PRIORITY}..{MAX_PRIORITY}")
    if len(args.label) > 200:
        raise CliError("--label: at most 200 characters")
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
    wire = _given_settings(args)
    if args.init is not None and init_mode is not InitMode.IMAGE:  # else the daemon's default
        wire["init"] = init_mode.value
    endpoint = _endpoint(args.endpoint)
    curve = _curve(args)
    content = _open_image(Path(args.content), "content image")
    job = Submit(
        content=_pixels(content),
        styles=[
            _pixels(_open_image(Path(s), f"style image {i + 1}")) for i, s in enumerate(args.styles)
        ],
        settings=wire,
        mask=_pixels(_open_image(Path(args.mask), "mask"), mask=True) if args.mask else None,
        init_image=_pixels(_open_image(init_path, "init image")) if init_path else None,
        init_job=args.init_job,
        priority=args.priority,
        progress_every=args.progress_every,
        preview_every=args.preview_every,
        preview_size=args.preview_size,
        detach=args.detach,
        label=args.label,
        time_budget=args.time_budget,
    )
    with _client(args, endpoint, curve) as client:
        _hello(client)
        handle = _submit(client, job)
    print(handle.id)
    return 0


def _submit(client: Client, job: Submit) -> JobHandle:
    """Submit, naming the command-line option when the daemon refuses a setting."""
    _check_frame_sizes(client, job)
    try:
        return client.submit(job)
    except RemoteError as e:
        field = e.field or ""
        if field.startswith("settings."):
            name = field[len("settings.") :]
            options = {f.name for f in settings_fields() if f.metadata.get("cli", True)}
            if name in options:
                raise CliError(f"{option_name(name)}: {e.message}") from None
        raise


def _check_frame_sizes(client: Client, job: Submit) -> None:
    """A frame over the daemon's max_message_bytes makes ZeroMQ drop the connection without
    an answer (while heartbeats go on), so say it here instead of waiting for ever."""
    limit = ((client.welcome or {}).get("limits") or {}).get("max_message_bytes")
    if not isinstance(limit, int):
        return
    images = [("content image", job.content), ("mask", job.mask), ("init image", job.init_image)]
    images += [(f"style image {i + 1}", s) for i, s in enumerate(job.styles)]
    for role, image in images:
        if image is not None and image.nbytes > limit:
            raise CliError(
                f"the {role} ({image.width}x{image.height}) is larger than the daemon accepts "
                f"({limit} bytes per image)"
            )


# -- watch ------------------------------------------------------------------------------------


class ProgressView:
    """tqdm's bar on a terminal (as `impasto stylize` draws it); elsewhere, with `lines`, one
    line per progress event on stderr, and nothing without."""

    def __init__(self, lines: bool, prefix: str = "", total: int | None = None) -> None:
        self.tty = sys.stderr.isatty()  # tqdm's own test, with disable=None
        self.lines = lines and not self.tty
        self.prefix = prefix
        self.bar: Any = None
        if total is not None:
            self._open(total)

    def _open(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="it", disable=None, file=sys.stderr, dynamic_ncols=True)

    def note(self, text: str) -> None:
        if self.lines:
            print(f"{self.prefix}{text}", file=sys.stderr, flush=True)

    def update(self, p: Progress) -> None:
        if math.isnan(p.loss):  # iteration 0: the fast networks' preview, before any loss
            stats = f"{p.width}x{p.height} instant preview"
        else:
            stats = f"{p.width}x{p.height} content {p.content_loss:.3g} style {p.style_loss:.3g}"
        if self.lines:
            self.note(f"{p.iteration}/{p.total} it, {stats}, {p.elapsed:.1f} s")
            return
        if not self.tty:
            return
        if self.bar is None:  # opened at the first event, which tells the total
            self._open(p.total)
        self.bar.total = p.total
        self.bar.update(p.iteration - self.bar.n)
        self.bar.set_postfix_str(stats, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _follow(handle: JobHandle, view: ProgressView, save_preview: Any = None) -> Result | Cancelled:
    """The job's events to its end: progress to the view, previews to `save_preview`."""
    for event in handle.events():
        if isinstance(event, Progress):
            view.update(event)
        elif isinstance(event, Preview):
            view.update(event.progress)
            if save_preview is not None:
                save_preview(event)
        else:
            return event
    raise CliError(f"the events of job {handle.id} ended without an outcome")


def _preview_saver(folder: Path, name: str) -> Any:
    def save(event: Preview) -> None:
        path = folder / name.format(event.progress.iteration)
        try:
            event.image.to_pil().save(path)
        except OSError as e:
            raise CliError(f"cannot write {path}: {e.strerror or e}") from None

    return save


def _make_folder(path: Path, option: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"{option}: cannot create {path}: {e.strerror or e}") from None


def watch(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else None
    fmt = None
    if output is not None:
        _check_output(output, [])
        fmt = _output_format(output)
    previews = Path(args.previews) if args.previews else None
    if previews is not None:
        _make_folder(previews, "--previews")
    with _connected(args) as client:
        handle = client.watch(args.job)
        view = ProgressView(lines=True, prefix=f"{handle.id}: ")
        accepted = handle.accepted
        where = f" (position {accepted['position']})" if accepted.get("position") else ""
        view.note(f"{accepted.get('state', '?')}{where}")
        try:
            saver = _preview_saver(previews, "preview-{:05d}.png") if previews else None
            outcome = _follow(handle, view, saver)
        finally:
            view.close()
    if isinstance(outcome, Cancelled):
        print(f"impasto watch: {JobCancelled(handle.id, outcome.reason)}", file=sys.stderr)
        return EXIT_CANCELLED
    image = outcome.image.to_pil()
    if output is not None:
        assert fmt is not None
        if fmt in _NO_ALPHA_FORMATS and "A" in image.mode:
            raise CliError(f"{output}: {fmt} cannot store the result's transparency; use .png")
        _save_atomically(image, output, fmt)
    if args.json:
        print(json.dumps(_result_summary(outcome, output, handle.id, client.endpoint)))
    elif output is not None:
        print(_result_line(outcome, f"wrote {output}"))
    else:
        print(_result_line(outcome, f"job {handle.id} done"))
    return 0


def _result_line(result: Result, head: str) -> str:
    info = result.info
    return (
        f"{head} ({result.image.width}x{result.image.height}, "
        f"{info.get('iterations', '?')} iterations, {float(info.get('elapsed', 0.0)):.1f} s)"
    )


def _result_summary(result: Result, output: Path | None, job: str, endpoint: str) -> dict[str, Any]:
    """The result's facts, with the keys of `impasto stylize --json` where they exist."""
    info = dict(result.info)
    summary: dict[str, Any] = {
        "output": str(output) if output is not None else None,
        "width": result.image.width,
        "height": result.image.height,
        "iterations": info.pop("iterations", None),
        "seconds": round(float(info.pop("elapsed", 0.0)), 3),
    }
    summary.update(info)
    summary.update(job=job, daemon=endpoint, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return summary


# -- stylize --daemon -------------------------------------------------------------------------


def stylize_on_daemon(
    args: argparse.Namespace,
    settings: StyleSettings,
    output: Path,
    fmt: str,
    content: Image.Image,
    styles: list[Image.Image],
    mask: Image.Image | None,
    init: Image.Image | None,
) -> int:
    """`impasto stylize --daemon`: checked and opened as in process; run on the daemon."""
    curve = _curve(args)
    if args.daemon == "auto":
        endpoint = _endpoint(None)
        ensure_daemon(endpoint, args, curve)
    else:
        endpoint = _endpoint(args.daemon, "--daemon")
    wire = _given_settings(args)
    if args.init is not None and settings.init is not InitMode.IMAGE:  # else the daemon's default
        wire["init"] = settings.init.value
    preview_dir = Path(args.preview_dir) if args.preview_dir else None
    job = Submit(
        content=_pixels(content),
        styles=[_pixels(s) for s in styles],
        settings=wire,
        mask=_pixels(mask, mask=True) if mask is not None else None,
        init_image=_pixels(init) if init is not None else None,
        progress_every=max(1, settings.iterations // 200),
        preview_every=args.preview_every if preview_dir else 0,
        preview_size=min(65535, max(16, settings.size)),  # as in process: the scale's size
        detach=False,  # attached: a stylize that is killed takes its job with it
        label=f"stylize {output.name}"[:200],
        time_budget=args.time_budget,
    )
    with _client(args, endpoint, curve) as client, _sigterm_as_interrupt():
        _hello(client)
        handle = _submit(client, job)
        view = ProgressView(lines=False, total=settings.iterations)
        try:
            saver = _preview_saver(preview_dir, "step_{:05d}.png") if preview_dir else None
            outcome = _follow(handle, view, saver)
        except KeyboardInterrupt:
            _cancel_quietly(client, handle.id)
            raise
        finally:
            view.close()
    if isinstance(outcome, Cancelled):
        raise CliError(
            f"{JobCancelled(handle.id, outcome.reason)}; nothing was written", EXIT_CANCELLED
        )
    _save_atomically(outcome.image.to_pil(), output, fmt)
    if args.json:
        print(json.dumps(_result_summary(outcome, output, handle.id, endpoint)))
    else:
        print(_result_line(outcome, f"wrote {output}"))
    return 0


def _cancel_quietly(client: Client, job: str) -> None:
    """Best effort, briefly: an interrupted stylize should not leave its job running."""
    with contextlib.suppress(ImpastoError, TimeoutError, zmq.ZMQError):
        client.request(M.cancel(job), CANCEL_REPLY, timeout=2.0)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`kill` (SIGTERM) ends the wait like Ctrl-C, so the job is cancelled at once rather than
    when the daemon notices the silence."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- --daemon auto ----------------------------------------------------------------------------


def _probe(endpoint: str, curve: ClientKeys | None, wait: float) -> dict[str, Any] | None:
    """hello's answer, or None when nothing answers within about `wait` seconds."""
    client = Client(endpoint, name=CLIENT_NAME, timeout=wait, curve=curve)
    try:
        client.heartbeat_interval = wait / 2  # the poll slice: give up after `wait`, not 1 s
        return client.request(M.hello(CLIENT_NAME), HELLO_REPLY, timeout=wait).body
    except (ConnectionLost, TimeoutError):
        return None
    except zmq.ZMQError as e:
        raise CliError(f"cannot connect to {endpoint}: {e}") from None
    finally:
        client.close()


def ensure_daemon(endpoint: str, args: argparse.Namespace, curve: ClientKeys | None) -> None:
    """A ready daemon at `endpoint`: the running one, or one started now in the background
    (`python -m impasto daemon`, in a session of its own, logging to the runtime folder)."""
    # No socket file: nothing listens, so do not wait for an answer that cannot come.
    welcome = None if nothing_listening(endpoint) else _probe(endpoint, curve, 1.0)
    if welcome is not None and welcome.get("ready"):
        return
    proc = None
    log = default_log_path()
    if welcome is None:
        proc, log = _start_daemon(endpoint, args)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        welcome = _probe(endpoint, curve, 0.5)
        if welcome is not None and welcome.get("ready"):
            return
        if welcome is None and proc is not None and proc.poll() is not None:
            raise CliError(
                f"the daemon started for --daemon auto exited with status {proc.returncode}; "
                f"see {log}"
            )
        time.sleep(READY_POLL)
    raise CliError(f"the daemon at {endpoint} is not ready after {READY_TIMEOUT:g} s; see {log}")


def _start_daemon(endpoint: str, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path]:
    command = [
        sys.executable, "-m", "impasto", "daemon",
        "--device", args.device,
        "--precision", args.precision,
    ]  # fmt: skip
    if args.weights:
        command += ["--weights", str(Path(args.weights).resolve())]
    log = default_log_path()
    try:
        proc = start_daemon(PluginConfig(endpoint, command), log)
    except DaemonStartError as e:
        raise CliError(str(e)) from None
    print(f"impasto: started a daemon at {endpoint} (log: {log})", file=sys.stderr)
    return proc, log
