"""StyleTraining (style_training.py) without Krita, on test_model_unit's in-memory link: what
the Train line says when the daemon accepts a training."""

from __future__ import annotations

import pytest

pytest.importorskip("PyQt5.QtCore", reason="the plug-in's Qt: pip install -e .[test]")

from impasto_krita.style_training import StyleTraining, TrainingState
from test_model_unit import WELCOME, MemoryLink, picture

TRAINS = {**WELCOME, "version": [1, 6], "train_defaults": {"steps": 500}}


def accepted(position: int, others: int) -> str:
    link = MemoryLink()
    link.welcome, link.busy_jobs = TRAINS, others
    training = StyleTraining(link)  # type: ignore[arg-type]
    assert training.start(picture(80, 16, 16), "ochre", 500), training.text
    link.answer("t1", position)
    assert training.state is TrainingState.TRAINING
    return training.text


def test_the_first_training_of_an_idle_daemon_is_not_said_to_wait() -> None:
    """Place 1 runs next (SPEC): with nothing else on the daemon, it runs at once."""
    assert accepted(1, 0) == "Training 'ochre' on the daemon..."


def test_a_training_behind_other_jobs_says_its_place() -> None:
    waiting = "Training 'ochre' on the daemon (it waits: number 2 in the queue)..."
    assert accepted(2, 1) == waiting
    assert accepted(1, 1).endswith("(it waits: number 1 in the queue)...")
