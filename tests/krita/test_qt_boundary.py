"""Krita 6 moves to PyQt6: only the plug-in's qt.py may name PyQt, and the other modules use
forms valid in both (scoped enums such as `QImage.Format.Format_ARGB32`), so that the move
touches qt.py alone. Read with ast: no Krita and no PyQt needed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "krita" / "impasto_krita"
MODULES = sorted(p for p in PLUGIN.glob("*.py") if p.name != "qt.py")


def qt_exports() -> set[str]:
    tree = ast.parse((PLUGIN / "qt.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    raise AssertionError("qt.py has no __all__")


def problems(path: Path, exported: set[str]) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []
    from_qt: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"imports {a.name}" for a in node.names if a.name.split(".")[0] in PYQT_MODULES
            ]
        elif isinstance(node, ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if node.level == 0 and root in PYQT_MODULES:
                found.append(f"imports from {node.module}")
            if node.level == 1 and node.module == "qt":
                from_qt |= {a.name for a in node.names}
    found += [f"{name} is not in qt.__all__" for name in sorted(from_qt - exported)]
    # `Qt.Horizontal` is PyQt5-only; `Qt.Orientation.Horizontal` works in both. An attribute of
    # a Qt class that starts with a capital and is not itself qualified further is an unscoped
    # enum member (nested enum types are always qualified further: `QImage.Format.Format_X`).
    qualified = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in from_qt
            and node.attr[:1].isupper()
            and id(node) not in qualified
        ):
            found.append(f"line {node.lineno}: unscoped enum {node.value.id}.{node.attr}")
    return found


PYQT_MODULES = {"PyQt5", "PyQt6", "sip", "PySide2", "PySide6"}


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_only_qt_py_touches_pyqt(path: Path) -> None:
    assert problems(path, qt_exports()) == []


def test_the_check_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from PyQt5.QtCore import QTimer\n"
        "from .qt import Qt, QImage, QNotExported\n"
        "a = Qt.Horizontal\n"
        "b = QImage.Format.Format_ARGB32\n"
        "c = QImage.Format_RGB32\n"
        "d = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop\n"
    )
    assert problems(bad, {"Qt", "QImage"}) == [
        "imports from PyQt5.QtCore",
        "QNotExported is not in qt.__all__",
        "line 3: unscoped enum Qt.Horizontal",
        "line 5: unscoped enum QImage.Format_RGB32",
    ]
