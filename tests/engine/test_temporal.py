"""The temporal term for video frames (Job.temporal, Ruder et al. 2016): stills are unchanged,
and the term ties the result to the warped previous result where its weights say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from impasto.engine import ImageError, Job, SettingsError, StyleSettings, Stylizer, Temporal
from impasto.engine.images import to_tensor

SETTINGS = StyleSettings(size=48, iterations=8, init="content")


def test_stills_are_unchanged_bit_for_bit(stylizer: Stylizer, load_example) -> None:
    """Without `temporal` the objective is exactly the old sum, and a job gives the same bits
    as one whose temporal term weighs nothing (the term's code adds nothing to stills). The
    same job's bits were also checked against the engine before the term existed (commit
    13f5380's message)."""
    content, style = load_example("astronaut", 48), load_example("hubble", 48)
    job = Job(content, [style], SETTINGS)
    still = stylizer.stylize(job)
    zero = Temporal(content, np.zeros((48, 48), np.float32), 0.0)
    tied = stylizer.stylize(Job(content, [style], SETTINGS, temporal=zero))
    assert torch.equal(still.picture.rgb, tied.picture.rgb)
    prep = stylizer.prepare(job)
    assert prep.temporal is None
    objective = stylizer.objective_at(prep, 48, 48)
    assert objective.temporal is None
    x = to_tensor(content)[0]
    terms = objective.evaluate(x)
    s = prep.settings
    old = s.content_weight * terms.content + s.style_weight * terms.style + s.tv_weight * terms.tv
    assert torch.equal(terms.total, old)


def test_the_term_pulls_towards_the_warped_result_where_weighted(
    stylizer: Stylizer, load_example
) -> None:
    content, style = load_example("astronaut", 48), load_example("hubble", 48)
    target = np.asarray(load_example("rocket", 48).convert("RGB").resize((48, 48)))
    weights = np.zeros((48, 48), np.float32)
    weights[:, :24] = 1  # the left half only
    free = stylizer.stylize(Job(content, [style], SETTINGS)).picture.rgb
    job = Job(content, [style], SETTINGS, temporal=Temporal(target, weights, 50.0))
    tied = stylizer.stylize(job).picture.rgb
    goal = to_tensor(target)[0]

    def distance(x: torch.Tensor, half: slice) -> float:
        return float((x - goal)[..., half].abs().mean())

    left, right = slice(0, 24), slice(24, 48)
    assert distance(tied, left) < 0.5 * distance(free, left)
    assert distance(tied, right) > 0.7 * distance(free, right)


def test_temporal_images_must_be_the_content_size(stylizer: Stylizer, load_example) -> None:
    content, style = load_example("astronaut", 48), load_example("hubble", 48)
    small = np.zeros((40, 40), np.float32)
    with pytest.raises(ImageError, match="temporal weights"):
        stylizer.prepare(Job(content, [style], SETTINGS, temporal=Temporal(content, small)))
    ones = np.ones((48, 48), np.float32)
    with pytest.raises(SettingsError):
        stylizer.prepare(Job(content, [style], SETTINGS, temporal=Temporal(content, ones, -1)))
