"""Render RELIABILITY.md from the suites' JSON files (benchmarks/results/reliability/).

    .venv/bin/python -m benchmarks.reliability.report

Every figure in the document comes from a results file; the prose around them says what each
suite does and how to read it. A suite without a results file is listed as not run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import RESULTS, ROOT

SUITES = ("load", "engines", "faults", "hostile", "soak", "security")
WHAT = {
    "load": "32 clients in 4 processes on one daemon: no result lost, ping/status answered fast "
    "while the queue is full, no client starved",
    "engines": "the load suite on a daemon with two engines (`--devices cpu,cpu`) taking jobs "
    "from one queue: nothing lost, both engines used",
    "faults": "each fault tried K = 5 times: the daemon survives, other clients' jobs finish, "
    "the affected client hears a clear outcome in time",
    "hostile": "100,000 fuzzed decoder inputs, 10,000 over a real socket, named attacks: no "
    "crash, no hang, memory measured",
    "soak": "2 hours of mixed traffic (stills, instant jobs, clips, estimates, a training again "
    "and again): memory, descriptors and threads level off",
    "security": "socket permissions, refused binds, refused keys, refused remote shutdown, no "
    "secrets in logs",
}


def table(head: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


INTRO = """\
# Reliability and security in figures

The daemon is meant to run for days, shared by several editors and scripts, and reachable over a
network. These figures come from six suites that run real `impasto daemon` processes and real
ZeroMQ sockets (no mocks), each with one command. This file is generated from their JSON results
by `.venv/bin/python -m benchmarks.reliability.report`; do not edit the figures by hand.

{suites}

`make reliability` runs all six (about 2 h 40 min on 2 cores, the soak's 2 hours included) and
regenerates this file; it is not part of `make test`. The smoke versions of the same suite
functions, with small parameters, run in the normal test run (`tests/reliability/`, a few minutes
in all) and assert the invariants (nothing lost, daemon alive, clear errors), never timings.
"""


def load_results(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for suite in SUITES:
        path = folder / f"{suite}.json"
        if path.exists():
            out[suite] = json.loads(path.read_text())
    return out


def yes(v: Any) -> str:
    if v is None:
        return "not tried"
    return "**yes**" if v else "**NO**"


def machine(results: dict[str, dict[str, Any]]) -> str:
    rows = [
        "## Machine and runs",
        "",
        "| suite | date (UTC) | commit | command | load average at start | wall |",
        "|---|---|---|---|---|---|",
    ]
    first = None
    for suite, r in results.items():
        env = r["environment"]
        first = first or env
        load = env.get("load_average_at_start") or []
        rows.append(
            f"| {suite} | {env['date']} | `{env.get('git_commit')}` | `{env['command']}` | "
            f"{' / '.join(f'{x:.2f}' for x in load)} | {r.get('wall_s', '?')} s |"
        )
    if first is not None:
        rows[2:2] = [
            f"CPU `{first['cpu']}` ({', '.join(first.get('cpu_flags', []))}), "
            f"{first['logical_cpus']} logical CPUs, {first.get('memory_gib')} GiB RAM; "
            f"Python {first['python']}, torch {first['torch']} "
            f"({first['torch_threads']} threads). No GPU: every daemon runs on the CPU.",
            "",
        ]
        rows[2 + 2 : 2 + 2] = _conditions(results, first)
    return "\n".join(rows)


def _conditions(results: dict[str, dict[str, Any]], first: dict[str, Any]) -> list[str]:
    """What the runs' own records say about how they ran: a busy machine (a load average at
    start over the CPU count, one-minute figure) and uncommitted changes."""
    out = []
    cpus = first.get("logical_cpus") or 1
    busy = [
        s
        for s, r in results.items()
        if (r["environment"].get("load_average_at_start") or [0])[0] > cpus
    ]
    if busy:
        out += [
            f"The machine was busy with other work as {', '.join(busy)} started (the load "
            f"average column, against {cpus} logical CPUs). That costs throughput (jobs finished "
            "per second) and can stretch latency tails; it cannot cause a lost result or a "
            "crash, which are the invariants checked.",
            "",
        ]
    dirty = [
        s for s, r in results.items() if "uncommitted" in str(r["environment"].get("git_commit"))
    ]
    if dirty:
        out += [
            f"'+ uncommitted changes' in the commit column ({', '.join(dirty)}): the run had "
            "changes in its working tree that its commit does not hold.",
            "",
        ]
    return out


def verdicts(results: dict[str, dict[str, Any]]) -> str:
    rows = ["## Verdicts", "", "| suite | check | holds |", "|---|---|---|"]
    for suite in SUITES:
        r = results.get(suite)
        if r is None:
            rows.append(f"| {suite} | (not run) | |")
            continue
        for k, v in r.get("verdict", {}).items():
            rows.append(f"| {suite} | {k.replace('_', ' ')} | {yes(v)} |")
    return "\n".join(rows)


def spread(lat: dict[str, Any]) -> str:
    return (
        f"{lat['p50']} / **{lat['p99']}** / {lat['max']} ms "
        f"(n = {lat['n']}; {lat.get('over_50ms', '?')} over 50 ms)"
    )


def engines_section(r: dict[str, Any]) -> str:
    """The load suite's section for its run on two engines, with which engine ran what."""
    body = load_section(r).split("\n", 1)[1]
    engines = ", ".join(f"engine {k}: {n}" for k, n in r.get("done_per_engine", {}).items())
    return (
        f"## Engines\n\nThe load suite against a daemon started with `--devices "
        f"{r['parameters'].get('devices')}`: one queue, an engine per device, each taking the "
        f"next job when it is free. Finished jobs the daemon still kept, by the engine that ran "
        f"them: {engines or 'none recorded'}.\n{body}"
    )


def load_section(r: dict[str, Any]) -> str:
    j, lat, fair = r["jobs"], r["latency_ms"], r["fairness"]
    p = r["parameters"]
    kinds = "; ".join(
        f"{k}: " + ", ".join(f"{n} {o}" for o, n in v.items()) for k, v in j["by_kind"].items()
    )
    pf, sf = lat["ping_while_queue_full"], lat["status_while_queue_full"]
    busy = f"while >= {lat['queue_full_threshold']} jobs queued: p50 / p99 / max"
    res = r["daemon"]
    rows = table(
        ["figure", "value"],
        [
            ["jobs submitted", j["submitted"]],
            ["finished (result received, 32x32)", j["finished"]],
            ["cancelled", j["cancelled"]],
            ["failed", j["failed"]],
            ["**results lost** (accepted, no outcome)", f"**{j['lost']}**"],
            [
                "client's outcome differs from the daemon's record",
                j["outcome_disagrees_with_daemon"],
            ],
            [
                "requests refused / client crashes",
                f"{j['refused_requests']} / {len(j['client_crashes'])}",
            ],
            ["by kind", kinds],
            ["longest queue seen", f"{lat['max_queue_seen']} jobs"],
            [f"ping {busy}", spread(pf)],
            [f"status {busy}", spread(sf)],
            [
                "jobs finished per client: min / median / max",
                f"{fair['finished_per_client_min']} / {fair['finished_per_client_median']} / "
                f"{fair['finished_per_client_max']} (Jain's index {fair['jain_index']}; 1 is even)",
            ],
            ["time queued: p50 / p99", f"{fair['queued_s_p50']} / {fair['queued_s_p99']} s"],
            [
                "per-client median time queued: lowest / highest",
                f"{fair['client_median_queued_s_min']} / {fair['client_median_queued_s_max']} s",
            ],
            [
                "daemon memory start / end",
                f"{res['start']['rss_kib'] // 1024} / {res['end']['rss_kib'] // 1024} MiB",
            ],
        ],
    )
    return f"""## Load

{r["clients"]} clients (threads with a socket each, in {r["processes"]} processes) submitted
32 px jobs of {p["iterations"]} iterations for {p["duration"]:g} s, following each job's events;
in 15% of the rounds a client cancelled its job (half at once, half at its first progress
event), in 15% it replaced it with a new one (`replace`). A probe client sent ping and status
every {p["probe_interval"]:g} s.

{rows}

The status reply lists every kept job (up to 256), so it is larger and slower than a ping. Both
are answered by the socket loop while the engine thread computes (the loop never waits on the
engine; the engine wakes it through an inproc socket), and the figures show that the engine
thread does not keep the interpreter lock long enough to matter. No daemon change was needed
to keep p99 under 50 ms on 2 cores, with the engine's two torch threads, the 4 client
processes and the probe all on those cores. The rare tail (the "over 50 ms" count, and the
max) was not traced further: with the other sessions' work on the same two cores, one
descheduled process (daemon, probe or client) is enough.
"""


def faults_section(r: dict[str, Any]) -> str:
    head = [
        "fault",
        "tried",
        "daemon survived",
        "other clients' jobs finished",
        "affected client got a clear outcome",
        "slowest outcome (s)",
        "example",
    ]
    body = []
    for name, t in r["faults"].items():
        secs = t["max_seconds_to_outcome"]
        body.append(
            [
                name,
                t["tried"],
                t["survived"],
                t["others_finished"],
                t["affected_clear"],
                "-" if secs is None else secs,
                t["example"],
            ]
        )
    rows = [table(head, body)]
    return f"""## Faults

Each fault was tried K = {r["parameters"]["trials"]} times, each time with a bystander client
whose job had to finish. Clients allow {r["client_timeout_s"]:g} s for an answer; the daemons run
with a {r["heartbeat_timeout_s"]:g} s heartbeat timeout. Full disks: {r["full_disk_method"]}.
Engine faults: {r["engine_fault_injection"]}.

{chr(10).join(rows)}

How to read the rows:
- *client SIGKILLed*: the killed client's job is cancelled (`client_gone`) as soon as the daemon
  next tries to send to it (ZeroMQ reports the vanished peer), at the latest after the heartbeat
  timeout; nobody is left to tell, so "clear outcome" is the job's recorded state.
- *client never reads*: it submits a job with a preview and progress event every iteration and
  keeps heartbeating without reading; when it reads at last it gets the acceptance, one preview
  (the one in flight; later ones replaced it and were dropped at the end), heartbeats and the
  result: latest-wins previews and coalesced progress keep its backlog bounded.
- *daemon SIGKILLed*: jobs a killed daemon held are gone (the daemon keeps no state on disk); what
  matters is that every waiting client hears `ConnectionLost` within its own timeout instead of
  waiting for ever, and that a new daemon on the same endpoint (the stale socket and lock files
  are taken over) serves them at once.
- *log on a full disk* (fixed, see below): the daemon goes on serving, says once on stderr that
  its log cannot be written, and notes in the log how many records were lost once there is room.
- *result file on a full disk*: `impasto watch JOB -o` exits 2 with one line (`cannot write
  ...: No space left on device`), leaves no partial file, and the job's result is still fetched
  by the next `impasto watch JOB -o elsewhere.png`.
"""


def hostile_section(r: dict[str, Any]) -> str:
    d, s, f, gap = r["decoder"], r["socket"], r["flood"], r["frame_count_gap"]
    attacks = "\n".join(
        f"| {name} | {', '.join(str(a) for a in row['answer'])} | "
        f"{'yes' if row['serving'] else 'NO'} |"
        for name, row in r["attacks"].items()
    )
    gaps = "\n".join(
        f"| {g['frames']} x {g['frame_bytes']} B | {g['mib_sent']} MiB | {g['answer']} | "
        f"{g['rss_mib_before']} / {g['rss_mib_peak']} / {g['rss_mib_after']} MiB |"
        for g in gap["rows"]
    )
    dm = r["daemon"]
    return f"""## Hostile input

Property-based fuzzing with hypothesis, using the test suite's own strategies
(`tests/protocol/test_codec.py`: random bytes, random msgpack, header-like maps, mutated valid
headers, mutated and random submits; `tests/daemon/test_hostile_input.py`: hostile headers,
broken submits, frame lists). atheris was not used: it is not installable here without a clang
toolchain, and the strategies already aim at the decoder's structure.

| figure | decoder and validators, in process | daemon over a real socket |
|---|---|---|
| inputs | **{d["inputs"]:,}** | **{s["inputs"]:,}** |
| crashes | **{d["crashes"]}** | **{s["crashes"]}** |
| hangs (> 1 s per call; no answer within 2 s) | **{d["hangs"]}** | **{s["hangs"]}** |
| wrong answers (SPEC.md: one answer, its ref, code, field) | - | **{s["wrong_answers"]}** |
| accepted / refused | {d["decoded"]:,} / {d["refused"]:,} | - |
| slowest call | {d["slowest_ms"]} ms | - |
| time | {d["seconds"]} s | {s["seconds"]} s |
| daemon MiB before / after | - | {s["rss_kib_before"] // 1024} / {s["rss_kib_after"] // 1024} |

A submit the fuzzer gets right is queued and then cancelled; the daemon there runs with
`--max-input-pixels 4096` (max_message_bytes {gap["max_message_bytes"]:,}),
`--max-output-pixels 1024` and `--max-iterations 5`.

Named attacks (each followed by a ping from a well-behaved client):

| attack | answer | daemon serving |
|---|---|---|
{attacks}

A flood of {f["messages"]:,} garbage messages from one socket: {f["errors_received"]:,} error
replies received (none dropped); a witness's ping meanwhile took at most
{f["witness_ping_ms_max"]} ms.

At the end the daemon was alive ({yes(dm["alive_at_end"])}), ran a real job
({yes(dm["ran_a_job_at_the_end"])}), exited with {dm["exit_code"]}, and its log held
{dm["tracebacks_in_log"]} tracebacks. Memory: {dm["start"]["rss_kib"] // 1024} MiB before the
fuzzing, {dm["before_gap"]["rss_kib"] // 1024} MiB after it and the attacks and flood.
Threads {dm["start"]["threads"]} -> {dm["end"]["threads"]}, descriptors {dm["start"]["fds"]} ->
{dm["end"]["fds"]}: the first echoed frame over 64 KiB (pyzmq's zero-copy threshold) starts
pyzmq's buffer-release thread, with a ZeroMQ context of its own, once; the counts stay there
(checked by sending more such messages).

### Known limit: frames per message

`ZMQ_MAXMSGSIZE` bounds each frame, not the number of frames. libzmq delivers a multipart
message atomically: it buffers every frame of it before the daemon can read the first, so the
daemon's own check (at most 32 data frames, `malformed` otherwise) comes after the memory is
spent. There is no libzmq option that bounds frames or bytes per message. Measured, with frames
just under the limit:

| message | sent | answer | daemon memory before / peak / after |
|---|---|---|---|
{gaps}

So a client that can connect can make the daemon hold as much memory as it sends in one
message; the allocator keeps the pages for reuse afterwards (a second message of the same size
does not raise the peak). Who can connect: on the default endpoint only the daemon's own user
(0700 folder, 0600 socket); on a remote endpoint only clients whose CurveZMQ key is in
`--allow`; with `--insecure`, anyone who can reach the port, which is one more reason that
option is for trusted networks only. The per-frame limit itself follows
`--max-input-pixels` (x 16 + 4096 bytes): lowering it lowers both.
"""


def soak_section(r: dict[str, Any]) -> str:
    m, j = r["memory_mib"], r["jobs"]
    sides = ", ".join(
        f"{k} {v['rounds']} rounds ({v['failures']} failed)" for k, v in r["side_traffic"].items()
    )
    end = r["daemon_at_end"]
    return f"""## Soak

{r["parameters"]["duration"]:g} s of mixed traffic: {r["parameters"]["clients"]} editor-like
clients (load.py's submit / follow / cancel / replace) in {r["parameters"]["processes"]}
processes, plus {sides}. Sampled every {r["parameters"]["sample_every"]:g} s.

| figure | start | after warm-up (10%) | end | max |
|---|---|---|---|---|
| resident memory (MiB) | {m["start"]} | {m["after_warm_up"]} | {m["end"]} | {m["max"]} |
| file descriptors | {r["fds"]["start"]} | | {r["fds"]["end"]} | {r["fds"]["max"]} |
| threads | {r["threads"]["start"]} | | {r["threads"]["end"]} | {r["threads"]["max"]} |

Memory growth after warm-up: {m["growth_after_warm_up"]} MiB; over the second half:
**{m["growth_over_second_half"]} MiB**. Jobs: {j["submitted"]} submitted, {j["finished"]}
finished, {j["cancelled"]} cancelled, {j["failed"]} failed, **{j["lost"]} lost**. At the end the
daemon kept {end["kept_jobs"]} finished jobs (at most 256 are kept, with their results), its
style cache held {((end.get("engine") or {}).get("style_cache") or {}).get("entries", "?")}
entr(y/ies), and it counted {end["clients"]} live client(s).
"""


def security_section(r: dict[str, Any]) -> str:
    ep = r["default_endpoint"]
    pub = r["public_bind_without_curve"]
    c = r["curve"]
    ins = r["insecure_remote_shutdown"]
    ep_rows = "\n".join(
        f"| {'existed as ' + e['dir_existed_with'] if e['dir_existed_with'] else 'created'} "
        f"| {e['dir_mode']} | {e['socket_mode']} | {e['other_user']} |"
        for e in ep
    )
    pub_rows = "\n".join(f"| `{p['endpoint']}` | {p['exit_code']} | {p['message']} |" for p in pub)
    key_rows = "\n".join(
        f"| {k} | {v['refused']}/{v['attempts']} | {v['slowest_s']} s |"
        for k, v in c["refusals"].items()
    )
    own = c["ownership"]
    own_rows = "\n".join(
        f"| {k} | {v['answered_as_missing']}/{v['attempts']} |" for k, v in own["requests"].items()
    )
    if ins.get("ok") is None:
        ins_text = ins.get("note", "")
    else:
        ins_text = (
            f"With `--insecure` on 0.0.0.0, a client connecting from {ins['remote_address']} was "
            "told `can_shutdown: false` and its shutdowns were refused "
            f"({ins['remote_shutdowns_refused']}, `not_allowed`); it was still served "
            f"afterwards ({ins['served_after_refusals']}). "
            f"A loopback client could shut the daemon down (exit {ins['exit_code']})."
        )
    return f"""## Security

Default endpoint (`$XDG_RUNTIME_DIR/impasto/daemon.sock`). Another user (uid 65534, tried when
the suite runs as root) connecting to the socket:

| runtime folder | folder mode | socket mode | another user's connect |
|---|---|---|---|
{ep_rows}

Binding an address other machines can reach, without CurveZMQ or `--insecure`:

| endpoint | exit code | message |
|---|---|---|
{pub_rows}

CurveZMQ (daemon on 0.0.0.0 with `--curve-key` and `--allow`, logging at debug level). A refused
client gets no answer at all (ZAP refuses the handshake), so its `hello` ends in `ConnectionLost`
after its 2 s timeout; after every refusal the allowed client was served:

| client | refused | slowest |
|---|---|---|
{key_rows}

The allowed client ran a job ({yes(c["allowed_client_served"])}) and could shut the daemon down
({yes(c["allowed_client_may_shut_down"])}, exit {c["exit_code_after_shutdown"]}). The daemon's
log ({c["debug_log_lines"]} debug lines) and stderr contained {c["secret_keys_in_log"]} of the
secret keys in play.

Jobs belong to their owner. With the first allowed key's job running, a second allowed key tried
every request that names a job; each answer was compared with the answer for a job id that does
not exist (the same code, message and field, ids aside):

| request by another key | answered as for a missing job |
|---|---|
{own_rows}

The job was not in the other key's `status` list ({yes(not own["listed_to_the_other_key"])}); it ran
on untouched ({yes(own["owner_job_untouched"])}); the `--admin` key saw it
({yes(own["admin_sees_it"])}) and cancelled it ({yes(own["admin_cancelled_it"])}). Job ids:
{own["job_id"]["length"]} hexadecimal characters, 128 random bits.

{ins_text}
"""


FIXES = """\
## Failures the suites found, and their fixes

- **A full disk under the daemon's log stalled the daemon.** logging's handlers answer every
  failed write with a traceback on stderr; with `--log` on a full disk that is about 1.5 KB of
  stderr per log record, and where stderr is a pipe nobody reads (a plug-in or a test harness
  that started the daemon) the pipe fills after some 40 records and the daemon blocks inside its
  socket loop: every client then times out. Fixed in `daemon/impasto/server/logfile.py`
  (`DaemonLogHandler`, used by `impasto daemon --log`): one line on stderr when the log cannot be
  written, records dropped while that lasts, and a note in the log of how many were lost once
  writing works again. Regression test: `tests/daemon/test_full_disk.py`.
- **The scheduler remembered every client that ever had a job started.** Each connection is a
  new client to the daemon (ZeroMQ routing ids are per connection), so a daemon that scripts
  reach with one `impasto submit` or `impasto stylize --daemon` after another grew one entry per
  call, for as long as it ran. Found while writing the soak suite, by listing what the daemon
  keeps per client (the soak's memory figure could not show it: its clients are long-lived, and
  an entry is a few hundred bytes). Fixed in
  `daemon/impasto/server/jobs.py` (`Scheduler.forget`, called from the housekeeping tick):
  clients that are gone and have nothing queued are forgotten. Regression test:
  `tests/daemon/test_bounded_state.py::test_clients_that_came_and_went_are_forgotten`.
- **Kept results were bounded by count and age, not by memory.** Up to 256 finished jobs are
  kept for `result_ttl` (600 s) with their encoded result and their last image (for `watch`
  after a reconnect, and warm starts): at 4096x4096 RGBA that is 128 MiB a job, so a busy GPU
  daemon could hold many GiB for ten minutes. Now the kept images also stay within a budget
  (`ServerConfig.max_kept_bytes`, 1 GiB), the oldest dropped first; SPEC.md section 8.4 says so.
  Regression test: `test_kept_results_stay_within_their_memory_budget` in
  `tests/daemon/test_bounded_state.py`.
"""


def render(results: dict[str, dict[str, Any]]) -> str:
    suites = table(
        ["suite", "command (full size)", "what it shows"],
        [[s, f"`make reliability-{s}`", WHAT[s]] for s in SUITES],
    )
    parts = [INTRO.format(suites=suites), machine(results), verdicts(results)]
    sections = {
        "load": load_section,
        "engines": engines_section,
        "faults": faults_section,
        "hostile": hostile_section,
        "soak": soak_section,
        "security": security_section,
    }
    for suite in SUITES:
        if suite in results:
            parts.append(sections[suite](results[suite]))
        else:
            parts.append(f"## {suite.capitalize()}\n\nNot run yet: `make reliability-{suite}`.\n")
    parts.append(FIXES)
    return "\n\n".join(p.rstrip() + "\n" for p in parts).rstrip() + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reliability.report")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--out", type=Path, default=ROOT / "RELIABILITY.md")
    args = ap.parse_args()
    args.out.write_text(render(load_results(args.results)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
