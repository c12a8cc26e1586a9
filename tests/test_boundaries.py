"""The layering rules of the house style, checked on the source: the engine imports only torch,
numpy and Pillow (and the standard library), so it can never grow a dependency on sockets."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    ROOT / "daemon" / "impasto" / "engine": {"torch", "numpy", "PIL"},
}


def imported_top_level(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_only_torch_numpy_pillow() -> None:
    for folder, allowed in ALLOWED.items():
        files = sorted(folder.rglob("*.py"))
        assert files, folder
        for path in files:
            foreign = imported_top_level(path) - allowed - set(sys.stdlib_module_names)
            assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


def test_engine_relative_imports_stay_inside_the_engine() -> None:
    folder = ROOT / "daemon" / "impasto" / "engine"
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{path.relative_to(ROOT)} reaches outside the engine")
