"""impasto_protocol.policy: the decisions both plug-ins and the CLI share."""

from __future__ import annotations

import itertools
import math

import pytest

from impasto.engine import StyleSettings
from impasto_protocol import policy


def test_the_fallbacks_are_the_engines_defaults() -> None:
    """Used only when a daemon does not say its defaults: then they must be the real ones
    (they once were 3.0 in Krita and 1.0 in GIMP, and 300 iterations in both)."""
    engine = StyleSettings()
    assert policy.FALLBACK_STYLE_WEIGHT == engine.style_weight
    assert policy.FALLBACK_ITERATIONS == engine.iterations
    assert policy.default_style_weight({}) == engine.style_weight
    assert policy.default_iterations({}) == engine.iterations


@pytest.mark.parametrize("bad", [None, True, -1.0, 0, math.nan, math.inf, "20", [20]])
def test_a_default_that_is_not_a_positive_number_falls_back(bad: object) -> None:
    assert policy.default_style_weight({"style_weight": bad}) == policy.FALLBACK_STYLE_WEIGHT
    assert policy.default_iterations({"iterations": bad}) == policy.FALLBACK_ITERATIONS


def test_strength_is_a_log_scale_around_the_daemons_default() -> None:
    """Both editors' sliders: 0..100, 50 the daemon's default, the ends a tenth and ten times
    it, each step the same factor (a small move is a small change)."""
    defaults = {"style_weight": 5.0}
    assert policy.style_weight(policy.DEFAULT_STRENGTH, defaults) == 5.0
    assert policy.style_weight(0, defaults) == pytest.approx(0.5)
    assert policy.style_weight(100, defaults) == pytest.approx(50.0)
    steps = [policy.style_weight(s, defaults) for s in range(0, 101)]
    ratios = [b / a for a, b in itertools.pairwise(steps)]
    assert all(r == pytest.approx(ratios[0]) for r in ratios)  # each step the same factor
    assert 1.0 < ratios[0] < 1.06


def test_strength_of_inverts_the_scale_and_clamps() -> None:
    defaults = {"style_weight": 5.0}
    for strength in (0.0, 12.5, 50.0, 77.0, 100.0):
        weight = policy.style_weight(strength, defaults)
        assert policy.strength_of(weight, defaults) == pytest.approx(strength)
    assert policy.strength_of(1e-9, defaults) == 0.0
    assert policy.strength_of(1e9, defaults) == 100.0
    with pytest.raises(ValueError, match="style weight"):
        policy.strength_of(0.0, defaults)


def test_the_strength_words_run_from_subtle_to_very_strong() -> None:
    words = [policy.strength_word(s) for s in range(0, 101)]
    assert words[0] == "subtle" and words[-1] == "very strong"
    assert policy.strength_word(policy.DEFAULT_STRENGTH) == "balanced"
    assert [w for w, _ in itertools.groupby(words)] == list(policy.STRENGTH_WORDS)


@pytest.mark.parametrize("strength", [-0.01, 100.5, math.nan, math.inf])
def test_a_strength_outside_the_range_is_refused(strength: float) -> None:
    with pytest.raises(ValueError, match="strength"):
        policy.style_weight(strength, {})
    with pytest.raises(ValueError, match="strength"):
        policy.amount(strength)
    with pytest.raises(ValueError, match="strength"):
        policy.strength_settings(strength, {}, blends=True)


def test_the_low_half_blends_towards_the_photo_from_nothing_at_0() -> None:
    """Protocol 1.8's amount: 0 at strength 0 (the photo), rising in equal steps to 1 at the
    middle, 1 from there up; so the picture's change from the photo grows monotonically."""
    amounts = [policy.amount(s) for s in range(0, 101)]
    assert amounts[0] == 0.0 and amounts[policy.DEFAULT_STRENGTH] == 1.0 and amounts[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(amounts))
    low = amounts[: policy.BLEND_BELOW + 1]
    steps = [b - a for a, b in itertools.pairwise(low)]
    assert all(step == pytest.approx(steps[0]) for step in steps) and steps[0] > 0


def test_strength_settings_send_amount_only_to_a_daemon_that_blends() -> None:
    defaults = {"style_weight": 5.0}
    assert policy.strength_settings(50, defaults, blends=True) == {"style_weight": 5.0}
    low = policy.strength_settings(10, defaults, blends=True)
    assert low["amount"] == pytest.approx(0.2)
    assert low["style_weight"] == pytest.approx(policy.style_weight(10, defaults))
    # A 1.7 daemon refuses an unknown setting: the low end is the weight's alone there.
    assert policy.strength_settings(10, defaults, blends=False) == {
        "style_weight": pytest.approx(policy.style_weight(10, defaults))
    }
    # The instant network has no weight: its strength is the blend alone (1 from 50 up).
    assert policy.strength_settings(25, defaults, blends=True, instant=True) == {"amount": 0.5}
    assert policy.strength_settings(90, defaults, blends=True, instant=True) == {}
    assert policy.strength_settings(25, defaults, blends=False, instant=True) == {}


def test_the_strength_tooltip_speaks_of_the_picture_in_whole_numbers() -> None:
    assert policy.strength_help(0).startswith("0, subtle: the photo as it is")
    assert "30 %" in policy.strength_help(15) and "photo shows through" in policy.strength_help(15)
    assert "by default" in policy.strength_help(50)
    assert "10.0 times" in policy.strength_help(100)
    assert "Refine and Paint can go further" in policy.strength_help(80, instant=True)
    assert "repaints the whole picture" in policy.strength_help(0, blends=False)
    assert "update it" in policy.strength_help(20, blends=False, instant=True)
    assert policy.strength_help(37.4).startswith("37, ")


def test_an_image_over_the_frame_limit_is_named_before_it_is_sent() -> None:
    """ZeroMQ drops a connection that sends a frame over the daemon's max_message_bytes, with no
    answer: every client (CLI, Krita, GIMP) asks policy.oversized_image first."""
    from impasto_protocol import Pixels, Submit

    small, big = Pixels(2, 2, bytes(12), "RGB"), Pixels(4, 4, bytes(48), "RGB")
    welcome = {"limits": {"max_message_bytes": 20}}
    assert policy.oversized_image(Submit(small, [small]), welcome) is None
    why = policy.oversized_image(Submit(small, [small, big]), welcome)
    assert why == "the style image 2 (4x4) is larger than the daemon accepts (20 bytes per image)"
    assert "content image (4x4)" in str(policy.oversized_image(Submit(big, [small]), welcome))
    # No limit said (an older daemon, or no hello yet): nothing to check against.
    for unknown in (None, {}, {"limits": {}}, {"limits": {"max_message_bytes": True}}):
        assert policy.oversized_image(Submit(big, [big]), unknown) is None


def test_quality_presets_give_the_size_and_the_iterations() -> None:
    defaults = {"iterations": 150}
    table = {q: (q.side, q.iterations(defaults)) for q in policy.Quality}
    assert table == {
        policy.Quality.DRAFT: (256, 50),
        policy.Quality.NORMAL: (512, 150),
        policy.Quality.HIGH: (1024, 300),
        policy.Quality.FULL: (0, 150),
    }
    assert [q.label for q in policy.Quality] == ["Draft", "Normal", "High", "Full size"]
    assert policy.DEFAULT_QUALITY is policy.Quality.NORMAL


@pytest.mark.parametrize(
    ("requested", "region", "limits", "side"),
    [
        (512, (2000, 1000), {}, 512),
        (512, (300, 200), {}, 300),  # never above the region: the engine would invent pixels
        (0, (3000, 2000), {}, 3000),  # 0: the region's own
        (0, (3000, 2000), {"max_output_pixels": 1500 * 1000}, 1500),  # within the daemon's limit
        (0, (3000, 2000), {"max_output_pixels": True}, 3000),  # not a number: no limit
        (0, (10, 5), {}, 16),  # the engine's smallest
    ],
)
def test_the_size_a_job_runs_at(
    requested: int, region: tuple[int, int], limits: dict, side: int
) -> None:
    assert policy.job_size(requested, *region, limits) == side


def test_context_and_preview_cadence() -> None:
    assert policy.context_padding(40, 30) == 8  # at least 8 px
    assert policy.context_padding(1000, 300) == 100  # a tenth of the longer side
    assert [policy.preview_every(n) for n in (5, 150, 300, 3000)] == [1, 5, 10, 10]
    assert [policy.preview_size(s) for s in (8, 512, 4000)] == [16, 512, 768]


def test_a_jobs_cadence_is_the_same_for_every_client() -> None:
    defaults = {"iterations": 300}
    assert policy.cadence({"iterations": 150}, defaults) == (5, 5)
    assert policy.cadence({}, defaults) == (10, 10)  # the daemon's default iterations
    assert policy.cadence({"iterations": 150}, defaults, asked=3) == (3, 5)
    assert policy.cadence({"iterations": 150}, defaults, asked=0) == (0, 5)  # no previews
    # The fast method's result is its only picture: no previews, whatever was asked.
    assert policy.cadence({"method": "fast"}, defaults, asked=3) == (0, 10)


def test_the_estimate_line_says_size_time_tiles_and_scaling_up() -> None:
    reply = {"width": 512, "height": 384, "seconds": 41.6, "tiled": False, "memory": 1}
    assert policy.estimate_text("Normal", reply, 512, 384) == "Normal: 512x384 px, about 42 s here"
    unknown = {**reply, "seconds": None, "tiled": True}
    assert policy.estimate_text("High", unknown, 2048, 1536) == (
        "High: 512x384 px (no time estimate from this daemon), in tiles;"
        " the result is scaled up to the 2048x1536 area"
    )
    fast = {**reply, "seconds": None}  # the fast method: a daemon gives no time for it
    assert policy.estimate_text("Normal", fast, 512, 384, instant=True) == (
        "Normal: 512x384 px, painted in one quick pass"
    )
    assert policy.estimate_text("Draft", {"error": "x"}, 10, 10) == ""  # no size: nothing
    assert [policy.duration(s) for s in (0.2, 89, 150, 3600 + 1200)] == [
        "1 s", "89 s", "2 min", "1 h 20 min",
    ]  # fmt: skip


def test_automatic_takes_the_finest_preset_in_reasonable_time() -> None:
    limit = policy.REASONABLE_SECONDS

    def times(**seconds: float | None):
        return lambda quality: seconds[quality.value]

    assert policy.automatic_quality(times(high=limit, normal=1, draft=1)) is policy.Quality.HIGH
    chosen = policy.automatic_quality(times(high=limit + 1, normal=limit / 2, draft=1))
    assert chosen is policy.Quality.NORMAL
    chosen = policy.automatic_quality(times(high=9e9, normal=limit * 2, draft=limit * 3))
    assert chosen is policy.Quality.DRAFT  # the smallest, even when it is slow too
    # No time from the daemon (the fast method, a cluster): the default preset.
    chosen = policy.automatic_quality(times(high=None, normal=None, draft=None))
    assert chosen is policy.DEFAULT_QUALITY


def test_training_text_counts_steps_time_left_and_a_pause() -> None:
    from impasto_protocol import Progress

    def progress(**fields) -> Progress:
        body = {"iteration": 30, "total": 300, "elapsed": 60.0, "remaining": 540.0, **fields}
        return Progress.from_body(body)

    assert (
        policy.training_text("sky", progress()) == "Training 'sky': 30/300 steps, about 9 min left"
    )
    assert policy.training_text("sky", progress(paused=True)) == (
        "Training 'sky': 30/300 steps, waiting while a stylization runs"
    )


def test_time_left_and_what_a_job_is_doing_in_the_painters_words() -> None:
    assert policy.time_left(None) == "estimating time left"
    assert policy.time_left(float("nan")) == policy.time_left(-1) == "estimating time left"
    assert policy.time_left(75) == "75 s left"
    assert policy.time_left(3 * 3600 + 120) == "3 h 2 min left"
    assert policy.progress_count(30, 300, 27.0) == "30/300, 27 s left"
    # Refine's first preview is the instant picture (iteration 0, no estimate yet).
    assert policy.progress_line("refine", 0, 300, None) == (
        "Instant picture shown; refining it (0/300, estimating time left)"
    )
    assert policy.progress_line("refine", 30, 300, 27.0) == (
        "Painting: iterations of the optimizer (30/300, 27 s left)"
    )
    assert policy.progress_line("paint", 0, 300, None).startswith("Painting: iterations")
    assert policy.progress_line("instant", 1, 1, 0.0) == "Painting with the instant style"


def test_every_colour_value_has_a_painters_label_and_help() -> None:
    """Both editors show these words for `preserve_color`'s values (the protocol's)."""
    from impasto_protocol.policy import COLOR_HELP, COLOR_LABELS

    assert list(COLOR_LABELS) == list(COLOR_HELP) == ["none", "luminance", "match"]
    # "match" keeps the photo's colours (the style image is recoloured to them): its label
    # must not read as the opposite, as "Match style colours" did.
    assert "photo's colours" in COLOR_LABELS["match"]
    assert "photo's colours" in COLOR_LABELS["luminance"]
