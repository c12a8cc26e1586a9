"""Hostile input and security, small. (tests/daemon/test_hostile_input.py and test_security.py
hold the specific cases; these run the suites' own functions.)

They check the suites' counts and answers themselves, not the suites' verdicts: a wrong verdict
must not pass."""

from __future__ import annotations

from pathlib import Path

from benchmarks.reliability import hostile, security

from impasto_protocol import constants as C


def test_hostile_input_makes_no_crash_no_hang(tmp_path: Path) -> None:
    figures = hostile.run(
        decoder_inputs=300,
        socket_inputs=100,
        flood_messages=200,
        gap_frames=(40,),
        tmp=tmp_path,
        answer_s=30.0,  # a loaded machine is slow, not hung
    )
    # Every decoder input was decoded or refused with a ProtocolError; nothing else.
    decoder = figures["decoder"]
    assert decoder["inputs"] > 0, decoder
    assert decoder["decoded"] + decoder["refused"] == decoder["inputs"], decoder
    # Every socket input got the answers SPEC.md prescribes, and the witness its ping.
    socket = figures["socket"]
    assert socket["inputs"] > 0, socket
    assert socket["answered_right"] == socket["inputs"], socket["examples"]
    attacks = figures["attacks"]
    for name, row in attacks.items():
        assert row["serving"], name
    one_answer = {name: row["answer"] for name, row in attacks.items() if "opened" not in row}
    del one_answer["frame over max_message_bytes"]
    for name, answer in one_answer.items():  # exactly one answer each, an error code or a reply
        assert len(answer) == 1 and answer[0] in (*C.ERROR_CODES, C.PING_REPLY), (name, answer)
    assert one_answer["unknown type"] == [C.E_UNKNOWN_TYPE]
    assert one_answer["33 frames"] == one_answer["nested 60,000 deep"] == [C.E_MALFORMED]
    assert attacks["frame over max_message_bytes"]["answer"] == ["connection dropped by ZeroMQ"]
    paths = attacks["file paths in 16 fields"]
    assert paths["opened"] == 0 and paths["refused"] == paths["messages"] == 16, paths
    assert figures["flood"]["errors_received"] == 200
    assert figures["frame_count_gap"]["rows"][0]["answer"] == C.E_MALFORMED
    daemon = figures["daemon"]
    assert daemon["alive_at_end"] and daemon["exit_code"] == 0, daemon
    assert daemon["ran_a_job_at_the_end"] and daemon["tracebacks_in_log"] == 0, daemon


def test_the_default_endpoint_is_private(tmp_path: Path) -> None:
    row = security.private_endpoint(tmp_path, 0o755)
    assert (row["dir_mode"], row["socket_mode"]) == ("0o700", "0o600"), row
    assert row["other_user"] != "connected", row
    assert row["exit_code"] == 0, row


def test_curve_refuses_strangers_and_keeps_jobs_to_their_owner(tmp_path: Path) -> None:
    figures = security.curve_checks(tmp_path, attempts=1)
    assert all(r["refused"] == 1 for r in figures["refusals"].values()), figures["refusals"]
    own = figures["ownership"]
    # Every request naming another key's job was answered as for a job that does not exist.
    for name, row in own["requests"].items():
        (theirs, absent), *_ = row["answers"]
        assert theirs is not None and theirs == absent, (name, row)
        assert theirs[0] == C.E_UNKNOWN_JOB, (name, theirs)
    assert not own["listed_to_the_other_key"] and own["owner_job_untouched"], own
    assert own["admin_sees_it"] and own["admin_cancelled_it"], own
    assert figures["allowed_client_served"] and figures["allowed_client_may_shut_down"]
    assert figures["secret_keys_in_log"] == 0 and figures["exit_code_after_shutdown"] == 0
