"""Hostile input and security, small. (tests/daemon/test_hostile_input.py and test_security.py
hold the specific cases; these run the suites' own functions.)"""

from __future__ import annotations

from pathlib import Path

from benchmarks.reliability import hostile, security


def test_hostile_input_makes_no_crash_no_hang(tmp_path: Path) -> None:
    figures = hostile.run(
        decoder_inputs=300, socket_inputs=100, flood_messages=200, gap_frames=(40,), tmp=tmp_path
    )
    v = figures["verdict"]
    assert v["crashes_0"] and v["hangs_0"], (figures["decoder"], figures["socket"])
    assert v["wrong_answers_0"], figures["socket"]["examples"]
    assert v["paths_never_opened"]
    assert v["daemon_alive_and_working"], figures["daemon"]
    assert figures["flood"]["errors_received"] == 200
    for name, row in figures["attacks"].items():
        assert row["serving"], name
    assert figures["frame_count_gap"]["rows"][0]["answer"] == "malformed"


def test_the_default_endpoint_is_private(tmp_path: Path) -> None:
    row = security.private_endpoint(tmp_path, 0o755)
    assert (row["dir_mode"], row["socket_mode"]) == ("0o700", "0o600"), row
    assert row["other_user"] != "connected", row
    assert row["ok"], row


def test_curve_refuses_strangers_and_keeps_jobs_to_their_owner(tmp_path: Path) -> None:
    figures = security.curve_checks(tmp_path, attempts=1)
    assert all(r["refused"] == 1 for r in figures["refusals"].values()), figures["refusals"]
    own = figures["ownership"]
    assert own["ok"], own
    assert figures["secret_keys_in_log"] == 0 and figures["exit_code_after_shutdown"] == 0
