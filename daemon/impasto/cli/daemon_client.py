"""Reaching a daemon from the command line: the connection options, the endpoint and keys they
name, a client that has said hello, and `--daemon auto`'s "start one and wait until it
answers"."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from impasto_protocol import messages as M
from impasto_protocol.client import Client
from impasto_protocol.constants import HEARTBEAT_TIMEOUT, HELLO_REPLY
from impasto_protocol.curve import ClientKeys
from impasto_protocol.endpoint import EndpointError, default_endpoint, parse
from impasto_protocol.errors import ConnectionLost
from impasto_protocol.launcher import (
    DEFAULT_START_TIMEOUT,
    DaemonStartError,
    PluginConfig,
    Startup,
    connect_or_start,
)

from .. import __version__
from .errors import CliError

CLIENT_NAME = f"impasto-cli {__version__}"


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
        "running for the next call. --device, --precision, --weights and --memory-budget then "
        "apply only to a daemon that auto starts. Ctrl-C cancels the job",
    )
    add_connection_options(p, endpoint=False)


def endpoint_option(value: str | None, option: str = "--endpoint") -> str:
    endpoint = value or default_endpoint()
    try:
        parse(endpoint)
    except EndpointError as e:
        raise CliError(f"{option}: {e}") from None
    return endpoint


def curve_keys(args: argparse.Namespace) -> ClientKeys | None:
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


def make_client(args: argparse.Namespace, endpoint: str, curve: ClientKeys | None) -> Client:
    if not args.timeout > 0:
        raise CliError(f"--timeout: must be > 0 seconds, got {args.timeout:g}")
    return Client(endpoint, name=CLIENT_NAME, timeout=args.timeout, curve=curve)


@contextlib.contextmanager
def connected_client(args: argparse.Namespace) -> Iterator[Client]:
    """A client that has said hello (so it speaks the daemon's version and timings)."""
    endpoint = endpoint_option(args.endpoint)
    with make_client(args, endpoint, curve_keys(args)) as client:
        say_hello(client)
        yield client


def say_hello(client: Client) -> dict[str, Any]:
    try:
        return client.hello()
    except zmq.ZMQError as e:  # e.g. a TCP host that does not resolve
        raise CliError(f"cannot connect to {client.endpoint}: {e}") from None


def probe(endpoint: str, curve: ClientKeys | None, wait: float) -> dict[str, Any] | None:
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


def daemon_endpoint(args: argparse.Namespace, curve: ClientKeys | None) -> str:
    """The endpoint `--daemon` names; `auto`: the default one, with a daemon started there if
    none answers."""
    if args.daemon != "auto":
        return endpoint_option(args.daemon, "--daemon")
    endpoint = endpoint_option(None)
    ensure_daemon(endpoint, args, curve)
    return endpoint


def ensure_daemon(endpoint: str, args: argparse.Namespace, curve: ClientKeys | None) -> None:
    """A ready daemon at `endpoint`: the running one, or one started now in the background
    (`python -m impasto daemon`, in a session of its own, logging to the runtime folder)."""
    config = PluginConfig(endpoint, _daemon_command(args), DEFAULT_START_TIMEOUT)
    try:
        connect_or_start(
            Startup(config),
            lambda wait: probe(endpoint, curve, wait),
            on_wait=lambda text: print(f"impasto: {text}", file=sys.stderr),
        )
    except DaemonStartError as e:
        raise CliError(str(e)) from None


def _daemon_command(args: argparse.Namespace) -> list[str]:
    command = [
        sys.executable, "-m", "impasto", "daemon",
        "--device", args.device,
        "--precision", args.precision,
    ]  # fmt: skip
    if args.weights:
        command += ["--weights", str(Path(args.weights).resolve())]
    if args.memory_budget is not None:
        command += ["--memory-budget", str(args.memory_budget)]
    return command
