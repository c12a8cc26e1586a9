"""--memory-budget, shared by `impasto daemon` and `impasto stylize`, and the engine that
`impasto stylize` builds in this process from it, --device, --weights and --precision."""

from __future__ import annotations

import argparse
from typing import Any

from .errors import CliError


def add_memory_budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--memory-budget",
        type=int,
        metavar="MB",
        help="memory a job may use besides the loaded model; an output whose activations do "
        "not fit is optimized in tiles, with the same result, and one that cannot fit even "
        "then is refused (default: the device's free memory when the job starts)",
    )


def check_memory_budget(args: argparse.Namespace) -> None:
    if args.memory_budget is not None and args.memory_budget < 1:
        raise CliError("--memory-budget must be >= 1 (MB)")


def memory_budget(args: argparse.Namespace) -> int | None:
    """--memory-budget in bytes, None when not given."""
    return None if args.memory_budget is None else args.memory_budget * 2**20


def local_engine(args: argparse.Namespace) -> Any:
    """A Stylizer as the options ask (torch is loaded here, not when the parser is built)."""
    from ..engine import Stylizer

    return Stylizer(
        device=args.device,
        weights=args.weights,
        precision=args.precision,
        memory_budget=memory_budget(args),
    )
