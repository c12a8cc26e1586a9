"""`impasto install krita|gimp`: the plug-in, its vendored dependencies and its config."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

from .errors import CliError

PYTHON_VERSION = re.compile(r"3\.\d{1,2}")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "install",
        help="install the Krita or GIMP 3 plug-in for this user",
        description="Copy the plug-in into the editor's per-user plug-in folder with pyzmq and "
        "msgpack for the editor's own Python, and write its impasto.json (the daemon's endpoint "
        "and the command that starts a daemon). Safe to re-run: an upgrade keeps the endpoint "
        "and command unless new ones are given.",
    )
    p.add_argument("host", choices=["krita", "gimp"], help="the editor")
    p.add_argument("--uninstall", action="store_true", help="remove the plug-in instead")
    p.add_argument(
        "--dir",
        type=Path,
        metavar="DIR",
        help="the editor's plug-in folder (Krita: its pykrita folder; GIMP: its plug-ins folder; "
        "default: the per-user folder of this system)",
    )
    p.add_argument("--kritarc", type=Path, metavar="FILE", help="Krita's kritarc to enable it in")
    p.add_argument("--endpoint", help="the daemon's endpoint (default: the per-user socket)")
    p.add_argument(
        "--daemon-command",
        metavar="CMD",
        help="the command that starts a daemon, as one shell-quoted string "
        '(default: this Python with -m impasto daemon; "" for never: the plug-in then only '
        "uses a running daemon)",
    )
    p.add_argument(
        "--python",
        nargs="+",
        metavar="X.Y",
        help="the editor's Python versions to vendor wheels for (default: 3.10 to 3.13)",
    )
    p.add_argument(
        "--platform",
        action="append",
        metavar="TAG",
        help="a wheel platform tag (repeatable; default: this machine's)",
    )
    p.add_argument(
        "--wheels", type=Path, metavar="DIR", help="take the wheels from DIR instead of PyPI"
    )
    p.add_argument(
        "--no-vendor",
        action="store_true",
        help="vendor no wheels: the editor's Python already has pyzmq and msgpack",
    )
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> Any:
    from impasto_install import InstallOptions

    options = InstallOptions(folder=args.dir, kritarc=args.kritarc, endpoint=args.endpoint)
    if args.daemon_command is not None:
        try:
            options.daemon_command = shlex.split(args.daemon_command)
        except ValueError as e:
            raise CliError(f"--daemon-command: {e}") from None
    if args.python:
        bad = [v for v in args.python if not PYTHON_VERSION.fullmatch(v)]
        if bad:
            raise CliError(f"--python: {bad[0]!r} is not a version like 3.11")
        options.pythons = list(dict.fromkeys(args.python))
    options.platforms = args.platform
    if args.wheels is not None and not args.wheels.is_dir():
        raise CliError(f"--wheels: {args.wheels} is not a folder")
    options.wheels = args.wheels
    options.vendor = not args.no_vendor
    return options


def run(args: argparse.Namespace) -> int:
    from impasto_install import HOSTS, InstallError, install, uninstall

    host = HOSTS[args.host]
    options = _options(args)
    try:
        if args.uninstall:
            removed = uninstall(host, options)
            if not removed:
                print(f"impasto: the {host.name} plug-in was not installed; nothing to remove")
            for path in removed:
                print(f"removed {path}")
            return 0
        installed = install(host, options)
    except InstallError as e:
        raise CliError(str(e)) from None
    print(f"installed the {host.name} plug-in in {installed.plugin}")
    command = installed.config.daemon_command
    started = f"started with: {shlex.join(command)}" if command else "never started by the plug-in"
    print(f"daemon: {installed.config.resolved_endpoint()}, {started}")
    for note in installed.notes:
        print(note)
    return 0
