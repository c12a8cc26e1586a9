"""`impasto install krita|gimp` into throwaway folders: layout, vendored code that really loads,
re-runs, uninstall, and failures that leave a working install alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from impasto_install import kritarc

IMPASTO = [sys.executable, "-m", "impasto"]


def impasto(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*IMPASTO, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def install_gimp(folder: Path, wheels: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return impasto(
        "install", "gimp", "--dir", str(folder), "--python", "3.11", "--wheels", str(wheels),
        *extra,
    )  # fmt: skip


def install_krita(
    folder: Path, rc: Path, wheels: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return impasto(
        "install", "krita", "--dir", str(folder), "--kritarc", str(rc),
        "--python", "3.11", "3.13", "--wheels", str(wheels), *extra,
    )  # fmt: skip


def test_gimp_layout_and_vendored_code_loads(tmp_path: Path, wheel_dir: Path) -> None:
    done = install_gimp(tmp_path, wheel_dir, "--endpoint", "tcp://127.0.0.1:5999")
    assert done.returncode == 0, done.stderr
    plugin = tmp_path / "impasto-stylize"
    entry = plugin / "impasto-stylize.py"
    assert entry.is_file() and os.access(entry, os.X_OK)  # GIMP ignores a non-executable file
    assert (plugin / "impasto_gimp" / "__init__.py").is_file()
    assert not (plugin / "impasto_gimp" / "impasto-stylize.py").exists()
    config = json.loads((plugin / "impasto.json").read_text())
    assert config["endpoint"] == "tcp://127.0.0.1:5999"
    assert config["daemon_command"] == [sys.executable, "-m", "impasto", "daemon"]
    assert sorted(p.name for p in (plugin / "vendor").iterdir()) == ["common", "py311"]
    # The vendored copies, not this venv's, must import and work in an isolated interpreter.
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1] + '/py311', sys.argv[1] + '/common']\n"
        "import zmq, msgpack, impasto_protocol\n"
        "for m in (zmq, msgpack, impasto_protocol): assert m.__file__.startswith(sys.argv[1]), m\n"
        "ctx = zmq.Context(); s = ctx.socket(zmq.DEALER); s.close(); ctx.term()\n"
        "assert msgpack.unpackb(msgpack.packb({'a': [1]})) == {'a': [1]}\n"
        "print(zmq.zmq_version())"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, str(plugin / "vendor")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def test_krita_layout_kritarc_and_uninstall(tmp_path: Path, wheel_dir: Path) -> None:
    pykrita, rc = tmp_path / "pykrita", tmp_path / "config" / "kritarc"
    rc.parent.mkdir()
    original = "[General]\nfoo=bar\n\n[python]\nenable_other=true\n# a comment\n"
    rc.write_text(original)
    for _ in range(2):  # re-running is safe
        done = install_krita(pykrita, rc, wheel_dir)
        assert done.returncode == 0, done.stderr
    assert (pykrita / "impasto_krita.desktop").is_file()
    assert (pykrita / "impasto_krita" / "__init__.py").is_file()
    assert not (pykrita / "impasto_krita" / "impasto_krita.desktop").exists()
    assert sorted(p.name for p in (pykrita / "impasto_krita" / "vendor").iterdir()) == [
        "common",
        "py311",
        "py313",
    ]
    text = rc.read_text()
    assert text.count("enable_impasto_krita=true") == 1
    assert "foo=bar" in text and "enable_other=true" in text and "# a comment" in text
    assert kritarc.is_enabled(rc, "impasto_krita")
    assert sorted(p.name for p in pykrita.iterdir()) == ["impasto_krita", "impasto_krita.desktop"]

    done = impasto("install", "krita", "--dir", str(pykrita), "--kritarc", str(rc), "--uninstall")
    assert done.returncode == 0, done.stderr
    assert list(pykrita.iterdir()) == []
    assert rc.read_text() == original  # every other setting as the user had it
    again = impasto("install", "krita", "--dir", str(pykrita), "--kritarc", str(rc), "--uninstall")
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_rerun_keeps_the_users_endpoint(tmp_path: Path, wheel_dir: Path) -> None:
    assert install_gimp(tmp_path, wheel_dir, "--endpoint", "tcp://127.0.0.1:6001").returncode == 0
    config = tmp_path / "impasto-stylize" / "impasto.json"
    data = json.loads(config.read_text())
    data["start_timeout"] = 30
    config.write_text(json.dumps(data))
    done = install_gimp(tmp_path, wheel_dir, "--daemon-command", "/opt/x/impasto daemon --cpu")
    assert done.returncode == 0, done.stderr
    data = json.loads(config.read_text())
    assert data["endpoint"] == "tcp://127.0.0.1:6001"
    assert data["start_timeout"] == 30
    assert data["daemon_command"] == ["/opt/x/impasto", "daemon", "--cpu"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["impasto-stylize"]  # nothing left over
    assert install_gimp(tmp_path, wheel_dir, "--daemon-command", "").returncode == 0
    assert json.loads(config.read_text())["daemon_command"] == []  # never start one...
    assert install_gimp(tmp_path, wheel_dir).returncode == 0
    assert json.loads(config.read_text())["daemon_command"] == []  # ...and a re-run keeps that


def test_a_failed_install_leaves_the_previous_one(tmp_path: Path, wheel_dir: Path) -> None:
    assert install_gimp(tmp_path, wheel_dir).returncode == 0
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    empty = tmp_path.parent / "no-wheels"
    empty.mkdir()
    done = install_gimp(tmp_path, empty)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no pyzmq/msgpack wheels for Python 3.11" in lines[0], done.stderr
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--endpoint", "udp://x"],
            "--endpoint: transport 'udp' is not supported (use ipc or tcp)",
        ),
        (["--python", "python3"], "--python: 'python3' is not a version like 3.11"),
        (["--daemon-command", "'unclosed"], "--daemon-command: No closing quotation"),
        (["--wheels", "/nonexistent"], "--wheels: /nonexistent is not a folder"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = impasto("install", "gimp", "--dir", str(tmp_path), *args)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"impasto install: error: {message}"]
    assert list(tmp_path.iterdir()) == []


def test_default_folders_follow_the_environment(tmp_path: Path) -> None:
    from impasto_install.hosts import gimp_plug_ins_dir, krita_pykrita_dir, kritarc_path

    env = {"XDG_DATA_HOME": str(tmp_path / "d"), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    old = {k: os.environ.get(k) for k in [*env, "GIMP3_DIRECTORY"]}
    try:
        os.environ.update(env)
        os.environ.pop("GIMP3_DIRECTORY", None)
        if sys.platform.startswith("linux"):
            assert krita_pykrita_dir() == tmp_path / "d" / "krita" / "pykrita"
            assert kritarc_path() == tmp_path / "c" / "kritarc"
            assert gimp_plug_ins_dir() == tmp_path / "c" / "GIMP" / "3.0" / "plug-ins"
        os.environ["GIMP3_DIRECTORY"] = str(tmp_path / "g")
        assert gimp_plug_ins_dir() == tmp_path / "g" / "plug-ins"
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_kritarc_without_a_python_section(tmp_path: Path) -> None:
    rc = tmp_path / "kritarc"
    rc.write_text("[General]\nfoo=bar")  # no final newline
    kritarc.enable(rc, "impasto_krita")
    assert rc.read_text() == "[General]\nfoo=bar\n\n[python]\nenable_impasto_krita=true\n"
    kritarc.disable(rc, "impasto_krita")
    assert not kritarc.is_enabled(rc, "impasto_krita")
    assert "foo=bar" in rc.read_text()
