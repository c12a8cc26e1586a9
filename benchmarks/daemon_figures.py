"""The daemon's figures: a warm repeated edit, the style cache, warm starts, the cost of
streaming previews, and how fast a large layer crosses the socket.

Everything runs against a real `impasto daemon` subprocess over its IPC socket, with the clients
a plug-in or script would use. Run it on a quiet machine:

    .venv/bin/python benchmarks/daemon_figures.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from common import RESULTS, machine_info, median

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "daemon"))
from daemon_process import EXAMPLES, DaemonProcess

from impasto_protocol import Client, Pixels, Preview, Progress, Result, Submit


def pixels(name: str, size: int) -> Pixels:
    with Image.open(EXAMPLES / f"{name}.png") as im:
        im = im.convert("RGB")
        k = size / max(im.size)
        im = im.resize((round(im.width * k), round(im.height * k)), Image.Resampling.LANCZOS)
        return Pixels.from_pil(im)


def run_job(client: Client, job: Submit) -> dict[str, Any]:
    """Submit and follow a job; times are seconds from the submit call."""
    t0 = time.perf_counter()
    handle = client.submit(job)
    out: dict[str, Any] = {"accepted": time.perf_counter() - t0, "curve": [], "previews": 0}
    for ev in handle.events():
        now = time.perf_counter() - t0
        if isinstance(ev, Preview):
            out["previews"] += 1
            out.setdefault("first_preview", now)
            p = ev.progress
        elif isinstance(ev, Progress):
            p = ev
        elif isinstance(ev, Result):
            out["result"] = now
            out["info"] = {k: v for k, v in ev.info.items() if k != "settings"}
            break
        else:
            raise RuntimeError(f"job ended with {ev}")
        out.setdefault("first_progress", now)
        out["curve"].append((p.iteration, p.loss, p.width, now))
    out["id"] = handle.id
    return out


def first_reaching(curve: list[tuple[int, float, int, float]], target: float) -> dict | None:
    for iteration, loss, _w, t in curve:
        if loss <= target:
            return {"iteration": iteration, "seconds": t}
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="content size for the edit figures")
    ap.add_argument("--iterations", type=int, default=120)
    ap.add_argument("--repeats", type=int, default=3, help="for the preview cost and transfers")
    ap.add_argument("--out", type=Path, default=RESULTS / "daemon_figures.json")
    args = ap.parse_args()
    report: dict[str, Any] = {"machine": machine_info(), "size": args.size}
    tmp = Path(tempfile.mkdtemp(prefix="impasto-bench-"))
    daemon = DaemonProcess(f"ipc://{tmp}/d.sock", tmp / "daemon.log", "--precision", "auto")
    daemon.start()
    try:
        with Client(daemon.endpoint, timeout=60) as c:
            report["daemon"] = {k: c.hello()[k] for k in ("device", "weights", "daemon")}
            content, style = pixels("astronaut", args.size), pixels("hubble", args.size)
            # Warm: the model has run, but the style of the figures below is not cached.
            run_job(
                c,
                Submit(pixels("rocket", 64), [pixels("brick", 64)], {"size": 64, "iterations": 3}),
            )

            def edit(**settings: Any) -> Submit:
                return Submit(
                    content,
                    [style],
                    {"size": args.size, "iterations": args.iterations, **settings},
                    progress_every=1,
                    preview_every=5,
                    preview_size=args.size,
                )

            first = run_job(c, edit())
            second = run_job(c, edit())
            report["repeated_edit"] = {
                "first": {k: v for k, v in first.items() if k != "curve"},
                "second": {k: v for k, v in second.items() if k != "curve"},
                "style_pass_saved_s": first["result"] - second["result"],
            }
            # A changed style weight: cold (a fresh job, the default fast start) against warm (from
            # `first`).
            cold = run_job(c, edit(style_weight=10.0))
            warm_job = edit(style_weight=10.0)
            warm_job.init_job = first["id"]
            warm = run_job(c, warm_job)
            target = cold["curve"][-1][1]
            reached = first_reaching(warm["curve"], target)
            report["warm_start"] = {
                "cold_final_loss": target,
                "cold_iterations": cold["info"]["iterations"],
                "cold_seconds": cold["result"],
                "warm_reaches_it": reached,
                "ratio": None
                if reached is None
                else reached["iteration"] / cold["info"]["iterations"],
                "warm_final_loss": warm["curve"][-1][1],
                "cold_curve": cold["curve"],
                "warm_curve": warm["curve"],
            }
            # Previews on against off, interleaved so drift hits both alike.
            small = pixels("astronaut", 256), pixels("hubble", 256)
            walls: dict[str, list[float]] = {"off": [], "every_1": [], "every_10": []}
            for _ in range(args.repeats):
                for name, every in (("off", 0), ("every_1", 1), ("every_10", 10)):
                    r = run_job(
                        c,
                        Submit(
                            small[0],
                            [small[1]],
                            {"size": 256, "iterations": 60},
                            progress_every=10,
                            preview_every=every,
                        ),
                    )
                    walls[name].append(r["result"])
            base = median(walls["off"])
            report["preview_cost"] = {
                "walls_s": walls,
                "overhead": {k: median(v) / base - 1 for k, v in walls.items() if k != "off"},
            }
            # A 4096x4096 RGBA layer: ping echoes its frame (client -> daemon -> client);
            # a submit of it measures the way in, with the daemon's checks.
            layer = os.urandom(4096 * 4096 * 4)
            rtts, ins = [], []
            for _ in range(args.repeats):
                rtts.append(c.ping([layer]))
                big = Pixels(4096, 4096, layer, "RGBA")
                t0 = time.perf_counter()
                h = c.submit(Submit(big, [pixels("hubble", 64)], {"size": 64, "iterations": 1}))
                ins.append(time.perf_counter() - t0)
                h.result()
            report["transfer_4096_rgba"] = {
                "bytes": len(layer),
                "ping_round_trip_s": rtts,
                "submit_to_accepted_s": ins,
                "one_way_s": median(rtts) / 2,
            }
    finally:
        daemon.stop()
    args.out.write_text(json.dumps(report, indent=1))
    summary = {
        "first_preview_s": [
            report["repeated_edit"][k].get("first_preview") for k in ("first", "second")
        ],
        "style_pass_saved_s": report["repeated_edit"]["style_pass_saved_s"],
        "warm_start_ratio": report["warm_start"]["ratio"],
        "preview_overhead": report["preview_cost"]["overhead"],
        "transfer_one_way_s": report["transfer_4096_rgba"]["one_way_s"],
        "submit_4096_to_accepted_s": median(report["transfer_4096_rgba"]["submit_to_accepted_s"]),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
