"""`impasto`: the command line.

Every failure a user can cause ends in one line on stderr naming what is wrong and exit status 2;
tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

# Before torch loads: OpenMP's default busy-waiting makes torch several times slower when its
# threads share cores with anything else (a daemon's socket loop, an editor, a second job).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .. import __version__
from . import daemon, install, keys, remote, styles, stylize, train
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError, describe_error

log = logging.getLogger("impasto")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage first)."""

    # An epilog computed only when --help shows it (e.g. one that needs the engine loaded).
    lazy_epilog: Callable[[], str] | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog = self.lazy_epilog()
        return super().format_help()


def build_parser() -> Parser:
    parser = Parser(
        prog="impasto",
        description="Neural style transfer (Gatys et al.) for image editors.",
    )
    parser.add_argument("--version", action="version", version=f"impasto {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    stylize.add_parser(sub)
    train.add_parser(sub)
    styles.add_parser(sub)
    daemon.add_parser(sub)
    remote.add_parsers(sub)
    keys.add_parser(sub)
    install.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("impasto: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        message = describe_error(e)
        if message is None:
            raise
        print(f"impasto {args.command}: error: {message}", file=sys.stderr)
        return e.exit_code if isinstance(e, CliError) else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
