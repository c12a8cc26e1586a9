"""`impasto keys`: a CurveZMQ key pair, for a daemon that other machines reach over TCP."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .errors import CliError

DEFAULT_DIR = Path("~/.config/impasto/keys")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "keys",
        help="create a CurveZMQ key pair (for daemons reached over the network)",
        description="Write NAME.key (the public key, to share) and NAME.key_secret (the secret "
        "key, mode 0600, never to share) in zmq.auth's certificate format. Make one pair named "
        "server for the daemon (--curve-key) and one per client (--client-key).",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"where to write them (default: {DEFAULT_DIR}; a new folder is made 0700)",
    )
    p.add_argument("--name", default="client", help="the files' name (default: client)")
    p.add_argument("--force", action="store_true", help="replace existing key files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import zmq
    import zmq.auth

    name = args.name
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise CliError(f"--name: {name!r} is not a file name")
    folder = args.dir.expanduser()
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    existing = [p for p in (public, secret) if p.exists() or p.is_symlink()]
    if existing and not args.force:
        raise CliError(
            f"{existing[0]} already exists; --force replaces it (whoever uses the old key "
            "is then refused)"
        )
    if not zmq.has("curve"):
        raise CliError("this pyzmq's libzmq has no CurveZMQ support")
    try:
        if not folder.is_dir():
            folder.mkdir(mode=0o700, parents=True)
        for p in existing:  # new files, so the secret never sits in a file with an old mode
            p.unlink()
        old_umask = os.umask(0o077)
        try:
            zmq.auth.create_certificates(str(folder), name)
        finally:
            os.umask(old_umask)
        os.chmod(secret, 0o600)
        os.chmod(public, 0o644)
    except OSError as e:
        raise CliError(f"cannot write the keys in {folder}: {e.strerror or e}") from None
    print(f"wrote {public} (public key) and {secret} (secret key, mode 0600)")
    if name == "server":
        print(
            f"start the daemon with --curve-key {secret} --allow DIR; give {public.name} to "
            "each client (--server-key) and put each client's public .key file in DIR"
        )
    else:
        print(
            f"copy {public.name} into the daemon's --allow folder; use --client-key {secret} "
            "with the daemon's server.key (--server-key) on this machine"
        )
    return 0
