"""The layering rules of the house style, checked on the source: the engine imports only torch,
numpy and Pillow (and the standard library), so it can never grow a dependency on sockets. One
exception: the fast networks' weights ship as ONNX files, and one module reads them with `onnx`,
inside its functions."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    ROOT / "daemon" / "impasto" / "engine": {"torch", "numpy", "PIL"},
}
# Single files allowed one more package than their folder.
ALLOWED_IN_FILE = {
    ROOT / "daemon" / "impasto" / "engine" / "fast" / "onnx_weights.py": {"onnx"},
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
            extra = ALLOWED_IN_FILE.get(path, set())
            foreign = imported_top_level(path) - allowed - extra - set(sys.stdlib_module_names)
            assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"
            lazy = _module_level_imports(path) & extra
            assert not lazy, f"{path.relative_to(ROOT)} imports {sorted(lazy)} at module level"


def test_engine_relative_imports_stay_inside_the_engine() -> None:
    folder = ROOT / "daemon" / "impasto" / "engine"
    for path in folder.rglob("*.py"):
        depth = len(path.relative_to(folder).parts) - 1  # 0 for engine/x.py, 1 for engine/fast/
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1 + depth:
                raise AssertionError(f"{path.relative_to(ROOT)} reaches outside the engine")


def _module_level_imports(path: Path) -> set[str]:
    """Top-level packages imported at module level (not inside functions)."""
    names = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_protocol_package_needs_only_pyzmq_and_msgpack() -> None:
    """Plug-ins vendor it into editors' Pythons: nothing heavy, nothing of the daemon. Pillow
    is allowed only inside the functions of the script helpers (Pixels.open and friends)."""
    folder = ROOT / "protocol" / "impasto_protocol"
    files = sorted(folder.rglob("*.py"))
    assert files
    for path in files:
        foreign = _module_level_imports(path) - {"zmq", "msgpack"} - set(sys.stdlib_module_names)
        assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"
        lazy = imported_top_level(path) - {"zmq", "msgpack", "PIL"} - set(sys.stdlib_module_names)
        assert not lazy, f"{path.relative_to(ROOT)} imports {sorted(lazy)}"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to absolute names."""
    package = ".".join(path.relative_to(ROOT / "daemon").with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_server_knows_the_protocol_but_not_the_engine() -> None:
    """Neither by a relative nor by an absolute import; and it names no engine setting: the
    backend applies the daemon's limits to the settings."""
    from impasto.engine import StyleSettings

    settings = {f.name for f in dataclasses.fields(StyleSettings)}
    folder = ROOT / "daemon" / "impasto" / "server"
    for path in sorted(folder.rglob("*.py")):
        where = path.relative_to(ROOT)
        modules = imported_modules(path)
        assert "torch" not in {m.split(".")[0] for m in modules}, where
        engine = [m for m in modules if m.startswith(("impasto.engine", "impasto.stylizer"))]
        assert not engine, f"{where} imports {engine}"
        literals = {
            n.value
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        assert not literals & settings, f"{where} names engine settings {literals & settings}"


def test_the_import_resolver_sees_both_kinds() -> None:
    """The check above is only as good as its resolver."""
    here = ROOT / "daemon" / "impasto" / "server" / "requests.py"
    modules = imported_modules(here)
    assert "impasto.server.backend.FieldError" in modules  # from .backend import FieldError
    assert "impasto.__version__" in modules  # from .. import __version__
    assert "impasto_protocol.constants" in modules


PLUGINS = {
    # the plug-in package: its host's API, the protocol package and what that needs
    ROOT / "plugins" / "krita" / "impasto_krita": {"krita", "PyQt5", "PyQt6"},
    ROOT / "plugins" / "gimp" / "impasto_gimp": {"gi"},
}


def test_plugins_know_only_the_protocol_and_their_host() -> None:
    """Plug-ins run in an editor's Python: no torch, numpy or Pillow, nothing of the daemon.
    In Krita only qt.py may import Qt, so a move to PyQt6 (Krita 6) touches one module."""
    protocol = {"impasto_protocol", "zmq", "msgpack"}
    for folder, host in PLUGINS.items():
        files = sorted(folder.rglob("*.py"))
        assert files, folder
        for path in files:
            if "vendor" in path.relative_to(folder).parts:
                continue
            names = imported_top_level(path) - set(sys.stdlib_module_names)
            foreign = names - host - protocol - {folder.name}
            assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"
            if path.name != "qt.py":
                assert not names & {"PyQt5", "PyQt6"}, f"{path.relative_to(ROOT)} imports Qt"


def test_no_module_borrows_another_modules_private_names() -> None:
    """A `_name` is its module's own: a helper two modules need lives in a module of its own
    (cli/remote.py once imported seven of cli/stylize.py's, which imported it back)."""
    for folder in (ROOT / "daemon" / "impasto", ROOT / "protocol" / "impasto_protocol"):
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                    private = [a.name for a in node.names if a.name.startswith("_")]
                    private = [n for n in private if not n.startswith("__")]
                    assert not private, f"{path.relative_to(ROOT)} imports {private}"
