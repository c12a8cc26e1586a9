"""`impasto daemon`: keep VGG19 warm and serve jobs over ZeroMQ (protocol/SPEC.md)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from impasto_protocol.constants import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT
from impasto_protocol.endpoint import EndpointError, default_endpoint
from impasto_protocol.limits import DEFAULTS as LIMITS

from .errors import CliError
from .memory_budget import add_memory_budget_option, check_memory_budget, memory_budget


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "daemon",
        help="serve style transfer jobs over ZeroMQ",
        description="Load VGG19 once and serve jobs from editor plug-ins and scripts.",
    )
    p.add_argument(
        "--endpoint", default=None, help=f"where to listen (default: {default_endpoint()})"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the engines on the Ray cluster at ADDRESS (host:port of its head; needs "
        "impasto[cluster]): one actor per GPU of the cluster, or per entry of --devices "
        "(cpu or cuda); this daemon stays the endpoint clients talk to",
    )
    p.add_argument(
        "--devices",
        metavar="LIST",
        help="several devices, comma-separated (cuda:0,cuda:1): a warm engine on each, each "
        "taking the next queued job when it is free; instead of --device",
    )
    p.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--weights", metavar="PATH", help="a torchvision vgg19 state dict")
    p.add_argument("--log", metavar="FILE", help="append the log to FILE instead of stderr")
    p.add_argument(
        "--curve-key",
        metavar="FILE",
        type=Path,
        help="the daemon's CurveZMQ secret key file (from `impasto keys`)",
    )
    p.add_argument(
        "--allow",
        metavar="DIR",
        type=Path,
        help="folder of the client public keys allowed in (with --curve-key)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-local TCP endpoint without CurveZMQ: anyone who can reach "
        "it can use the daemon",
    )
    p.add_argument(
        "--admin",
        metavar="KEY",
        action="append",
        default=[],
        help="an owner who sees and may cancel everyone's jobs: a client's public key file, "
        "its z85 public key, or 'local' (the clients on this machine without CurveZMQ); "
        "may be repeated. Everyone else sees only their own jobs",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=float,
        default=HEARTBEAT_INTERVAL,
        metavar="S",
        help="seconds between heartbeats (default: %(default)s)",
    )
    p.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=HEARTBEAT_TIMEOUT,
        metavar="S",
        help="silence after which a client is gone and its jobs are cancelled "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--result-ttl",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds a finished job's result is kept (default: %(default)s)",
    )
    p.add_argument("--max-queue", type=int, default=LIMITS.max_queue, metavar="N")
    p.add_argument("--max-output-pixels", type=int, default=LIMITS.max_output_pixels, metavar="N")
    p.add_argument("--max-input-pixels", type=int, default=LIMITS.max_input_pixels, metavar="N")
    p.add_argument("--max-iterations", type=int, default=LIMITS.max_iterations, metavar="N")
    p.add_argument(
        "--max-clip-frames",
        type=int,
        default=LIMITS.max_clip_frames,
        metavar="N",
        help="frames of one clip job (default: %(default)s)",
    )
    p.add_argument(
        "--max-clip-mb",
        type=int,
        default=LIMITS.max_clip_bytes // 2**20,
        metavar="MB",
        help="memory for the frames of unfinished clip jobs, all together (default: %(default)s)",
    )
    p.add_argument(
        "--kept-mb",
        type=int,
        default=1024,
        metavar="MB",
        help="memory for finished jobs' results kept for --result-ttl; the oldest go first "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--cache-mb",
        type=int,
        default=512,
        metavar="MB",
        help="memory for cached style targets (default: %(default)s)",
    )
    add_memory_budget_option(p)
    p.set_defaults(func=run)


def _devices(args: argparse.Namespace) -> list[str]:
    if args.devices is None:
        return [args.device]
    devices = [d.strip() for d in args.devices.split(",")]
    if not all(devices):
        raise CliError(f"--devices: expected a comma-separated list, got {args.devices!r}")
    if args.device != "auto":
        raise CliError("--device and --devices: give one of them")
    return devices


def _check(args: argparse.Namespace) -> None:
    for name in ("heartbeat_interval", "heartbeat_timeout", "result_ttl"):
        if not getattr(args, name) > 0:
            raise CliError(f"--{name.replace('_', '-')} must be > 0")
    if args.heartbeat_timeout <= args.heartbeat_interval:
        raise CliError("--heartbeat-timeout must be longer than --heartbeat-interval")
    for name in (
        "max_queue", "max_output_pixels", "max_input_pixels", "max_iterations",
        "max_clip_frames", "max_clip_mb",
    ):  # fmt: skip
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")
    if args.cache_mb < 0:
        raise CliError("--cache-mb must be >= 0")
    check_memory_budget(args)
    if args.kept_mb < 0:
        raise CliError("--kept-mb must be >= 0")
    if (args.curve_key is None) != (args.allow is None):
        raise CliError("--curve-key and --allow go together")
    if args.curve_key is not None and not args.curve_key.is_file():
        raise CliError(f"--curve-key: {args.curve_key} is not a file")
    if args.allow is not None and not args.allow.is_dir():
        raise CliError(f"--allow: {args.allow} is not a folder")
    if args.weights is not None and not Path(args.weights).is_file():
        raise CliError(f"--weights: {args.weights} is not a file")


def admin_owner(value: str) -> str:
    """The owner an --admin value names, as the daemon compares owners: a CurveZMQ public key
    in z85 text, or 'local'."""
    import zmq
    import zmq.auth

    if value == "local":
        return value
    path = Path(value)
    if path.is_file():
        try:
            public, _ = zmq.auth.load_certificate(str(path))
        except (ValueError, OSError) as e:
            message = f"--admin: {value} is not a key file of `impasto keys` ({e})"
            raise CliError(message) from None
        return public.decode("ascii")
    try:
        if len(value) == 40 and len(zmq.utils.z85.decode(value)) == 32:
            return value
    except (ValueError, KeyError):  # a character outside z85's alphabet
        pass
    raise CliError(
        f"--admin: {value!r} is neither 'local', a public key file nor a 40-character z85 key"
    )


def run(args: argparse.Namespace) -> int:
    _check(args)
    admins = frozenset(admin_owner(value) for value in args.admin)
    _log_to(args)
    from ..server import Server

    backends, devices = _backends(args)
    server = Server(backends, _server_config(args, admins), devices=devices)
    try:
        server.bind()
    except EndpointError as e:
        raise CliError(str(e)) from None
    server.install_signal_handlers()
    try:
        return server.serve_forever()
    finally:
        if args.ray is not None:
            import ray

            ray.shutdown()  # the actors go with the daemon's connection


def _log_to(args: argparse.Namespace) -> None:
    if args.log:
        from ..server.logfile import DaemonLogHandler  # a full disk must not stop the daemon

        try:
            handler: logging.Handler = DaemonLogHandler(args.log)
        except OSError as e:
            raise CliError(f"--log: cannot open {args.log}: {e.strerror}") from None
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if args.verbose >= 2 else logging.INFO)


def _backends(args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    """The engines the daemon runs jobs on, and their devices: local ones (each device
    checked before binding: a bad one is the user's mistake), or Ray actors."""
    from ..backends.local import StylizerBackend
    from ..engine import available_devices
    from ..engine.device import DeviceError, select

    weights = None if args.weights is None else str(Path(args.weights).resolve())

    def engine_args(device: str) -> tuple[Any, ...]:
        return (device, weights, args.precision, args.cache_mb * 2**20, memory_budget(args))

    if args.ray is not None:
        return _cluster(args, engine_args)
    option = "--devices" if args.devices is not None else "--device"
    devices = _devices(args)
    for device in devices:
        try:
            select(device, args.precision)
        except DeviceError as e:
            available = ", ".join(available_devices())
            raise CliError(f"{option}: {e}; available: {available}") from None
    return [StylizerBackend(*engine_args(d)) for d in devices], devices


def _server_config(args: argparse.Namespace, admins: frozenset[str]) -> Any:
    from ..server import ServerConfig

    return ServerConfig(
        endpoint=args.endpoint or default_endpoint(),
        heartbeat_interval=args.heartbeat_interval,
        heartbeat_timeout=args.heartbeat_timeout,
        result_ttl=args.result_ttl,
        max_kept_bytes=args.kept_mb * 2**20,
        limits=dataclasses.replace(
            LIMITS,
            max_queue=args.max_queue,
            max_output_pixels=args.max_output_pixels,
            max_input_pixels=args.max_input_pixels,
            max_iterations=args.max_iterations,
            max_clip_frames=args.max_clip_frames,
            max_clip_bytes=args.max_clip_mb * 2**20,
        ),
        curve_secret_file=args.curve_key,
        curve_allow_dir=args.allow,
        insecure=args.insecure,
        admins=admins,
    )


def _cluster(args: argparse.Namespace, engine_args: Any) -> tuple[list[Any], list[str]]:
    """One RayBackend per engine on the cluster at --ray (see impasto.backends.ray_cluster)."""
    try:
        import ray

        from ..backends.ray_cluster import RayBackend, cluster_devices
    except ImportError:
        raise CliError("--ray needs Ray: pip install 'impasto[cluster]'") from None
    if args.devices is None and args.device != "auto":
        raise CliError("--device with --ray: the engines' devices are given with --devices")
    requested = None
    if args.devices is not None:
        requested = _devices(args)
        bad = [d for d in requested if d not in ("cpu", "cuda") and not d.startswith("cuda:")]
        if bad:
            raise CliError(f"--devices with --ray: each one cpu or cuda, got {', '.join(bad)}")
    try:
        ray.init(address=args.ray, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise CliError(f"--ray: cannot join a Ray cluster at {args.ray}: {e}") from None
    engines = cluster_devices(requested)
    backends = [RayBackend(d, engine_args(d), gpus=g) for d, g in engines]
    return backends, [f"ray:{d}" for d, _ in engines]
