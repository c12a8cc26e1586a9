"""What the docker remembers, read back as written and robust to what it cannot read (no Krita
needed: Remembered takes the read and write functions Krita's settings provide)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# By file: importing the package would register the plug-in with Krita (and `krita` here is
# this folder, a namespace package, not Krita's module).
PATH = Path(__file__).resolve().parents[2] / "plugins/krita/impasto_krita/remembered.py"
_spec = importlib.util.spec_from_file_location("impasto_krita_remembered", PATH)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module  # dataclasses look their module up
_spec.loader.exec_module(_module)
Remembered = _module.Remembered


def test_mode_and_palette_round_trip() -> None:
    store: dict[str, str] = {}
    r = Remembered(mode="refine", palette={17: 2.0, 3: 1.0})
    r.save(store.__setitem__)
    assert store["palette"] == "[[3, 1.0], [17, 2.0]]"
    back = Remembered.load(lambda key: store.get(key, ""))
    assert back.mode == "refine" and back.palette == {3: 1.0, 17: 2.0}


def test_an_unreadable_palette_is_ignored() -> None:
    for text in ("not json", '{"3": 1}', '[[3], ["x", 1], [-1, 1], [4, 0], [5, true], [6, 2]]'):
        r = Remembered.load(lambda key, text=text: text if key == "palette" else "")
        assert r.palette == ({6: 2.0} if text.startswith("[[") else {}), text
    assert Remembered.load(lambda key: "").mode == ""
