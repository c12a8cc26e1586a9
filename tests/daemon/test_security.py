"""Who can reach the daemon (SPEC.md sections 2 and 13).

- The default endpoint is an IPC socket (0600) in a per-user directory (0700).
- A TCP endpoint that other machines can reach is refused without CurveZMQ or --insecure.
- With CurveZMQ, only clients whose public key is in the --allow folder get in; the others get
  no answer at all, and the daemon goes on serving the allowed ones.
- With --insecure, remote clients may use the daemon but not shut it down.
- Keys are never logged, even at debug level.
- Jobs belong to their owner (the client's key): another key cannot see, watch, cancel, replace
  or warm-start from them, and gets the answer a job that does not exist gets; an --admin key
  sees and may cancel every job. Job ids are 128 random bits.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import zmq.auth
from daemon_process import DaemonProcess, example_pixels

from impasto_protocol import Client, ClientKeys, ConnectionLost, RemoteError, Submit
from impasto_protocol import constants as C

IMPASTO = (sys.executable, "-m", "impasto")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def verbose(proc: DaemonProcess) -> DaemonProcess:
    """Debug logging: `python -m impasto -vv daemon ...`."""
    i = proc.args.index("daemon")
    proc.args[i:i] = ["-vv"]
    return proc


def wait_answering(
    proc: DaemonProcess,
    endpoint: str,
    curve: ClientKeys | None = None,
    ready: bool = False,
    timeout: float = 90.0,
) -> dict:
    """hello_reply once the daemon answers (and, with `ready`, has loaded its model)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.proc is not None
        if proc.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {proc.proc.returncode}: {proc.stderr()}")
        try:
            with Client(endpoint, timeout=1.0, curve=curve) as c:
                welcome = c.hello()
            if welcome["ready"] or not ready:
                return welcome
        except ConnectionLost:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"daemon not answering after {timeout} s; log:\n{proc.log()}")


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback, if it has one."""
    candidates: list[str] = []
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, timeout=5
        ).stdout
        candidates += re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        candidates.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    for address in candidates:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
            return address
    return None


# -- the default endpoint --------------------------------------------------------------------


@pytest.mark.parametrize("existing", [None, 0o755], ids=["created", "was-0755"])
def test_default_runtime_dir_is_private(
    tmp_path_factory: pytest.TempPathFactory, existing: int | None
) -> None:
    xdg = tmp_path_factory.mktemp("xdg")
    runtime = xdg / "impasto"
    if existing is not None:
        runtime.mkdir()
        runtime.chmod(existing)
    proc = DaemonProcess.on_default_endpoint(xdg)
    try:
        proc.start(wait_ready=0)
        wait_answering(proc, proc.endpoint)
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
        sock = (runtime / "daemon.sock").stat()
        assert stat.S_ISSOCK(sock.st_mode)
        assert stat.S_IMODE(sock.st_mode) == 0o600
    finally:
        assert proc.stop() == 0


# -- TCP without CurveZMQ --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "*"])
def test_a_public_tcp_endpoint_needs_curve_or_insecure(tmp_path: Path, host: str) -> None:
    proc = DaemonProcess(f"tcp://{host}:{free_port()}", tmp_path / "daemon.log")
    proc.start(wait_ready=0)
    assert proc.proc is not None
    assert proc.proc.wait(60) == 2
    lines = [line for line in proc.stderr().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "--insecure" in lines[0] and ("CurveZMQ" in lines[0] or "--curve-key" in lines[0])
    assert "Traceback" not in proc.log()


def test_loopback_tcp_needs_no_keys(tmp_path: Path) -> None:
    """Also a regression test: a shutdown while the model was still loading (as here, most
    likely) ended the process with SIGABRT, the engine thread being inside torch at exit."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = DaemonProcess(endpoint, tmp_path / "daemon.log")
    try:
        proc.start(wait_ready=0)
        assert wait_answering(proc, endpoint)["can_shutdown"] is True
        with Client(endpoint, timeout=5.0) as c:
            c.shutdown()
        assert proc.proc is not None and proc.proc.wait(30) == 0
    finally:
        proc.stop()


class SlowLoadingBackend:
    """A Backend whose model loads until the test says so (and that runs no jobs)."""

    trains = False
    clips = False

    def __init__(self) -> None:
        self.release = threading.Event()
        self.loaded = False

    def load(self) -> None:
        self.release.wait(30)
        self.loaded = True

    def describe(self) -> dict:
        return {}

    def swatches(self) -> list:
        return []

    def trained_styles(self) -> list:
        return []

    def stats(self) -> dict:
        return {}

    def check_settings(self, request: object) -> None:
        raise AssertionError("no jobs here")

    def run(self, job: object, progress: object) -> None:
        raise AssertionError("no jobs here")


def test_a_daemon_stopped_while_loading_waits_for_its_engine_thread(tmp_path: Path) -> None:
    """Regression (deterministic): the loop ended without waiting for the engine thread, so a
    daemon stopped during its model load exited with that thread inside torch: SIGABRT."""
    from impasto.server import Server, ServerConfig

    backend = SlowLoadingBackend()
    config = ServerConfig(endpoint=f"ipc://{tmp_path}/s.sock")
    server = Server(backend, config)  # type: ignore[arg-type]
    server.bind()
    loop = threading.Thread(target=server.serve_forever)
    loop.start()
    try:
        server.stop()
        loop.join(2.5)  # longer than the loop's grace period for requests on their way
        assert loop.is_alive(), "serve_forever returned with the engine thread still loading"
    finally:
        backend.release.set()
        loop.join(10)
    assert not loop.is_alive() and backend.loaded
    assert server._workers and not any(w.is_alive() for w in server._workers)


# -- CurveZMQ --------------------------------------------------------------------------------


class Curve:
    def __init__(self, root: Path) -> None:
        keys, self.allow = root / "keys", root / "allow"
        self.keys_dir = keys
        keys.mkdir()
        self.allow.mkdir()
        self.server_public, self.server_secret = zmq.auth.create_certificates(keys, "server")
        _, self.client_secret = zmq.auth.create_certificates(keys, "client")
        _, self.intruder_secret = zmq.auth.create_certificates(keys, "intruder")
        self.colleague_public, self.colleague_secret = zmq.auth.create_certificates(
            keys, "colleague"
        )
        self.admin_public, self.admin_secret = zmq.auth.create_certificates(keys, "admin")
        for name in ("client", "colleague", "admin"):
            shutil.copy(keys / f"{name}.key", self.allow / f"{name}.key")
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"

    def keys(self, secret_file: Path | str) -> ClientKeys:
        return ClientKeys.load(self.server_public, secret_file)

    def secrets(self) -> list[str]:
        """The z85 text of every secret key in play."""
        out = []
        for path in (
            self.server_secret,
            self.client_secret,
            self.intruder_secret,
            self.colleague_secret,
            self.admin_secret,
        ):
            _, secret = zmq.auth.load_certificate(path)
            assert secret is not None
            out.append(secret.decode())
        return out


@pytest.fixture(scope="module")
def curve(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("curve")
    keys = Curve(root)
    proc = verbose(
        DaemonProcess(
            f"tcp://0.0.0.0:{keys.port}",
            root / "daemon.log",
            *("--curve-key", str(keys.server_secret), "--allow", str(keys.allow)),
            *("--admin", str(keys.admin_public)),
        )
    )
    proc.start(wait_ready=0)
    keys.proc = proc  # type: ignore[attr-defined]
    try:
        wait_answering(proc, keys.endpoint, keys.keys(keys.client_secret), ready=True)
        yield keys
    finally:
        proc.stop()


def test_an_allowed_client_works_and_may_shut_down(curve: Curve) -> None:
    with Client(curve.endpoint, curve=curve.keys(curve.client_secret), timeout=5.0) as c:
        welcome = c.hello()
        assert welcome["can_shutdown"] is True
        job = c.submit(
            Submit(
                example_pixels("astronaut", 32),
                [example_pixels("hubble", 32)],
                {"size": 32, "iterations": 3},
            )
        )
        result = job.result(timeout=60)
    assert (result.image.width, result.image.height) == (32, 32)


def assert_allowed_client_served(curve: Curve) -> None:
    with Client(curve.endpoint, curve=curve.keys(curve.client_secret), timeout=60.0) as c:
        c.ping()  # answered (ConnectionLost otherwise)


@pytest.mark.timeout(120)  # a blocking send once hung here for good
def test_a_key_not_in_the_allow_folder_gets_no_answer(curve: Curve) -> None:
    with (
        Client(curve.endpoint, curve=curve.keys(curve.intruder_secret), timeout=2.0) as c,
        pytest.raises(ConnectionLost),
    ):
        c.hello()
    assert_allowed_client_served(curve)


@pytest.mark.timeout(30)  # a blocking send once hung here for good
def test_a_client_without_curve_gets_no_answer(curve: Curve) -> None:
    with Client(curve.endpoint, timeout=2.0) as c, pytest.raises(ConnectionLost):
        c.hello()
    assert_allowed_client_served(curve)


@pytest.mark.timeout(30)  # a blocking send once hung here for good
def test_a_client_with_the_wrong_server_key_gets_no_answer(curve: Curve, tmp_path: Path) -> None:
    other_public, _ = zmq.auth.create_certificates(tmp_path, "impostor")
    keys = ClientKeys.load(other_public, curve.client_secret)
    with Client(curve.endpoint, curve=keys, timeout=2.0) as c, pytest.raises(ConnectionLost):
        c.hello()
    assert_allowed_client_served(curve)


def long_job() -> Submit:
    return Submit(
        example_pixels("astronaut", 32),
        [example_pixels("hubble", 32)],
        {"size": 32, "iterations": 100_000, "init": "content"},
        label="a private label",
    )


def refusal(call) -> tuple[str, str, str | None]:
    """The error a request gets, with job ids taken out: (code, message, field)."""
    with pytest.raises(RemoteError) as info:
        call()
    e = info.value
    return e.code, re.sub(r"[0-9a-f]{32}", "ID", e.message), e.field


def test_jobs_belong_to_their_owner(curve: Curve) -> None:
    """Another key gets, for the owner's job, the very answer a job that does not exist gets;
    the administrator sees and cancels it."""
    owner_keys = curve.keys(curve.client_secret)
    with (
        Client(curve.endpoint, curve=owner_keys, timeout=10.0) as owner,
        Client(curve.endpoint, curve=curve.keys(curve.colleague_secret), timeout=10.0) as other,
        Client(curve.endpoint, curve=curve.keys(curve.admin_secret), timeout=10.0) as admin,
    ):
        job = owner.submit(long_job())
        assert re.fullmatch(r"[0-9a-f]{32}", job.id), job.id
        second = owner.submit(long_job())
        assert second.id != job.id
        owner_key = zmq.auth.load_certificate(curve.keys_dir / "client.key")[0].decode()
        assert owner.status(job.id)["job"]["owner"] == owner_key
        missing = "0" * 32
        for name, call, absent in [
            ("status", lambda j: other.status(j), None),
            ("watch", lambda j: other.watch(j), None),
            ("cancel", lambda j: other.cancel(j), None),
            ("replace", lambda j: other.submit(replace(long_job(), replace=j)), "replace"),
            ("init_job", lambda j: other.submit(replace(long_job(), init_job=j)), "init_job"),
            ("inputs_from", lambda j: other.submit(borrowing(j)), "inputs_from"),
        ]:
            theirs = refusal(lambda: call(job.id))  # noqa: B023 (called at once)
            assert theirs == refusal(lambda: call(missing)), name  # noqa: B023
            assert theirs[0] == C.E_UNKNOWN_JOB and theirs[2] == (absent or "job"), name
        listing = other.status()
        assert all(j["job"] != job.id for j in listing["jobs"])
        assert "a private label" not in repr(listing)
        assert listing["running"] is None and sum(listing["counts"].values()) == 0
        # The owner's job ran on: the refusals touched nothing.
        assert owner.status(job.id)["job"]["state"] in ("queued", "running")
        seen = {j["job"] for j in admin.status()["jobs"]}
        assert {job.id, second.id} <= seen
        assert owner.cancel(second.id)["cancelled"] is True  # queued: cancelled at once
        assert admin.cancel(job.id)["cancelled"] is True
        events = [type(e).__name__ for e in job.events(timeout=30)]
        assert events[-1] == "Cancelled"


def borrowing(job: str) -> Submit:
    """A submit that takes its images from `job` (and sends none)."""
    return replace(long_job(), content=None, styles=[], inputs_from=job)


def test_keys_are_never_logged(curve: Curve) -> None:
    log = curve.proc.log()  # type: ignore[attr-defined]
    assert " DEBUG " in log  # -vv took effect: the strictest case
    assert "CurveZMQ on" in log
    for secret in curve.secrets():
        assert secret not in log


def test_the_allowed_client_shuts_the_daemon_down(curve: Curve) -> None:
    proc: DaemonProcess = curve.proc  # type: ignore[attr-defined]
    with Client(curve.endpoint, curve=curve.keys(curve.client_secret), timeout=5.0) as c:
        assert c.shutdown()["jobs_cancelled"] == 0
    assert proc.proc is not None and proc.proc.wait(30) == 0
    log = proc.log()
    for secret in curve.secrets():
        assert secret not in log and secret not in proc.stderr()
    assert "Traceback" not in log


# -- --insecure ------------------------------------------------------------------------------


def test_insecure_lets_remote_clients_in_but_not_shut_down(tmp_path: Path) -> None:
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    port = free_port()
    proc = DaemonProcess(f"tcp://0.0.0.0:{port}", tmp_path / "daemon.log", "--insecure")
    try:
        proc.start(wait_ready=0)
        remote = wait_answering(proc, f"tcp://{address}:{port}")
        assert remote["can_shutdown"] is False
        with (
            Client(f"tcp://127.0.0.1:{port}", timeout=5.0) as local,
            Client(f"tcp://{address}:{port}", timeout=5.0) as c,
        ):
            with pytest.raises(RemoteError) as info:
                c.shutdown()
            assert info.value.code == C.E_NOT_ALLOWED
            c.ping()  # refused, and still served (ConnectionLost otherwise)
            # The local user's job is not "anyone"'s.
            wait_answering(proc, f"tcp://127.0.0.1:{port}", ready=True)
            job = local.submit(long_job())
            assert local.status(job.id)["job"]["owner"] == "local"
            assert refusal(lambda: c.cancel(job.id))[0] == C.E_UNKNOWN_JOB
            assert all(j["job"] != job.id for j in c.status()["jobs"])
            assert c.status(c.submit(long_job()).id)["job"]["owner"] == "anyone"
            assert local.hello()["can_shutdown"] is True
            local.shutdown()
        assert proc.proc is not None and proc.proc.wait(30) == 0
    finally:
        proc.stop()


@pytest.mark.parametrize("value", ["notakey", "~" * 40, "missing.key"])
def test_a_bad_admin_is_one_line_exit_2(tmp_path: Path, value: str) -> None:
    r = subprocess.run(
        [*IMPASTO, "daemon", "--endpoint", f"ipc://{tmp_path}/s", "--admin", value],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--admin" in lines[0] and value in lines[0], r.stderr


def test_admin_values_name_owners(tmp_path: Path) -> None:
    from impasto.cli.daemon import admin_owner

    public_file, secret_file = zmq.auth.create_certificates(tmp_path, "someone")
    public = zmq.auth.load_certificate(public_file)[0].decode()
    assert admin_owner(str(public_file)) == public
    assert admin_owner(str(secret_file)) == public  # the public half of a key pair
    assert admin_owner(public) == public
    assert admin_owner("local") == "local"
