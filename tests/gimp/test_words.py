"""The plug-in's words for a painter where the shared ones speak the engine's language
(pure Python: runs without GIMP)."""

from __future__ import annotations

from impasto_gimp import words

from impasto_protocol import policy


def test_every_colour_value_has_a_painters_label_and_help() -> None:
    assert list(words.COLOUR_LABELS) == list(policy.COLOR_LABELS) == list(words.COLOUR_HELP)
    # "match" keeps the photo's colours (the style image is recoloured to them): its label
    # must not read as the opposite, as "Match style colours" did.
    assert "photo's colours" in words.COLOUR_LABELS["match"]
    assert "photo's colours" in words.COLOUR_LABELS["luminance"]


def test_the_instant_estimate_line_in_a_painters_words() -> None:
    """The shared estimate line's words for the Instant mode are replaced; the test fails
    when the shared words change and the replacement no longer finds them."""
    line = policy.estimate_text("Normal", {"width": 512, "height": 384}, 512, 384, instant=True)
    assert words.INSTANT_PASS in line
    shown = words.estimate_words(line)
    assert shown == "Normal: 512x384 px" + words.INSTANT_WORDS, shown
    assert "network" not in shown
