"""impasto.json as plug-ins read it, and starting a daemon for them and waiting until it is
ready (the real start of a real daemon is exercised by `stylize --daemon auto` in tests/cli and
by the Krita and GIMP end-to-end tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from impasto_protocol.launcher import (
    DaemonStartError,
    PluginConfig,
    Startup,
    connect_or_start,
    no_daemon_text,
    nothing_listening,
    start_daemon,
    wait_until_ready,
)


def test_missing_config_gives_defaults(tmp_path: Path) -> None:
    config = PluginConfig.load(tmp_path / "impasto.json")
    assert config == PluginConfig()
    assert config.resolved_endpoint().startswith(("ipc://", "tcp://"))


def test_round_trip(tmp_path: Path) -> None:
    config = PluginConfig("tcp://127.0.0.1:7000", ["/x/python", "-m", "impasto", "daemon"], 30)
    config.save(tmp_path / "impasto.json")
    assert PluginConfig.load(tmp_path / "impasto.json") == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "cannot read"),
        ("[]", "expected a JSON object"),
        ('{"endpoint": 5}', "endpoint must be like"),
        ('{"daemon_command": "impasto daemon"}', "daemon_command must be a list of strings"),
        ('{"start_timeout": -1}', "start_timeout must be a positive number"),
        ('{"start_timeout": true}', "start_timeout must be a positive number"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "impasto.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as e:
        PluginConfig.load(path)
    assert "\n" not in str(e.value)


def test_nothing_listening(tmp_path: Path) -> None:
    sock = tmp_path / "daemon.sock"
    assert nothing_listening(f"ipc://{sock}")
    sock.touch()
    assert not nothing_listening(f"ipc://{sock}")
    assert not nothing_listening("tcp://127.0.0.1:1")  # only an answer tells


def test_start_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DaemonStartError, match="none is configured to start"):
        start_daemon(PluginConfig(f"ipc://{tmp_path}/s"), tmp_path / "log")
    config = PluginConfig(f"ipc://{tmp_path}/s", [str(tmp_path / "no-such-impasto"), "daemon"])
    with pytest.raises(DaemonStartError, match="cannot start the daemon") as e:
        start_daemon(config, tmp_path / "run" / "daemon.log")
    assert "\n" not in str(e.value)


def test_start_detaches_and_logs(tmp_path: Path) -> None:
    log = tmp_path / "run" / "daemon.log"
    script = "import sys, os; print(sys.argv[1:], os.getsid(0) == os.getpid())"
    config = PluginConfig("tcp://127.0.0.1:7001", ["python3", "-c", script])
    proc = start_daemon(config, log)
    assert proc.wait(10) == 0
    text = log.read_text()
    assert "['--endpoint', 'tcp://127.0.0.1:7001'] True" in text  # own session, endpoint added
    assert (log.parent.stat().st_mode & 0o777) == 0o700


def test_a_started_daemon_that_exits_or_is_late_is_said_in_one_line(tmp_path: Path) -> None:
    """Startup, the one wait every client uses (the CLI, GIMP, Krita): a daemon that exits is
    reported with its status and log; one that is not ready within start_timeout, as late."""
    log = tmp_path / "run" / "daemon.log"
    gone = Startup(PluginConfig("tcp://127.0.0.1:7002", ["python3", "-c", "exit(3)"]), log)
    gone.start()
    assert gone.process is not None and gone.process.wait(10) == 3
    with pytest.raises(DaemonStartError, match=r"exited at once \(status 3\); see .*daemon.log"):
        wait_until_ready(gone, lambda: None, every=0.01)
    slow = ["python3", "-c", "import time; time.sleep(30)"]
    late = Startup(PluginConfig("tcp://127.0.0.1:7003", slow, start_timeout=0.3), log)
    late.start()
    try:
        with pytest.raises(DaemonStartError, match=r"not ready within 0\.3 s") as e:
            wait_until_ready(late, lambda: None, every=0.05)
        assert "\n" not in str(e.value)
    finally:
        assert late.process is not None
        late.process.kill()
        late.process.wait(10)


def test_waiting_ends_at_the_first_ready_hello() -> None:
    """A daemon that answers but still loads (nobody started it here) is waited for; the
    hello_reply that says ready is returned, and `pause` ran between the tries."""
    answers = iter([None, {"ready": False}, {"ready": True, "device": "cpu"}])
    pauses: list[float] = []
    startup = Startup(PluginConfig("tcp://127.0.0.1:7004", [], start_timeout=30))
    welcome = wait_until_ready(startup, lambda: next(answers), pause=pauses.append, every=0.25)
    assert welcome == {"ready": True, "device": "cpu"} and pauses == [0.25, 0.25]
    assert startup.process is None


def test_connect_or_start_without_a_command_says_how_to_start_one(tmp_path: Path) -> None:
    """Nothing listens and the client may not start a daemon: the one text every client
    shows, at once (no hello is even tried: no socket file, no daemon)."""
    endpoint = f"ipc://{tmp_path}/absent.sock"
    asked: list[float] = []

    def hello(timeout: float) -> dict | None:
        asked.append(timeout)
        return None

    with pytest.raises(DaemonStartError) as e:
        connect_or_start(Startup(PluginConfig(endpoint)), hello)
    assert str(e.value) == no_daemon_text(endpoint)
    assert f"impasto daemon --endpoint {endpoint}" in str(e.value)
    assert asked == []


def test_connect_or_start_waits_for_a_loading_daemon_and_starts_none(tmp_path: Path) -> None:
    """A daemon that answers but still loads is waited for: starting a second one would fight
    the first for the socket."""
    answers = iter([{"ready": False}, None, {"ready": False}, {"ready": True, "n": 1}])
    said: list[str] = []
    config = PluginConfig("tcp://127.0.0.1:1", [str(tmp_path / "must-not-run")])
    startup = Startup(config)
    welcome = connect_or_start(
        startup, lambda timeout: next(answers), pause=lambda s: None, on_wait=said.append
    )
    assert welcome == {"ready": True, "n": 1}
    assert startup.process is None  # nothing was started
    assert said == ["Waiting for the Impasto daemon at tcp://127.0.0.1:1 to load the model"]


def test_connect_or_start_returns_a_ready_daemon_at_once() -> None:
    config = PluginConfig("tcp://127.0.0.1:1", [])  # (no command: none may be started)
    said: list[str] = []
    welcome = connect_or_start(
        Startup(config), lambda timeout: {"ready": True}, on_wait=said.append
    )
    assert welcome == {"ready": True} and said == []
