"""The package's shape: imports go one way, the core layers import at the top only, the shape
tracker stays in pieces a reader can hold, and ``check`` loads nothing it does not need."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rnnshape"
# Layers that must not hide an import inside a function (DESIGN section 2); the command layer
# may, to keep heavy libraries off the start path.
CORE = ("rnnshape.api", "rnnshape.fixes", "rnnshape.fixkit", "rnnshape.rules", "rnnshape.shapes")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(name: str, node: ast.AST) -> list[str]:
    """The package modules an import statement in module ``name`` loads."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = name.split(".")
            if MODULES[name].name != "__init__.py":
                package = package[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
    else:
        return []
    found = []
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target.startswith("rnnshape") and target != name:
            found.append(target)
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere (a lazy import inside a function can
    close a cycle as well as one at the top)."""
    graph = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = {t for node in ast.walk(tree) for t in _imported(name, node)}
    return graph


def _cycle(graph: dict[str, set[str]]):
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ importing its own submodules is how it re-exports them.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    assert _cycle(_graph()) is None


def test_a_cycle_would_be_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _function_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append(f"{path.name}:{node.lineno}")
    return found


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith(CORE)))
def test_core_layers_import_at_the_top_only(name):
    assert _function_imports(MODULES[name]) == []


def _sizes(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node, node.end_lineno - node.lineno + 1


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("rnnshape.shapes")))
def test_shape_tracker_pieces_stay_small(name):
    for node, lines in _sizes(MODULES[name]):
        limit = 400 if isinstance(node, ast.ClassDef) else 80
        assert lines <= limit, f"{node.name} is {lines} lines (limit {limit})"


def test_check_of_one_file_loads_only_what_it_needs():
    # What the command imports for a clean file: no fix engine's diff machinery beyond what
    # the rules need, no notebook reader, no verify harness, no torch or numpy.
    code = ("import sys\nfrom rnnshape.cli import main\n"
            "main(['check', '--no-cache', '--output-format', 'concise', sys.argv[1]])\n"
            "print(' '.join(sorted(m for m in sys.modules)))")
    target = PACKAGE.parent / "examples" / "seed" / "onehot_lstm_ok.py"
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, timeout=120)
    loaded = set(proc.stdout.split("\n")[-2].split())
    for heavy in ("torch", "numpy", "libcst.matchers", "rnnshape.harness", "rnnshape.commands.fix",
                  "rnnshape.commands.verify", "pathspec", "concurrent.futures",
                  "rnnshape.server", "pygls", "lsprotocol", "rnnshape.report.junit",
                  "rnnshape.report.sarif", "xml.etree"):
        assert not any(m == heavy or m.startswith(heavy + ".") for m in loaded), heavy
