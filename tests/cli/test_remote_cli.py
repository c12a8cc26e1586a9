"""The client commands (`impasto ping|submit|watch|status|cancel|shutdown|keys`) and
`impasto stylize --daemon`, as a script runs them: real subprocesses against a real daemon."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from daemon_process import DaemonProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "daemon" / "impasto" / "examples"
JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
SMALL = ("--size", "32", "--iterations", "6")


def impasto(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impasto", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
    )


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IMPASTO_ENDPOINT"}
    return {**env, "PYTHONWARNINGS": "ignore", "OMP_WAIT_POLICY": "PASSIVE", **(extra or {})}


def one_line_error(r: subprocess.CompletedProcess[str], command: str) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"impasto {command}: error: "), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("images")
    out = {}
    for name, source, size in (
        ("content", "astronaut", (48, 48)),
        ("style", "hubble", (40, 35)),
        ("wide", "rocket", (48, 32)),
    ):
        path = d / f"{name}.png"
        Image.open(EXAMPLES / f"{source}.png").convert("RGB").resize(size).save(path)
        out[name] = path
    alpha = Image.open(out["wide"]).convert("RGBA")
    alpha.putalpha(160)
    alpha.save(d / "alpha.png")
    out["alpha"] = d / "alpha.png"
    return out


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    tmp = tmp_path_factory.mktemp("remote")
    proc = DaemonProcess(f"ipc://{tmp}/d.sock", tmp / "daemon.log").start()
    yield proc
    proc.stop()


def first_stderr_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stderr is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError("no output from the command")
    return proc.stderr.readline()


# -- ping -------------------------------------------------------------------------------------


def test_ping(daemon: DaemonProcess) -> None:
    r = impasto("ping", "--endpoint", daemon.endpoint)
    assert r.returncode == 0, r.stderr
    assert daemon.endpoint in r.stdout and "impasto 0.1.0" in r.stdout
    assert "ready" in r.stdout and "cpu" in r.stdout and " ms" in r.stdout
    r = impasto("ping", "--endpoint", daemon.endpoint, "--json")
    body = json.loads(r.stdout)
    assert body["ready"] is True and body["round_trip_ms"] > 0


def test_ping_without_daemon_fails_in_one_line_within_the_timeout(tmp_path: Path) -> None:
    endpoint = f"ipc://{tmp_path}/nobody.sock"
    r = impasto("ping", "--endpoint", endpoint, "--timeout", "1")  # (not the default 10 s)
    line = one_line_error(r, "ping")
    assert f"no answer from the daemon at {endpoint} for 1 s" in line


def test_client_commands_do_not_import_torch(daemon: DaemonProcess) -> None:
    for command in (["ping"], ["status", "--json"]):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "impasto", *command],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env({"IMPASTO_ENDPOINT": daemon.endpoint}),
        )
        assert r.returncode == 0, r.stderr[-2000:]
        imported = [line for line in r.stderr.splitlines() if "torch" in line]
        assert not imported, imported[:5]


# -- submit, watch, status, cancel ------------------------------------------------------------


def test_submit_watch_cancel_and_status(
    daemon: DaemonProcess, images: dict[str, Path], tmp_path: Path
) -> None:
    ep = ("--endpoint", daemon.endpoint)

    def submit(*args: str) -> str:
        r = impasto("submit", images["content"], images["style"], *args, *ep)
        assert r.returncode == 0, r.stderr
        job = r.stdout.strip()
        assert r.stdout == job + "\n" and JOB_ID.match(job), r.stdout
        return job

    # A long job keeps the engine busy, so the small one waits in the queue until its
    # watcher is attached and sees every preview.
    long_job = submit("--size", "64", "--iterations", "300", "--label", "long")
    small = submit("--size", "32", "--iterations", "8", "--preview-every", "2", "--label", "small")
    queued = submit(*SMALL, "--label", "queued")

    out, previews = tmp_path / "out.png", tmp_path / "previews"
    watcher = subprocess.Popen(
        [sys.executable, "-m", "impasto", "watch", small, "-o", out, "--previews", previews, *ep],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert first_stderr_line(watcher, 30).startswith(f"{small}: queued")

        r = impasto("cancel", queued, *ep)
        assert r.returncode == 0 and "it was queued" in r.stdout, (r.stdout, r.stderr)
        r = impasto("cancel", long_job, *ep)
        assert r.returncode == 0, r.stderr
        assert re.search(r"it was (running|queued)", r.stdout), r.stdout

        stdout, stderr = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, stderr
    assert stdout.startswith(f"wrote {out} (32x32, 8 iterations")
    assert Image.open(out).size == (32, 32)
    written = sorted(p.name for p in previews.iterdir())
    assert written and all(re.fullmatch(r"preview-\d+\.png", n) for n in written), written
    assert Image.open(previews / written[-1]).size == (32, 32)

    r = impasto("watch", long_job, *ep)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"job {long_job} was cancelled (client)" in r.stderr

    r = impasto("watch", small, "--json", *ep)  # a finished job's result is sent again
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["job"], info["width"], info["height"], info["iterations"]) == (small, 32, 32, 8)

    r = impasto("status", *ep)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:]}
    assert rows[small][1] == "done" and rows[small][-1] == "small"
    assert rows[long_job][1] == "cancelled" and rows[queued][1] == "cancelled"

    r = impasto("status", small, *ep)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^state:\s+done$", r.stdout, re.M) and "8/8" in r.stdout
    body = json.loads(impasto("status", long_job, "--json", *ep).stdout)
    assert body["job"]["state"] == "cancelled" and body["job"]["reason"] == "client"

    r = impasto("cancel", small, *ep)  # finished: nothing to do, not an error
    assert r.returncode == 0 and "already finished (done)" in r.stdout


def test_unknown_job(daemon: DaemonProcess) -> None:
    for command in ("cancel", "watch", "status"):
        r = impasto(command, "no-such-job", "--endpoint", daemon.endpoint)
        assert "unknown" in one_line_error(r, command)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--size", "0"), "--size"),  # refused here, as `impasto stylize` refuses it
        (("--optimizer", "newton"), "--optimizer"),  # by argparse
        (("--content-layers", "relu9_9"), "--content-layers"),  # by the daemon
        (("--priority", "11"), "--priority"),
    ],
)
def test_bad_setting_names_the_option(
    daemon: DaemonProcess, images: dict[str, Path], args: tuple[str, ...], option: str
) -> None:
    r = impasto("submit", images["content"], images["style"], *args, "--endpoint", daemon.endpoint)
    assert option in one_line_error(r, "submit")


def test_missing_image_is_one_line(daemon: DaemonProcess, images: dict[str, Path]) -> None:
    r = impasto("submit", images["content"], "missing.png", "--endpoint", daemon.endpoint)
    assert "style image 1 not found: missing.png" in one_line_error(r, "submit")


# -- stylize --daemon -------------------------------------------------------------------------


def test_stylize_on_a_daemon_matches_in_process(
    daemon: DaemonProcess, images: dict[str, Path], tmp_path: Path
) -> None:
    local, remote, previews = tmp_path / "local.png", tmp_path / "remote.png", tmp_path / "pv"
    common = (images["alpha"], images["style"], *SMALL, "--json")
    r = impasto("stylize", *common, "-o", local, "--device", "cpu", "--precision", "float32")
    assert r.returncode == 0, r.stderr
    in_process = json.loads(r.stdout)
    r = impasto(
        "stylize", *common, "-o", remote, "--daemon", daemon.endpoint,
        "--preview-dir", previews, "--preview-every", "2",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    on_daemon = json.loads(r.stdout)
    assert set(in_process) <= set(on_daemon)
    assert on_daemon["output"] == str(remote) and on_daemon["iterations"] == 6
    a, b = Image.open(local), Image.open(remote)
    assert (a.size, a.mode) == (b.size, b.mode) == ((32, 21), "RGBA")
    # Iteration 0 is the fast network's picture (init "fast"), then every second iteration.
    assert sorted(p.name for p in previews.iterdir())[:2] == ["step_00000.png", "step_00002.png"]


def test_stylize_on_a_daemon_refuses_what_stylize_refuses(
    daemon: DaemonProcess, images: dict[str, Path], tmp_path: Path
) -> None:
    r = impasto(
        "stylize", images["alpha"], images["style"], "-o", tmp_path / "out.jpg",
        "--daemon", daemon.endpoint,
    )  # fmt: skip
    assert "cannot store the content's transparency" in one_line_error(r, "stylize")
    r = impasto(
        "stylize", images["content"], images["style"], "-o", tmp_path / "o.png", "--daemon", "x"
    )
    assert "--daemon" in one_line_error(r, "stylize")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_stylize_cancels_its_job(
    daemon: DaemonProcess, images: dict[str, Path], tmp_path: Path, sig: signal.Signals
) -> None:
    label = f"impasto: stylize {sig.name}.png"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "impasto", "stylize", images["content"], images["style"],
            "-o", tmp_path / f"{sig.name}.png", "--size", "64", "--iterations", "300",
            "--daemon", daemon.endpoint,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )  # fmt: skip
    try:
        with daemon.client() as client:
            deadline = time.monotonic() + 30
            while True:
                jobs = [j for j in client.status()["jobs"] if j["label"] == label]
                if jobs and jobs[0]["state"] == "running" and jobs[0]["iteration"] > 0:
                    break
                assert time.monotonic() < deadline, jobs
                time.sleep(0.1)
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=30)
            assert proc.returncode == 130, stderr
            assert "interrupted" in stderr
            # Cancelled at once, not after the daemon's heartbeat timeout.
            job = client.status(jobs[0]["job"])["job"]
            assert job["state"] in ("running", "cancelled")
            deadline = time.monotonic() + 5
            while job["state"] != "cancelled" and time.monotonic() < deadline:
                time.sleep(0.1)
                job = client.status(jobs[0]["job"])["job"]
            assert (job["state"], job.get("reason")) == ("cancelled", "client")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (tmp_path / f"{sig.name}.png").exists()


def _daemon_pids(endpoint: str) -> list[int]:
    """Processes serving `endpoint` (ours: the endpoint is in a private temporary folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"daemon" in argv and endpoint.encode() in argv:
            pids.append(int(proc.name))
    return pids


@pytest.fixture
def auto_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    endpoint = f"ipc://{tmp_path}/auto.sock"
    env = {"IMPASTO_ENDPOINT": endpoint, "XDG_RUNTIME_DIR": str(runtime)}
    yield env
    impasto("shutdown", "--timeout", "2", env=env)
    deadline = time.monotonic() + 15
    while _daemon_pids(endpoint) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _daemon_pids(endpoint):  # shutdown failed: no daemon may outlive the test
        os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_stylize_daemon_auto_starts_one_and_reuses_it(
    auto_env: dict[str, str], images: dict[str, Path], tmp_path: Path
) -> None:
    args = (images["content"], images["style"], *SMALL, "--daemon", "auto")
    engine = ("--device", "cpu", "--precision", "float32")  # for the daemon auto starts
    first = impasto("stylize", *args, "-o", tmp_path / "1.png", *engine, env=auto_env)
    assert first.returncode == 0, first.stderr
    assert "Starting the Impasto daemon" in first.stderr
    log = tmp_path / "xdg" / "impasto" / "daemon.log"
    assert log.is_file()
    assert len(_daemon_pids(auto_env["IMPASTO_ENDPOINT"])) == 1

    second = impasto("stylize", *args, "-o", tmp_path / "2.png", env=auto_env)
    assert second.returncode == 0, second.stderr
    assert "Impasto daemon" not in second.stderr
    assert Image.open(tmp_path / "1.png").size == Image.open(tmp_path / "2.png").size == (32, 32)

    body = json.loads(impasto("status", "--json", env=auto_env).stdout)
    assert body["counts"]["done"] == 2  # one daemon served both
    assert [j["label"] for j in body["jobs"]] == [
        "impasto: stylize 1.png",
        "impasto: stylize 2.png",
    ]


# -- shutdown, keys ---------------------------------------------------------------------------


def test_shutdown_stops_the_daemon(tmp_path: Path, images: dict[str, Path]) -> None:
    # 100 pixels: max_message_bytes 100 * 16 + 4096, less than the 48x48 content's 6912 bytes,
    # which ZeroMQ would drop without an answer; the client refuses to send it.
    proc = DaemonProcess(
        f"ipc://{tmp_path}/s.sock", tmp_path / "s.log", "--max-input-pixels", "100"
    ).start()
    try:
        r = impasto("submit", images["content"], images["style"], "--endpoint", proc.endpoint)
        assert "larger than the daemon accepts" in one_line_error(r, "submit")

        r = impasto("shutdown", "--endpoint", proc.endpoint)
        assert r.returncode == 0, r.stderr
        assert "shutting down" in r.stdout
        assert proc.proc is not None and proc.proc.wait(20) == 0
    finally:
        proc.stop()


def test_keys_writes_a_private_pair_and_refuses_to_overwrite(tmp_path: Path) -> None:
    folder = tmp_path / "keys" / "here"
    r = impasto("keys", "--dir", folder, "--name", "laptop")
    assert r.returncode == 0, r.stderr
    public, secret = folder / "laptop.key", folder / "laptop.key_secret"
    assert str(public) in r.stdout and str(secret) in r.stdout and "--allow" in r.stdout
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert "public-key" in public.read_text() and "secret-key" not in public.read_text()
    before = secret.read_text()

    assert "already exists" in one_line_error(
        impasto("keys", "--dir", folder, "--name", "laptop"), "keys"
    )
    assert secret.read_text() == before
    r = impasto("keys", "--dir", folder, "--name", "laptop", "--force")
    assert r.returncode == 0, r.stderr
    assert secret.read_text() != before and stat.S_IMODE(secret.stat().st_mode) == 0o600


# -- pieces that need no daemon ---------------------------------------------------------------


def test_precision_choices_match_the_engine() -> None:
    from impasto.cli.stylize import PRECISIONS
    from impasto.engine import Precision

    assert list(PRECISIONS) == [p.value for p in Precision]


def test_pixels_to_pil_every_layout() -> None:
    from impasto_protocol import Pixels

    for layout in ("L", "LA", "RGB", "RGBA", "BGR", "BGRA"):
        data = bytes(range(2 * 2 * len(layout)))
        image = Pixels(2, 2, data, layout).to_pil()
        assert image.size == (2, 2)
        if not layout.startswith("BGR"):
            assert image.mode == layout and image.tobytes() == data
    assert Pixels(1, 1, b"\x01\x02\x03", "BGR").to_pil().getpixel((0, 0)) == (3, 2, 1)


def test_stylize_help_still_lists_the_layers() -> None:
    r = impasto("stylize", "--help")
    assert r.returncode == 0, r.stderr
    assert "VGG19 layers: conv1_1, relu1_1" in r.stdout and "--daemon" in r.stdout
