"""protocol/SPEC.md against the implementation: the document must stay true."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from impasto.backends.local import settings_to_wire
from impasto.engine import StyleSettings
from impasto_protocol import constants as C

ROOT = Path(__file__).resolve().parents[2]
SPEC = (ROOT / "protocol" / "SPEC.md").read_text()
MESSAGE_TYPES = (*C.REQUESTS, *C.NOTICES, *C.REPLIES, *C.EVENTS)


def section(title: str) -> str:
    start = SPEC.index(f"## {title}")
    end = SPEC.find("\n## ", start + 1)
    return SPEC[start : end if end > 0 else None]


def table_first_column(text: str) -> list[str]:
    return re.findall(r"^\| `([a-z_0-9]+)`", text, flags=re.M)


def test_spec_states_the_version() -> None:
    major, minor = C.VERSION
    assert f"# The Impasto protocol, version {major}.{minor}" in SPEC
    assert f"`[{major}, {minor}]`" in SPEC


@pytest.mark.parametrize("mtype", MESSAGE_TYPES)
def test_every_message_type_is_specified(mtype: str) -> None:
    assert re.search(rf"(### {mtype}\b|`{mtype}`)", SPEC), mtype


def test_error_code_table_matches_the_constants() -> None:
    assert table_first_column(section("11. Error codes")) == list(C.ERROR_CODES)


def test_cancel_reasons_and_job_states_are_specified() -> None:
    for word in (*C.CANCEL_REASONS, *C.JOB_STATES):
        assert f"`{word}`" in SPEC, word


def test_settings_table_matches_the_engine_defaults() -> None:
    rows = re.findall(
        r"^\| `([a-z_]+)`\s*\|[^|]*\|\s*([^|]+?)\s*\|", section("10. Settings"), flags=re.M
    )
    documented = {name: ast.literal_eval(default) for name, default in rows}
    defaults = settings_to_wire(StyleSettings())
    assert list(documented) == [f.name for f in dataclasses.fields(StyleSettings)]
    assert documented == defaults


def _test_sources() -> str:
    here = Path(__file__).resolve()
    return "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p != here)


def _code_references(code: str) -> dict[Path, set[str]]:
    """Where the test sources use `code` as a value: the string itself, `C.E_...` or `E_...`,
    not in a comment or a docstring. Test file -> the functions doing so (a reference in a
    helper or at module level counts for the file's every test: "*")."""
    name = next(k for k, v in vars(C).items() if k.startswith("E_") and v == code)
    here = Path(__file__).resolve()
    found: dict[Path, set[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path == here:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        owner: dict[int, str] = {}
        for node in tree.body:
            for inner in ast.walk(node):
                owner[id(inner)] = node.name if isinstance(node, ast.FunctionDef) else "*"
        for node in ast.walk(tree):
            is_code = (
                (isinstance(node, ast.Constant) and node.value == code)
                or (isinstance(node, ast.Attribute) and node.attr == name)
                or (isinstance(node, ast.Name) and node.id == name)
            )
            if is_code and id(node) not in docstrings:
                test = owner[id(node)]
                found.setdefault(path, set()).add(test if test.startswith("test_") else "*")
    return found


@pytest.mark.after_the_others
@pytest.mark.parametrize("code", C.ERROR_CODES)
def test_every_error_code_is_exercised_by_a_test(
    code: str, error_replies: tuple[set[str], set[str], dict[str, set[str]]]
) -> None:
    """Each code is used as a value in a test (not only in a comment or docstring), and, in a
    session holding every daemon test that uses it, a daemon really replied with it.

    tests/conftest.py records the error replies that tests decode, and runs this test last.
    In a session with only some of those tests (this file alone, say), only the first half
    can be checked: the ones there may refuse that code on the client's side."""
    collected, ran_tests, received_codes = error_replies
    references = _code_references(code)
    assert references, f"no test uses {code!r}"
    users: list[tuple[str, str]] = []  # (file's node id prefix, test function or "*")
    for path, functions in references.items():
        if "daemon" not in path.relative_to(ROOT / "tests").parts:
            continue  # the CLI's and the hosts' clients decode in processes of their own
        prefix = path.relative_to(ROOT).as_posix() + "::"
        users += [(prefix, function) for function in functions]

    def among(tests: set[str], prefix: str, function: str) -> bool:
        return any(
            t.startswith(prefix) and function in ("*", t[len(prefix) :].split("[")[0])
            for t in tests
        )

    if users and all(among(collected, *user) for user in users):
        ran = [user for user in users if among(ran_tests, *user)]
        if ran:
            received = received_codes.get(code, set())
            assert received, f"{code!r}: none of the tests ran received it from a daemon: {ran}"


CLIENT_CALLS = {
    C.HELLO: ".hello(",
    C.SUBMIT: ".submit(",
    C.WATCH: ".watch(",
    C.CANCEL: ".cancel(",
    C.STATUS: ".status(",
    C.PING: ".ping(",
    C.SHUTDOWN: ".shutdown(",
    C.PRESETS: ".presets(",
    C.ESTIMATE: ".estimate(",
    C.TRAIN: ".train(",
    C.CLIP: ".clip(",
    C.FRAMES: "FramesBatch(",
}


@pytest.mark.parametrize("mtype", C.REQUESTS)
def test_every_request_is_exercised_by_a_test(mtype: str) -> None:
    assert CLIENT_CALLS[mtype] in _test_sources(), mtype


def test_limits_table_matches_the_one_definition() -> None:
    """SPEC.md section 12, hello_reply's `limits` row and impasto_protocol.limits agree: the
    daemon's configuration and its command line take their defaults from there."""
    from impasto.server import ServerConfig
    from impasto_protocol import limits

    found = re.finditer(r"^\| (`?[a-z_ ]+`?)\s*\| ([^|]+)\|", section("12. Limits"), re.M)
    rows = {m[1].strip().strip("`"): m[2].strip() for m in found}
    for name, value in dataclasses.asdict(limits.DEFAULTS).items():
        assert int(rows[name].split()[0]) == value, name
    formula = f"`max_input_pixels` x {limits.BYTES_PER_PIXEL_MAX} + {limits.FRAME_ROOM}"
    assert rows["max_message_bytes"].startswith(formula)
    assert int(rows["header"].split()[0]) == C.MAX_HEADER_BYTES
    assert int(rows["data frames per message"].split()[0]) == C.MAX_FRAMES
    assert int(rows["ids"].split()[0]) == C.MAX_ID_LENGTH
    hello_row = next(line for line in section("6. Requests").splitlines() if "| `limits`" in line)
    assert set(re.findall(r"`(max_[a-z_]+)`", hello_row)) == set(limits.DEFAULTS.to_wire())
    config = ServerConfig(endpoint="ipc:///nowhere")
    assert config.limits == limits.DEFAULTS
    assert config.max_message_bytes == limits.message_bytes(limits.DEFAULTS.max_input_pixels)


def spec_bytes() -> dict[str, list[bytes]]:
    """Section 14.1's messages: name -> frames."""
    out: dict[str, list[bytes]] = {}
    text = section("14. A worked example")
    for name, block in re.findall(r"^([^\n]+):\n\n```bytes\n(.*?)```", text, flags=re.M | re.S):
        frames: list[bytes] = []
        sizes: list[int] = []
        for line in block.splitlines():
            if line.startswith("#"):
                sizes.append(int(line.split("(")[1].split()[0]))
                frames.append(b"")
            else:
                frames[-1] += bytes.fromhex(line)
        assert [len(f) for f in frames] == sizes, name  # each frame as long as it says
        out[name] = frames
    return out


def test_the_worked_example_bytes_decode_and_encode_again() -> None:
    """Golden bytes: what SPEC.md shows is what the codec reads and writes, byte for byte, and
    it says what the worked example says."""
    from impasto_protocol import messages as M
    from impasto_protocol.codec import decode, encode

    golden = spec_bytes()
    names = {"hello a1-1", "submit a1-2", "cancel_reply to a1-5", "clip a1-7", "frames a1-8"}
    assert set(golden) == names
    example = section("14. A worked example")
    for name, frames in golden.items():
        msg = decode(frames)
        assert [bytes(f) for f in encode(msg)] == frames, name
        assert msg.version == C.VERSION
        shown = f'"type": "{msg.type}", "id": "{msg.id}"'
        assert shown in example.replace("\n", " "), f"{name}: {shown} is not in the example"
    hello = decode(golden["hello a1-1"])
    assert hello.body == {"client": "example", "version": list(C.VERSION)}
    submit = M.Submit.from_message(decode(golden["submit a1-2"]))
    assert (submit.content.width, submit.content.height, submit.content.layout) == (2, 1, "RGB")
    assert bytes(submit.content.data) == bytes([255, 0, 0, 0, 0, 255])  # a red, a blue pixel
    assert bytes(submit.styles[0].data) == bytes([0, 128, 0])
    assert submit.settings == {"size": 32, "iterations": 20}
    assert (submit.progress_every, submit.preview_every) == (10, 10)
    reply = decode(golden["cancel_reply to a1-5"])
    assert (reply.type, reply.ref) == (C.CANCEL_REPLY, "a1-5")
    assert reply.job == "e3a07d5c91b24f6a8c0e1d2b3a4f5c6d"
    assert reply.body == {"state": "running", "cancelled": True}
    _check_clip_example(golden)


def _check_clip_example(golden: dict[str, list[bytes]]) -> None:
    """Section 14.2: the clip request and its one batch of frames."""
    from impasto_protocol.clip_messages import ClipRequest, FramesBatch
    from impasto_protocol.codec import decode

    clip = ClipRequest.from_message(decode(golden["clip a1-7"]))
    assert (clip.frames, clip.width, clip.height, clip.layout) == (2, 2, 1, "RGB")
    assert clip.settings == {"method": "fast", "size": 32} and clip.progress_every == 1
    assert bytes(clip.styles[0].data) == bytes([0, 128, 0])
    message = decode(golden["frames a1-8"])
    batch = FramesBatch.from_message(message, message.job or "")
    assert batch.job == "5d2c7a9e0b1f4e3d8c6a2b4f1e0d9c7a" and batch.first == 0
    assert [bytes(p.data) for p in batch.images] == [
        bytes([255, 0, 0, 0, 0, 255]),
        bytes([0, 0, 255, 255, 0, 0]),
    ]


def table_names(text: str) -> set[str]:
    """Every backticked name in the first column of the table `text` (a row may name several:
    "`width`, `height`"). The header row's names are plain words, not backticked."""
    rows = re.findall(r"^\| ([^|]+)\|", text, re.M)
    names: set[str] = set()
    for row in rows:
        if set(row.strip()) <= {"-"}:
            continue
        names.update(re.findall(r"`([a-z_0-9]+)`", row))
    return names


def table_after(title: str, marker: str) -> str:
    """The table that follows `marker` within section `title`."""
    text = section(title)
    start = text.index(marker)
    block = text[start:].split("\n\n")
    tables = [b for b in block if b.lstrip().startswith("|")]
    return tables[0]


def test_field_tables_match_the_message_classes() -> None:
    """Each table of fields names what the code reads and writes, no more and no less."""
    import msgpack

    from impasto_protocol import Pixels, Submit
    from impasto_protocol import messages as M
    from impasto_protocol.clip_messages import ClipRequest, FramesBatch
    from impasto_protocol.codec import Message, encode

    header = msgpack.unpackb(encode(Message(C.PING, "x"))[0])
    assert table_names(table_after("3. The envelope", "The header is")) == set(header)
    pixel = Pixels(1, 1, b"\0\0\0", "RGB")
    assert table_names(table_after("4. Pixel buffers", "An image travels")) == set(
        pixel.descriptor(0)
    )
    assert table_names(table_after("6. Requests", "Request body")) == set(M.hello("x").body)
    full = Submit(
        pixel,
        [pixel],
        {},
        mask=Pixels(1, 1, b"\0", "L"),
        init_image=pixel,
        replace="j",
        result_layout="RGB",
        result_dtype="u16",
        time_budget=1.0,
    )
    # init_job excludes init_image; inputs_from excludes content, styles and mask
    body = set(full.to_message().body) | {"init_job", "inputs_from"}
    assert table_names(table_after("6. Requests", "### submit")) == body
    progress = {f.name for f in dataclasses.fields(M.Progress)}
    assert table_names(table_after("8. Jobs", "`progress` body")) == progress
    train = M.Train(pixel, "x", photos=[pixel], validation=pixel)
    assert table_names(table_after("6. Requests", "### train")) == set(train.to_message().body)
    clip = ClipRequest(
        1, 1, 1, styles=[pixel], mask=Pixels(1, 1, b"\0", "L"), temporal=0.5,
        after=(pixel, pixel), result_layout="RGB",
    )  # fmt: skip
    assert table_names(table_after("6. Requests", "### clip")) == set(clip.to_message().body)
    batch = FramesBatch("j", 0, [pixel])
    assert table_names(table_after("6. Requests", "### frames")) == set(batch.to_message().body)


def test_training_settings_table_matches_the_daemons_defaults() -> None:
    """The `train` section's settings table names every setting a train request may carry,
    with the default `hello_reply.train_defaults` reports."""
    from impasto.backends.training_jobs import train_defaults

    text = section("6. Requests")
    table = table_after("6. Requests", "Training settings")
    assert text.index("Training settings") > text.index("### train")
    rows = re.findall(r"^\| `([a-z_]+)`\s*\|[^|]*\|\s*([^|]+?)\s*\|", table, flags=re.M)
    documented = {name: ast.literal_eval(default) for name, default in rows}
    assert documented == train_defaults()
