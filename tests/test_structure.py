"""The shape of the code (issue 29): no import cycles among the project's own modules, no
product module over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES lines but the
declarative argument tables listed in ALLOWED_LONG_FUNCTIONS.

Read with ast, nothing is imported: the editors' plug-ins need their hosts, the cluster Ray.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The product's packages (the folders pyproject.toml's setuptools finds them in).
PACKAGES = [
    ROOT / "daemon" / "impasto",
    ROOT / "protocol" / "impasto_protocol",
    ROOT / "installers" / "impasto_install",
    ROOT / "plugins" / "krita" / "impasto_krita",
    ROOT / "plugins" / "gimp" / "impasto_gimp",
]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60  # from the `def` line to the last line of the body

# Functions that may be longer: declarative tables of arguments, one entry after another, which
# splitting would only scatter. Each names its file (from the repository root) and function.
ALLOWED_LONG_FUNCTIONS = {
    # argparse sub-command builders: one add_argument per option
    ("daemon/impasto/cli/daemon.py", "add_parser"),
    ("daemon/impasto/cli/remote.py", "add_parsers"),
    ("daemon/impasto/cli/train.py", "add_parser"),
    # GIMP's procedure table: one add_*_argument per parameter of the plug-in's procedures
    ("plugins/gimp/impasto_gimp/plugin.py", "declare"),
}


@dataclass(frozen=True)
class Module:
    name: str  # dotted: impasto.server.requests
    path: Path
    is_package: bool  # an __init__.py

    @property
    def package(self) -> str:
        """The package its relative imports start from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def relative_path(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


def product_modules() -> dict[str, Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            parts = list(path.relative_to(package.parent).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            name = ".".join(parts)
            found[name] = Module(name, path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (in functions, try blocks), except those under
    `if TYPE_CHECKING:`, which never run."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _imports(child)


def imported(module: Module, modules: dict[str, Module]) -> set[str]:
    """The project's modules this one imports: `from P import name` is an edge to P.name when
    that is a module (a package's submodule), else to P."""
    edges = set()
    for node in _imports(ast.parse(module.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = module.package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        edges.update(t for t in targets if t in modules and t != module.name)
    return edges


def import_cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    modules = product_modules()
    graph = {name: sorted(imported(m, modules)) for name, m in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def test_the_import_graph_finds_edges() -> None:
    """The graph is not empty by mistake (a path that moved, a resolution that fails)."""
    modules = product_modules()
    assert "impasto.server.server" in modules
    server = imported(modules["impasto.server.server"], modules)
    assert {"impasto.server.requests", "impasto.server.peers"} <= server
    assert "impasto_protocol.constants" in server  # `from impasto_protocol import constants`


def test_no_import_cycles() -> None:
    cycles = import_cycles()
    assert not cycles, "import cycles among the project's modules:\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def long_modules() -> list[str]:
    found = []
    for m in product_modules().values():
        lines = len(m.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{m.relative_path}: {lines} lines")
    return sorted(found)


def long_functions() -> list[str]:
    found = []
    for m in product_modules().values():
        for node in ast.walk(ast.parse(m.path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            allowed = (m.relative_path, node.name) in ALLOWED_LONG_FUNCTIONS
            if lines > MAX_FUNCTION_LINES and not allowed:
                found.append(f"{m.relative_path}::{node.name}: {lines} lines")
    return sorted(found)


def test_the_allowance_names_functions_that_exist() -> None:
    """An entry left behind when its function moved or was renamed would allow the next one
    of that name."""
    modules = {m.relative_path: m for m in product_modules().values()}
    for path, name in sorted(ALLOWED_LONG_FUNCTIONS):
        assert path in modules, f"{path}: no such module"
        tree = ast.parse(modules[path].path.read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, f"{path}: no function {name}"


def test_no_module_is_over_the_limit() -> None:
    found = long_modules()
    assert not found, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(found)


def test_no_function_is_over_the_limit() -> None:
    found = long_functions()
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(found)
