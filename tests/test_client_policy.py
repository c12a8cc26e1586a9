"""The client's job policy is written once, in impasto_protocol, and the three clients (the
command line, the Krita plug-in, the GIMP plug-in) call it rather than deciding again.

The decisions themselves are tested where they live (tests/protocol); the end-to-end tests run
each client for real. What is checked here, on the clients' source, is that none of them builds
a job, finds a daemon, or words a duration on its own: each rule below names the shared piece
every client must call, and the hand-made variants that crept in before."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = {
    "cli": ROOT / "daemon" / "impasto" / "cli",
    "krita": ROOT / "plugins" / "krita" / "impasto_krita",
    "gimp": ROOT / "plugins" / "gimp" / "impasto_gimp",
}
# `impasto submit` is the protocol's raw form for scripts: every job option is the user's own.
RAW_SUBMIT = CLIENTS["cli"] / "remote.py"


def _modules(client: str) -> list[Path]:
    files = sorted(CLIENTS[client].glob("*.py"))
    assert files, client
    return files


def _calls(path: Path) -> set[str]:
    """The names called in `path` (`f(...)` and `x.f(...)` both give "f")."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _client_calls(client: str) -> set[str]:
    return set().union(*(_calls(p) for p in _modules(client)))


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_builds_its_jobs_with_the_shared_builders(client: str) -> None:
    """Cadence, preview size, the label and its cap, the size check: build_submit and
    build_train. A Submit or Train made by hand would decide them again."""
    calls = _client_calls(client)
    assert {"build_submit", "build_train"} <= calls, client
    for path in _modules(client):
        if path == RAW_SUBMIT:
            continue
        made = _calls(path) & {"Submit", "Train"}
        assert not made, f"{path.relative_to(ROOT)} builds {sorted(made)} by hand"
        text = path.read_text()
        assert "[:200]" not in text and "// 200" not in text, path.relative_to(ROOT)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_finds_or_starts_a_daemon_the_same_way(client: str) -> None:
    """The blocking clients call connect_or_start; Krita, which may not block, drives the same
    Startup from its timer and says the same no_daemon_text."""
    calls = _client_calls(client)
    if client == "krita":
        assert {"Startup", "no_daemon_text"} <= calls
    else:
        assert "connect_or_start" in calls, client
    for path in _modules(client):
        assert "wait_until_ready" not in _calls(path), path.relative_to(ROOT)


def _divides_by_60(path: Path) -> list[int]:
    """Lines that turn seconds into minutes by hand (x // 60, x % 60, x / 60)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, (ast.FloorDiv, ast.Mod, ast.Div))
            and isinstance(node.right, ast.Constant)
            and node.right.value in (60, 3600)
        ):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_words_durations_with_the_policy(client: str) -> None:
    calls = _client_calls(client)
    assert calls & {"duration", "time_left", "progress_line", "training_text"}, client
    for path in _modules(client):
        assert not _divides_by_60(path), f"{path.relative_to(ROOT)}: {_divides_by_60(path)}"


def test_both_editors_say_what_a_job_is_doing_with_the_policy() -> None:
    assert "doing" in _client_calls("krita")
    assert "progress_line" in _client_calls("gimp")


def test_both_the_cli_and_gimp_read_preset_mixes_with_one_parser() -> None:
    assert "parse_preset_mix" in _client_calls("cli")
    assert "parse_preset_text" in _client_calls("gimp")
