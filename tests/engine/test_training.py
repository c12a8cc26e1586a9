"""Trained styles: a tiny training lowers the perceptual loss, its file reloads and paints as the
trainer did, a cancelled training resumes to the same weights, and a bad file gets one line."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
import torch

from impasto.engine import Cancelled, CancelToken, Job, StyleSettings
from impasto.engine.images import to_tensor
from impasto.engine.settings import SettingsError
from impasto.engine.train_settings import Kind, TrainSettings, TrainSettingsError
from impasto.engine.trained import StyleFileError, TrainedStyle, from_u8
from impasto.engine.training import (
    Trainer,
    TrainProgress,
    TrainReporting,
    load_photos,
    photo_files,
)

TINY = {"size": 48, "batch": 1, "style_size": 64, "width": 4, "preview_every": 0}


@pytest.fixture(scope="module")
def photos():
    return load_photos(photo_files())


def _trainer(stylizer, load_example, photos, kind: Kind, steps: int, **extra) -> Trainer:
    settings = TrainSettings(start=kind, steps=steps, **{**TINY, **extra})
    return Trainer(stylizer, load_example("hubble", 64), photos, settings, name="hubble")


@pytest.mark.parametrize("kind", list(Kind))
def test_training_lowers_the_loss_and_the_file_paints_as_the_trainer(
    stylizer, load_example, photos, kind: Kind, tmp_path: Path
) -> None:
    trainer = _trainer(stylizer, load_example, photos, kind, steps=8)
    before = trainer.validation_losses()
    seen: list[TrainProgress] = []
    trained = trainer.run(TrainReporting(on_progress=seen.append))
    assert [p.step for p in seen] == list(range(1, 9))
    assert trained.losses["loss"] < before["loss"], (before, trained.losses)
    assert trained.settings["steps_done"] == 8 and trained.kind is kind

    path = tmp_path / "hubble.style"
    trained.save(path)
    again = TrainedStyle.load(path)
    assert (again.name, again.kind, again.losses) == ("hubble", kind, trained.losses)
    content = to_tensor(load_example("astronaut", 40))[0]
    painted = stylizer.instant.paint(content, [from_u8(again.style_image)], [1.0], trained=[again])
    assert painted.shape == content.shape
    assert torch.allclose(painted, trainer.picture(content), atol=1e-4)
    # Through a job, as the command line runs it: the fast method paints with the trained style.
    job = Job(load_example("astronaut", 40), [again], StyleSettings(method="fast", size=40))
    result = stylizer.stylize(job)
    assert result.picture.rgb.shape == content.shape and "trained style hubble" in result.weights


def test_a_cancelled_training_resumes_to_the_same_weights(
    stylizer, load_example, photos, tmp_path: Path
) -> None:
    straight = _trainer(stylizer, load_example, photos, Kind.FAST, steps=6).run()

    checkpoint = tmp_path / "hubble.style.checkpoint"
    first = _trainer(stylizer, load_example, photos, Kind.FAST, steps=6)
    cancel = CancelToken()

    def stop_at_three(p: TrainProgress) -> None:
        if p.step == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        first.run(TrainReporting(on_progress=stop_at_three, cancel=cancel, checkpoint=checkpoint))
    second = _trainer(stylizer, load_example, photos, Kind.FAST, steps=6)
    assert second.resume(checkpoint) == 3
    resumed = second.run()
    for name, weight in straight.weights.items():
        assert torch.allclose(weight, resumed.weights[name], atol=1e-6), name

    # A checkpoint of other settings or another style is refused, naming why.
    other = _trainer(stylizer, load_example, photos, Kind.FAST, steps=6, size=64)
    with pytest.raises(StyleFileError, match="other settings \\(size\\)"):
        other.resume(checkpoint)
    settings = TrainSettings(start=Kind.FAST, steps=6, **TINY)
    rocket = Trainer(stylizer, load_example("rocket", 64), photos, settings)
    with pytest.raises(StyleFileError, match="another style image"):
        rocket.resume(checkpoint)


def test_a_trained_network_of_its_own_paints_alone(stylizer, load_example, photos) -> None:
    own = _trainer(stylizer, load_example, photos, Kind.SCRATCH, steps=1).run()
    norms = _trainer(stylizer, load_example, photos, Kind.FAST, steps=1).run()
    both = [from_u8(own.style_image), from_u8(norms.style_image)]
    job = Job(load_example("astronaut", 40), [own, norms], StyleSettings(method="fast"))
    with pytest.raises(SettingsError, match="'hubble' has a network of its own"):
        stylizer.stylize(job)
    # Norms blend with a style image (and each other).
    content = to_tensor(load_example("astronaut", 40))[0]
    image = to_tensor(load_example("rocket", 64))[0]
    mixed = stylizer.instant.paint(content, [both[1], image], [1.0, 1.0], trained=[norms, None])
    alone = stylizer.instant.paint(content, [both[1]], [1.0], trained=[norms])
    assert mixed.shape == content.shape and not torch.allclose(mixed, alone, atol=1e-3)


def test_bad_files_get_one_line(stylizer, load_example, photos, tmp_path: Path) -> None:
    good = tmp_path / "good.style"
    _trainer(stylizer, load_example, photos, Kind.FAST, steps=1).run().save(good)
    text = tmp_path / "text.style"
    text.write_text("not a style\n")
    foreign = tmp_path / "foreign.style"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    truncated = tmp_path / "truncated.style"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    tampered = tmp_path / "tampered.style"
    record = torch.load(good, weights_only=True)
    record["weights"]["norm0.scale"] = torch.full((3,), float("nan"))
    torch.save(record, tampered)
    pickled = tmp_path / "pickled.style"
    torch.save({"format": "impasto-trained-style", "hook": zipfile.ZipInfo("x")}, pickled)
    cases = {
        text: "not a torch archive",
        foreign: "not an Impasto trained style file",
        truncated: "not an Impasto trained style file",
        tampered: "not finite numbers",
        pickled: "holds more than tensors and numbers",
        tmp_path / "missing.style": "no such file",
    }
    for path, why in cases.items():
        with pytest.raises(StyleFileError) as caught:
            TrainedStyle.load(path)
        message = str(caught.value)
        assert why in message and str(path) in message and "\n" not in message, message
    assert TrainedStyle.load(good).name == "good"  # called as its file is


def test_training_settings_are_checked() -> None:
    with pytest.raises(TrainSettingsError, match=re.escape("size 8 must be 32..2048 px")):
        TrainSettings(size=8).validate()
    with pytest.raises(TrainSettingsError, match="steps 0 must be at least 1"):
        TrainSettings(steps=0).validate()
