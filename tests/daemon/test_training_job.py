"""Training as a daemon job (protocol 1.6, `train`), on a real daemon over real sockets: the
trained style lands in the daemon's library and paints; progress counts steps and previews
show the validation picture; a cancelled training leaves a checkpoint that the next request
of that name resumes from; a training makes way for a stylization and resumes to the very
weights of an unbroken run; bad requests get one error naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from daemon_process import DaemonProcess, example_pixels, library_daemon, tcp_endpoint

from impasto.engine.trained import TrainedStyle
from impasto_protocol import Client, RemoteError, Submit
from impasto_protocol import constants as C
from impasto_protocol.messages import Cancelled, Preview, Progress, Result, Train

# Tiny and quick: 32 px crops of two small photos, one crop a step.
TINY = {"size": 32, "batch": 1, "style_size": 48, "checkpoint_every": 0}
PHOTOS = [example_pixels("astronaut", 64), example_pixels("rocket", 64)]


def tiny_training(name: str, steps: int, **fields) -> Train:
    settings = {**TINY, "steps": steps, **fields.pop("settings", {})}
    return Train(
        example_pixels("hubble", 64),
        name,
        settings=settings,
        photos=PHOTOS,
        only_photos=True,
        validation=example_pixels("astronaut", 64),
        progress_every=1,
        **fields,
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("library")


@pytest.fixture(scope="module")
def daemon(library: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    log = tmp_path_factory.mktemp("training-daemon") / "daemon.log"
    yield from library_daemon(tcp_endpoint(), log, library)


def events(handle, timeout: float = 120.0) -> list:
    """Every event of the job up to its outcome (the outcome last; an error raises)."""
    out = []
    for event in handle.events(timeout):
        out.append(event)
        if isinstance(event, (Result, Cancelled)):
            return out
    raise AssertionError("no outcome")


def test_a_training_writes_a_style_that_then_paints(daemon: DaemonProcess, library: Path) -> None:
    with Client(daemon.endpoint, timeout=60) as c:
        welcome = c.hello()
        assert tuple(welcome["version"]) >= (1, 6)
        assert welcome["train_defaults"]["start"] == "fast"
        assert "preview_every" not in welcome["train_defaults"]  # the request's own field
        handle = c.train(tiny_training("tiny", 4, preview_every=2, preview_size=40))
        got = events(handle)
        result = got[-1]
        assert isinstance(result, Result)
        steps = [e.iteration if isinstance(e, Progress) else e.progress.iteration for e in got[:-1]]
        assert steps == [1, 2, 3, 4]
        previews = [e for e in got if isinstance(e, Preview)]
        assert [p.progress.iteration for p in previews] == [2, 4]
        assert all(max(p.image.width, p.image.height) == 40 for p in previews)
        assert all(p.progress.total == 4 and p.progress.loss > 0 for p in previews)
        info = result.info
        assert (info["name"], info["kind"], info["steps"], info["resumed_from"]) == (
            "tiny",
            "fast",
            4,
            0,
        )
        assert info["photos"] == 2 and info["settings"]["steps"] == 4
        assert set(info["losses"]) == {"loss", "content", "style", "tv"}
        # The result is the validation picture (64 px) as the trained network paints it.
        assert (result.image.width, result.image.height, result.image.layout) == (64, 64, "RGB")
        style = TrainedStyle.load(library / "tiny.style")
        assert style.settings["steps_done"] == 4 and style.kind.value == "fast"
        assert not (library / "tiny.style.checkpoint").exists()
        _, trained = c.palette()
        assert "tiny" in [t.name for t in trained]
        assert c.status(handle.id)["job"]["kind"] == "train"
        assert c.status(handle.id)["job"]["name"] == "tiny"
        settings = {"method": "fast", "trained": ["tiny"], "size": 48}
        painted = c.submit(Submit(example_pixels("rocket", 48), [], settings=settings)).result(60)
        assert "trained style tiny (fast)" in painted.info["weights"]
        # A watcher that comes later gets the same result again.
        again = c.watch(handle.id).result(timeout=30)
        assert again.image.data == result.image.data


def test_a_cancelled_training_resumes_from_its_checkpoint(
    daemon: DaemonProcess, library: Path
) -> None:
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        handle = c.train(tiny_training("resumed", 400))
        for event in handle.events(60):
            if isinstance(event, Progress) and event.iteration >= 3:
                break
        handle.cancel()
        outcome = [e for e in handle.events(60) if isinstance(e, Cancelled)]
        assert outcome and outcome[0].reason == C.BY_CLIENT
        step = outcome[0].checkpoint  # where the checkpoint stands
        assert step is not None and step >= 3
        assert c.status(handle.id)["job"]["iteration"] == step
        assert (library / "resumed.style.checkpoint").exists()
        assert not (library / "resumed.style").exists()
        # A watcher that comes later hears the same.
        assert c.watch(handle.id).events(10).__next__() == outcome[0]
        result = c.train(tiny_training("resumed", step + 2)).result(timeout=120)
        assert (result.info["resumed_from"], result.info["steps"]) == (step, step + 2)
        assert not (library / "resumed.style.checkpoint").exists()
        assert TrainedStyle.load(library / "resumed.style").settings["steps_done"] == step + 2


def test_a_training_makes_way_for_a_stylization_and_resumes_exactly(
    daemon: DaemonProcess, library: Path
) -> None:
    steps = 30
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        c.train(tiny_training("unbroken", steps)).result(timeout=300)
        handle = c.train(tiny_training("paused", steps))
        order = []
        for event in handle.events(60):
            if isinstance(event, Progress) and event.iteration >= 2:
                break
        stylize = c.submit(
            Submit(example_pixels("rocket", 32), [example_pixels("hubble", 32)],
                   settings={"size": 32, "iterations": 3, "init": "content"})
        )  # fmt: skip
        paused = False
        for event in handle.events(120):
            if isinstance(event, Progress) and event.paused:
                paused = True
                assert c.status(handle.id)["job"]["state"] in ("queued", "running")
            if isinstance(event, Result):
                order.append("training")
                break
            if not order and stylize.id in _finished(c):
                order.append("stylization")
        assert paused
        assert order == ["stylization", "training"]
        assert c.status(stylize.id)["job"]["state"] == "done"
    a = TrainedStyle.load(library / "unbroken.style").weights
    b = TrainedStyle.load(library / "paused.style").weights
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the pause changed nothing


def _finished(c: Client) -> set[str]:
    return {j["job"] for j in c.status()["jobs"] if j["state"] == "done"}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"name": "../escape"}, "name", C.E_INVALID_FIELD),
        ({"name": ""}, "name", C.E_INVALID_FIELD),
        ({"name": "x.style"}, "name", C.E_INVALID_FIELD),
        ({"name": "tiny"}, "name", C.E_INVALID_FIELD),  # exists (the first test wrote it)
        ({"settings": {"colour": 1}}, "settings.colour", C.E_INVALID_FIELD),
        ({"settings": {"steps": 0}}, "settings.steps", C.E_INVALID_FIELD),
        ({"settings": {"steps": 2.5}}, "settings.steps", C.E_INVALID_FIELD),
        ({"settings": {"start": "slow"}}, "settings.start", C.E_INVALID_FIELD),
        ({"settings": {"steps": 10**6}}, "settings.steps", C.E_TOO_LARGE),
        ({"settings": {"size": 2048, "batch": 64}}, "settings.size", C.E_TOO_LARGE),
        ({"style": example_pixels("hubble", 16)}, "style", C.E_INVALID_FIELD),
        ({"photos": [], "only_photos": True}, "only_photos", C.E_INVALID_FIELD),
    ],
)
def test_a_bad_training_is_refused_naming_the_field(
    daemon: DaemonProcess, change: dict, field: str, code: str
) -> None:
    request = tiny_training("refused", 2)
    for key, value in change.items():
        if key == "settings":
            request.settings = {**request.settings, **value}
        else:
            setattr(request, key, value)
    with Client(daemon.endpoint, timeout=30) as c:
        c.hello()
        with pytest.raises(RemoteError) as e:
            c.train(request)
        assert (e.value.code, e.value.field) == (code, field), e.value.message
        assert "\n" not in e.value.message
        assert c.ping() > 0  # and the daemon serves on


def test_a_training_job_is_not_a_stylization_source(daemon: DaemonProcess) -> None:
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        handle = c.train(tiny_training("source", 2, overwrite=True))
        handle.result(timeout=120)
        with pytest.raises(RemoteError) as twice:
            c.train(tiny_training("source2", 400))
            c.train(tiny_training("source2", 2))
        assert (twice.value.code, twice.value.field) == (C.E_BUSY, "name")
        for field in ("init_job", "inputs_from"):
            job = Submit(example_pixels("rocket", 32), [example_pixels("hubble", 32)])
            if field == "inputs_from":
                job = Submit(None, [], inputs_from=handle.id)
            else:
                job.init_job = handle.id
            with pytest.raises(RemoteError) as e:
                c.submit(job)
            assert (e.value.code, e.value.field) == (C.E_INVALID_FIELD, field)
        running = [j for j in c.status()["jobs"] if j.get("name") == "source2"]
        c.cancel(running[0]["job"])


def test_a_checkpoint_of_other_settings_fails_the_job_naming_restart(
    daemon: DaemonProcess, library: Path
) -> None:
    with Client(daemon.endpoint, timeout=60) as c:
        c.hello()
        handle = c.train(tiny_training("changed", 400))
        for event in handle.events(60):
            if isinstance(event, Progress) and event.iteration >= 1:
                break
        handle.cancel()
        list(handle.events(60))
        other = tiny_training("changed", 4, settings={"style_weight": 1.0})
        with pytest.raises(RemoteError) as e:
            c.train(other).result(timeout=60)
        assert (e.value.code, e.value.field) == (C.E_INVALID_FIELD, "restart")
        assert "style_weight" in e.value.message
        other.restart = True
        assert c.train(other).result(timeout=60).info["resumed_from"] == 0
