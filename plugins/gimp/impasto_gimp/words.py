"""The words the plug-in shows a painter where the shared ones (impasto_protocol.policy, which
Krita's plug-in shows too) speak the engine's language. Only what is shown changes: the values
scripts pass (`preserve-colors` "none", "luminance", "match") stay the protocol's.

Pure Python, no GIMP: the tests check these words without it.
"""

from __future__ import annotations

# `preserve-colors`: what each value does to the picture (the values of policy.COLOR_LABELS).
# "match" recolours the style image to the photo's colours before painting (the engine's
# color.match_colors), so the photo's colours stay; "luminance" paints only light and shade
# and puts the photo's own colours back (color.combine_luminance).
COLOUR_LABELS = {
    "none": "Take the style's colours",
    "luminance": "Keep the photo's colours exactly",
    "match": "Keep the photo's colours (style recoloured)",
}
COLOUR_HELP = {
    "none": "The painting takes the style image's colours",
    "luminance": "The style paints light and shade only; every colour is the photo's own",
    "match": "The style image is recoloured in the photo's colours first, so the painting "
    "keeps the photo's colours with the style's brushwork",
}

# The estimate line (policy.estimate_text) for the Instant mode, which a daemon gives no time.
INSTANT_PASS = ", one pass of the instant network"
INSTANT_WORDS = ", painted in one quick pass"


def estimate_words(text: str) -> str:
    """The estimate line as the dialog shows it: the Instant mode's pass in a painter's words."""
    return text.replace(INSTANT_PASS, INSTANT_WORDS)
