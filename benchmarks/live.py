"""Live mode's figures in the real Krita (5.1, under Xvfb) with a warm local daemon: latency from
the end of a stroke to the live picture shown in the docker at 256, 512 and 768 px, the update
rate while a script paints continuously, and Krita's own stroke time with live off and on.

The steps (benchmarks/live_krita_steps.py) run inside Krita through the tests' impasto_script
harness, with the plug-in installed by `impasto install krita`; the daemon is started here
(tests/daemon/daemon_process.py) and warmed by the steps' first updates. Results, with the
machine, date and command, go to benchmarks/results/live.json.

    .venv/bin/python benchmarks/live.py [--strokes 40] [--repeats 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "krita"), str(ROOT / "tests" / "daemon"), str(ROOT / "tests")]

from daemon_process import DaemonProcess  # noqa: E402
from krita_run import (  # noqa: E402
    DAEMON_TIMINGS,
    KRITA_TIMEOUT,
    install,
    krita_python,
    make_home,
)

from common import machine_info, median  # noqa: E402
from virtual_display import virtual_display  # noqa: E402

HARNESS = ROOT / "tests" / "krita" / "harness"
STEPS = Path(__file__).resolve().parent / "live_krita_steps.py"
OUT = Path(__file__).resolve().parent / "results" / "live.json"


def wheels(folder: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
        "--python-version", krita_python(), "--platform", "manylinux2014_x86_64",
        "pyzmq", "msgpack", "-d", str(folder),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return folder


def run_krita(root: Path, endpoint: str, config: dict) -> dict:
    home = make_home(root / "krita", None)
    install(home, endpoint, [sys.executable, "-c", "pass"], wheels(root / "wheels"))
    shutil.copy(HARNESS / "impasto_script.desktop", home.pykrita)
    shutil.copytree(HARNESS / "impasto_script", home.pykrita / "impasto_script")
    rc = home.kritarc.read_text()
    home.kritarc.write_text(rc.replace("[python]\n", "[python]\nenable_impasto_script=true\n"))
    out = home.root / "out"
    out.mkdir()
    env = {
        **home.env(),
        "IMPASTO_SCRIPT": str(STEPS),
        "IMPASTO_SCRIPT_OUT": str(out),
        "IMPASTO_SCRIPT_TIMEOUT": str(KRITA_TIMEOUT * 3),
        "IMPASTO_LIVE_BENCH": json.dumps(config),
    }
    timeout = str(KRITA_TIMEOUT * 3 + 30)
    with virtual_display([], "1280x1024", root / "xvfb.log") as display:
        with open(root / "krita.log", "wb") as f:
            subprocess.run(
                ["timeout", "-k", "5", timeout, "krita", "--nosplash"],
                env={**env, "DISPLAY": display}, stdout=f, stderr=subprocess.STDOUT, cwd=root,
            )  # fmt: skip
    if (out / "docker_live.png").exists() and config.get("screenshot"):
        shutil.copy(out / "docker_live.png", config["screenshot"])
    evidence = json.loads((out / "evidence.json").read_text())
    if "result" not in evidence:
        raise RuntimeError(f"the steps failed: {evidence.get('error')}")
    return evidence["result"]


def daemon_jobs(log: str) -> dict[str, list[float]]:
    """The daemon's own time per job (its log: "job J from ...: WxH" then "job J done in S s"),
    by the longer side of the picture: the compute part of the latency."""
    sides: dict[str, str] = {}
    out: dict[str, list[float]] = {}
    for line in log.splitlines():
        found = re.search(r"job (\w+) from .*: (\d+)x(\d+)", line)
        if found:
            sides[found[1]] = str(max(int(found[2]), int(found[3])))
        done = re.search(r"job (\w+) done in ([\d.]+) s", line)
        if done and done[1] in sides:
            out.setdefault(sides[done[1]], []).append(float(done[2]))
    return out


def summary(raw: dict) -> dict:
    def ms(values: list[float]) -> dict:
        s = sorted(values)
        return {
            "median_ms": round(1000 * median(s), 1),
            "p90_ms": round(1000 * s[int(0.9 * (len(s) - 1))], 1) if s else None,
            "n": len(s),
        }

    out = {
        "latency": {size: ms(v["seconds"]) for size, v in raw["latency"].items()},
        "stroke_off": ms(raw["off"]["stroke_s"]),
        "stroke_on_512": ms(raw["on_512"]["stroke_s"]),
        "tick_while_painting_512": ms(raw["on_512"].get("tick_s", [])),
        "updates_per_s_while_painting_512": round(
            raw["on_512"]["shown"] / raw["on_512"]["seconds"], 2
        ),
        "painting_seconds": round(raw["on_512"]["seconds"], 2),
    }
    for size, v in raw["latency"].items():
        out["latency"][size]["picture"] = v["picture"]
    jobs = raw.get("daemon_jobs", {})
    out["daemon_job"] = {side: ms(jobs[side]) for side in sorted(jobs, key=int)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--gap-ms", type=int, default=40)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--screenshot", type=Path, help="save the panel, live, to this PNG")
    parser.add_argument("--pause", type=float, help="live mode's pause, s (its default otherwise)")
    parser.add_argument("--tick-ms", type=int, help="live mode's tick, ms (its default otherwise)")
    args = parser.parse_args()
    config = {
        "width": 1536, "height": 1152, "sizes": [256, 512, 768],
        "repeats": args.repeats, "strokes": args.strokes, "gap_ms": args.gap_ms,
    }  # fmt: skip
    if args.pause is not None:
        config["pause_s"] = args.pause
    if args.tick_ms is not None:
        config["tick_ms"] = args.tick_ms
    if args.screenshot:
        config["screenshot"] = str(args.screenshot.resolve())
    info = machine_info("start")
    with tempfile.TemporaryDirectory(prefix="impasto-live-") as tmp:
        root = Path(tmp)
        daemon = DaemonProcess(f"ipc://{root}/d.sock", root / "daemon.log", *DAEMON_TIMINGS)
        daemon.env["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
        daemon.start()
        try:
            raw = run_krita(root, daemon.endpoint, config)
        finally:
            daemon.stop()
        raw["daemon_jobs"] = daemon_jobs(daemon.log())
    result = {
        "machine": info,
        "end": machine_info("end"),
        "config": config,
        "summary": summary(raw),
        "raw": raw,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
