"""Security: who can reach the daemon, as figures. The checks of tests/daemon/test_security.py,
run as a suite (with its helpers), plus one it cannot make as an ordinary user: another user
trying the default socket.

    .venv/bin/python -m benchmarks.reliability.security --attempts 5
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import zmq.auth

from impasto_protocol import Client, ConnectionLost, RemoteError
from impasto_protocol import constants as C

from .common import ROOT, Daemon, main_for, tiny_job

if str(ROOT / "tests" / "daemon") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "daemon"))
import test_security as sec

OTHER_UID = 65534  # nobody


def private_endpoint(tmp: Path, existing_mode: int | None) -> dict[str, Any]:
    """The default endpoint: the folder 0700 (also when it existed as 0755), the socket 0600,
    and, when this suite runs as root, another user's connect refused by the kernel."""
    xdg = tmp / f"xdg-{existing_mode or 'new'}"
    xdg.mkdir()
    runtime = xdg / "impasto"
    if existing_mode is not None:
        runtime.mkdir()
        runtime.chmod(existing_mode)
    proc = Daemon.on_default_endpoint(xdg)
    try:
        proc.start(wait_ready=0)
        sec.wait_answering(proc, proc.endpoint)
        dir_mode = stat.S_IMODE(runtime.stat().st_mode)
        sock_mode = stat.S_IMODE((runtime / "daemon.sock").stat().st_mode)
        other = other_user_connect(runtime / "daemon.sock")
    finally:
        code = proc.stop()
    return {
        "dir_existed_with": None if existing_mode is None else oct(existing_mode),
        "dir_mode": oct(dir_mode),
        "socket_mode": oct(sock_mode),
        "other_user": other,
        "ok": dir_mode == 0o700 and sock_mode == 0o600 and other != "connected" and code == 0,
        "exit_code": code,
    }


def other_user_connect(path: Path) -> str:
    if os.geteuid() != 0:
        return "not tried (needs root to act as another user)"
    probe = (
        "import os, socket, sys\n"
        f"os.setgid({OTHER_UID}); os.setuid({OTHER_UID})\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n    s.connect(sys.argv[1]); print('connected')\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()[-200:]


def public_bind_refused(tmp: Path, host: str) -> dict[str, Any]:
    proc = Daemon(f"tcp://{host}:{sec.free_port()}", tmp / f"pub-{host.strip('*') or 'star'}.log")
    proc.start(wait_ready=0)
    assert proc.proc is not None
    code = proc.proc.wait(60)
    lines = [line for line in proc.stderr().splitlines() if line.strip()]
    proc.stop()
    return {
        "endpoint": proc.endpoint,
        "exit_code": code,
        "message": lines[-1] if lines else None,
        "ok": code == 2 and len(lines) == 1 and "--insecure" in lines[0],
    }


def curve_checks(tmp: Path, attempts: int) -> dict[str, Any]:
    (tmp / "curve").mkdir()
    keys = sec.Curve(tmp / "curve")
    proc = sec.verbose(
        Daemon(
            f"tcp://0.0.0.0:{keys.port}",
            tmp / "curve" / "daemon.log",
            *("--curve-key", str(keys.server_secret), "--allow", str(keys.allow)),
            *("--admin", str(keys.admin_public)),
        )
    )
    proc.start(wait_ready=0)
    allowed = keys.keys(keys.client_secret)
    other_public, _ = zmq.auth.create_certificates(tmp / "curve", "impostor")
    intruders = {
        "unknown client key": keys.keys(keys.intruder_secret),
        "no CurveZMQ at all": None,
        "wrong server key": sec.ClientKeys.load(other_public, keys.client_secret),
    }
    rows: dict[str, Any] = {}
    try:
        sec.wait_answering(proc, keys.endpoint, allowed, ready=True)
        for name, curve in intruders.items():
            refused, slowest = 0, 0.0
            for _ in range(attempts):
                t0 = time.monotonic()
                try:
                    with Client(keys.endpoint, curve=curve, timeout=2.0) as c:
                        c.hello()
                except ConnectionLost:
                    refused += 1
                slowest = max(slowest, time.monotonic() - t0)
                with Client(keys.endpoint, curve=allowed, timeout=5.0) as c:
                    c.ping()  # the allowed client is still served
            rows[name] = {"attempts": attempts, "refused": refused, "slowest_s": round(slowest, 2)}
        owners = ownership_checks(keys, attempts)
        with Client(keys.endpoint, curve=allowed, timeout=5.0) as c:
            can = c.hello()["can_shutdown"]
            served = c.submit(tiny_job(3)).result(timeout=60).image.width == 32
            c.shutdown()
        assert proc.proc is not None
        code = proc.proc.wait(30)
    finally:
        proc.stop()
    log = proc.log() + proc.stderr()
    leaked = sum(secret in log for secret in keys.secrets())
    return {
        "refusals": rows,
        "ownership": owners,
        "allowed_client_served": served,
        "allowed_client_may_shut_down": can,
        "exit_code_after_shutdown": code,
        "debug_log_lines": log.count(" DEBUG "),
        "secret_keys_in_log": leaked,
        "ok": all(r["refused"] == r["attempts"] for r in rows.values())
        and owners["ok"]
        and served
        and can
        and code == 0
        and leaked == 0,
    }


def _answer(call: Any) -> tuple[str, str, str | None] | None:
    """The error a request got, with job ids replaced by ID; None if it was answered."""
    try:
        call()
    except RemoteError as e:
        return e.code, re.sub(r"[0-9a-f]{32}", "ID", e.message), e.field
    return None


def ownership_checks(keys: Any, attempts: int) -> dict[str, Any]:
    """A second allowed key tries every request that names a job on the first key's running
    job; each answer is compared with the answer for a job id that does not exist. Then the
    administrator key (--admin) lists and cancels that job."""
    missing = "0" * 32
    with (
        Client(keys.endpoint, curve=keys.keys(keys.client_secret), timeout=10.0) as owner,
        Client(keys.endpoint, curve=keys.keys(keys.colleague_secret), timeout=10.0) as other,
        Client(keys.endpoint, curve=keys.keys(keys.admin_secret), timeout=10.0) as admin,
    ):
        job = owner.submit(sec.long_job())
        tries: dict[str, Any] = {
            "status": lambda j: other.status(j),
            "watch": lambda j: other.watch(j),
            "cancel": lambda j: other.cancel(j),
            "submit replace": lambda j: other.submit(replace(sec.long_job(), replace=j)),
            "submit init_job": lambda j: other.submit(replace(sec.long_job(), init_job=j)),
            "submit inputs_from": lambda j: other.submit(sec.borrowing(j)),
        }
        rows = {}
        for name, call in tries.items():
            same = 0
            answers: list[Any] = []  # (for the job, for a missing id), as they came
            for _ in range(attempts):
                theirs = _answer(lambda: call(job.id))  # noqa: B023 (called at once)
                absent = _answer(lambda: call(missing))  # noqa: B023
                same += theirs is not None and theirs == absent
                answers.append((theirs, absent))
            rows[name] = {"attempts": attempts, "answered_as_missing": same, "answers": answers}
        listing = other.status()
        listed = any(j["job"] == job.id for j in listing["jobs"]) or listing["running"] is not None
        untouched = owner.status(job.id)["job"]["state"] in ("queued", "running")
        admin_sees = any(j["job"] == job.id for j in admin.status()["jobs"])
        admin_cancelled = admin.cancel(job.id)["cancelled"]
    return {
        "requests": rows,
        "listed_to_the_other_key": listed,
        "owner_job_untouched": untouched,
        "admin_sees_it": admin_sees,
        "admin_cancelled_it": admin_cancelled,
        "job_id": {"length": len(job.id), "hex": bool(re.fullmatch(r"[0-9a-f]{32}", job.id))},
        "ok": all(r["answered_as_missing"] == r["attempts"] for r in rows.values())
        and not listed
        and untouched
        and admin_sees
        and admin_cancelled,
    }


def insecure_remote_shutdown(tmp: Path, attempts: int) -> dict[str, Any]:
    address = sec.non_loopback_ipv4()
    if address is None:
        return {"ok": None, "note": "not tried: this machine has no non-loopback IPv4 address"}
    port = sec.free_port()
    proc = Daemon(f"tcp://0.0.0.0:{port}", tmp / "insecure.log", "--insecure")
    refused = 0
    try:
        proc.start(wait_ready=0)
        remote = sec.wait_answering(proc, f"tcp://{address}:{port}")
        with Client(f"tcp://{address}:{port}", timeout=5.0) as c:
            for _ in range(attempts):
                try:
                    c.shutdown()
                except RemoteError as e:
                    refused += e.code == C.E_NOT_ALLOWED
            still = c.ping() < 2.0
        with Client(f"tcp://127.0.0.1:{port}", timeout=5.0) as c:
            local_can = c.hello()["can_shutdown"]
            c.shutdown()
        assert proc.proc is not None
        code = proc.proc.wait(30)
    finally:
        proc.stop()
    return {
        "remote_address": address,
        "remote_can_shutdown": remote["can_shutdown"],
        "remote_shutdowns_refused": f"{refused}/{attempts}",
        "served_after_refusals": still,
        "loopback_may_shut_down": local_can,
        "exit_code": code,
        "ok": refused == attempts and not remote["can_shutdown"] and still and code == 0,
    }


def run(attempts: int = 5, tmp: Path | None = None) -> dict[str, Any]:
    tmp = tmp or Path(tempfile.mkdtemp(prefix="impasto-security-"))
    endpoint = [private_endpoint(tmp, None), private_endpoint(tmp, 0o755)]
    public = [public_bind_refused(tmp, h) for h in ("0.0.0.0", "*")]
    curve = curve_checks(tmp, attempts)
    insecure = insecure_remote_shutdown(tmp, attempts)
    return {
        "running_as_root": os.geteuid() == 0,
        "default_endpoint": endpoint,
        "public_bind_without_curve": public,
        "curve": curve,
        "insecure_remote_shutdown": insecure,
        "verdict": {
            "socket_dir_0700_socket_0600": all(e["ok"] for e in endpoint),
            "public_bind_without_curve_refused": all(p["ok"] for p in public),
            "wrong_or_unknown_keys_refused": all(
                r["refused"] == r["attempts"] for r in curve["refusals"].values()
            ),
            "nothing_secret_in_logs": curve["secret_keys_in_log"] == 0,
            "other_keys_cannot_see_or_touch_jobs": curve["ownership"]["ok"],
            "remote_shutdown_refused": insecure["ok"],
        },
    }


def add_args(ap: Any) -> None:
    ap.add_argument("--attempts", type=int, default=5, help="per refused client kind")


if __name__ == "__main__":
    main_for("security", run, add_args)
