"""Run the real Krita under Xvfb with the Impasto plug-in (installed by `impasto install`) and
the e2e harness plug-in, in a throwaway HOME. .ci/install-krita installs what it needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtual_display import virtual_display

HARNESS = Path(__file__).resolve().parent / "harness"
# Seconds, enforced by `timeout` around Krita: a hang guard, not a measure. A cold start, two
# clips and their daemon took more than 150 s once on this 2-core machine at load 14.
KRITA_TIMEOUT = 300
# The daemon the tests start: small heartbeat timings would cancel a job while Krita saves.
DAEMON_TIMINGS = ("--heartbeat-interval", "1", "--heartbeat-timeout", "10")


def krita_python() -> str:
    """The X.Y of the Python that Krita embeds (Debian: the system's 3.11), from what its
    Python plug-in library links against; 3.11 when that cannot be found."""
    for lib in Path("/usr/lib").glob("*/kritaplugins/kritapykrita.so"):
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
        found = re.search(r"libpython(3\.\d+)", out)
        if found:
            return found.group(1)
    return "3.11"


def krita_missing() -> str | None:
    for tool in ("krita", "Xvfb"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run .ci/install-krita)"
    return None


@dataclass
class KritaHome:
    """A fresh HOME with Krita's XDG folders, the plug-ins installed and enabled."""

    root: Path

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def data(self) -> Path:
        return self.home / ".local" / "share"

    @property
    def pykrita(self) -> Path:
        return self.data / "krita" / "pykrita"

    @property
    def kritarc(self) -> Path:
        return self.home / ".config" / "kritarc"

    @property
    def runtime(self) -> Path:
        return self.home / "runtime"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMPASTO_", "XDG_"))}
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_DATA_HOME=str(self.data),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_RUNTIME_DIR=str(self.runtime),
            LC_ALL="C.UTF-8",  # Krita forces LANG=C: without this Python's I/O is ASCII
            OMP_WAIT_POLICY="PASSIVE",  # for a daemon the plug-in starts
        )
        return env


def make_home(root: Path, resource_cache: Path | None) -> KritaHome:
    h = KritaHome(root)
    for d in (h.home / ".config", h.data, h.home / ".cache"):
        d.mkdir(parents=True, exist_ok=True)
    h.runtime.mkdir(mode=0o700, exist_ok=True)
    if resource_cache is not None and any(resource_cache.iterdir()):
        shutil.copytree(resource_cache, h.data / "krita")  # 11 s -> 3.5 s start-up
    h.pykrita.mkdir(parents=True, exist_ok=True)
    return h


def install(h: KritaHome, endpoint: str, daemon_command: list[str], wheels: Path) -> None:
    """The harness by hand (it is test code), the plug-in with the real installer."""
    shutil.copy(HARNESS / "impasto_e2e.desktop", h.pykrita)
    shutil.copytree(HARNESS / "impasto_e2e", h.pykrita / "impasto_e2e")
    h.kritarc.write_text("[python]\nenable_impasto_e2e=true\n")
    cmd = [
        sys.executable, "-m", "impasto", "install", "krita",
        "--dir", str(h.pykrita), "--kritarc", str(h.kritarc),
        "--endpoint", endpoint,
        "--daemon-command", subprocess.list2cmdline(daemon_command),
        "--python", krita_python(), "--wheels", str(wheels),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=h.env(), timeout=120)
    assert done.returncode == 0, f"impasto install failed:\n{done.stdout}{done.stderr}"
    rc = h.kritarc.read_text()
    assert "enable_impasto_e2e=true" in rc and "enable_impasto_krita=true" in rc, rc


def save_resources(h: KritaHome, resource_cache: Path) -> None:
    if not any(resource_cache.iterdir()) and (h.data / "krita").is_dir():
        shutil.copytree(
            h.data / "krita",
            resource_cache,
            dirs_exist_ok=True,
            ignore=lambda d, names: [n for n in names if n == "pykrita"],
        )


@dataclass
class Outcome:
    rc: int
    seconds: float
    evidence: dict
    out: Path
    log: str

    def read(self, name: str) -> bytes:
        return (self.out / name).read_bytes()


NO_DISPLAY = "could not connect to display"  # Qt's words when the X server went away


def run_krita(h: KritaHome, env: dict[str, str], screen: str = "1280x1024") -> int:
    """Krita (within KRITA_TIMEOUT) on a fresh Xvfb, its stdout and stderr in h.root/krita.log;
    its exit code. Once in a while, on this shared machine, Krita finds no X server at the
    display Xvfb has just announced, and exits before running any code: that start, and only
    that one, is tried again on a new Xvfb (the first log is kept as krita-no-display.log)."""
    cmd = ["timeout", "-k", "5", str(KRITA_TIMEOUT), "krita", "--nosplash"]
    log = h.root / "krita.log"
    for attempt in range(2):
        with virtual_display([], screen, h.root / "xvfb.log") as display:
            with open(log, "wb") as f:
                rc = subprocess.run(
                    cmd, env={**env, "DISPLAY": display}, stdout=f, stderr=subprocess.STDOUT,
                    cwd=h.root,
                ).returncode  # fmt: skip
        if rc == 0 or attempt or NO_DISPLAY not in log.read_text(errors="replace"):
            return rc
        log.replace(h.root / "krita-no-display.log")
    return rc


def run_scenario(h: KritaHome, scenario: dict, screen: str = "1280x1024") -> Outcome:
    out = h.root / "out"
    out.mkdir(exist_ok=True)
    scenario = {"timeout": KRITA_TIMEOUT - 20, **scenario, "out": str(out)}
    path = h.root / "scenario.json"
    path.write_text(json.dumps(scenario))
    log = h.root / "krita.log"
    start = time.monotonic()
    rc = run_krita(h, {**h.env(), "IMPASTO_E2E_SCENARIO": str(path)}, screen)
    seconds = time.monotonic() - start
    ev_path = out / "evidence.json"
    evidence = json.loads(ev_path.read_text()) if ev_path.exists() else {}
    text = log.read_text(errors="replace")[-4000:]
    stacks = out / "stacks.txt"
    if stacks.exists() and stacks.stat().st_size:  # Krita hung: where its Python code was
        text += "\nPython stacks when Krita hung:\n" + stacks.read_text(errors="replace")
    return Outcome(rc, seconds, evidence, out, text)


def run_steps(h: KritaHome, script: str, resource_cache: Path) -> tuple[Any, Path]:
    """harness/`script` run inside Krita by the impasto_script harness plug-in (installed here;
    the caller enables it in kritarc): what the script returned, and the folder of the files it
    wrote. Krita's exit code, the script's errors and the end of Krita's log are asserted on."""
    shutil.copy(HARNESS / "impasto_script.desktop", h.pykrita)
    shutil.copytree(HARNESS / "impasto_script", h.pykrita / "impasto_script")
    out = h.root / "out"
    out.mkdir()
    env = {
        **h.env(),
        "IMPASTO_SCRIPT": str(HARNESS / script),
        "IMPASTO_SCRIPT_OUT": str(out),
        "IMPASTO_SCRIPT_TIMEOUT": str(KRITA_TIMEOUT - 30),
        "IMPASTO_PLUGIN_DIR": str(h.pykrita / "impasto_krita"),
    }
    done = run_krita(h, env)
    tail = (h.root / "krita.log").read_text(errors="replace")[-4000:]
    save_resources(h, resource_cache)
    ev_path = out / "evidence.json"
    evidence = json.loads(ev_path.read_text()) if ev_path.exists() else {}
    assert done == 0, f"Krita exited with {done}\nevidence: {evidence}\nlog:\n{tail}"
    assert evidence["script_errors"] == [], evidence["script_errors"]
    return evidence["result"], out
