"""The layout the architecture relies on: the product package stands alone and has no import cycle.

``plugins/commodity_platform`` is what a production Airflow runs; ``sandbox/`` (services, emulators, tick
generator, demo) and ``tests/`` must never be needed by it. These tests read the imports from the source
(every ``import``, including those inside functions, which run at task time) and import the whole package in
a fresh interpreter that has only ``plugins/`` on its path, as a production worker has.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from commodity_platform.paths import DAGS_DIR, PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "plugins" / "commodity_platform"
PRODUCT_FILES = sorted(PACKAGE_DIR.rglob("*.py")) + sorted(DAGS_DIR.glob("*.py"))
NOT_IN_PRODUCTION = ("sandbox", "tests", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT / "plugins").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a import b`` counts ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_product_module_imports_the_sandbox_or_the_tests() -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(m for m in _imports(path) if m.split(".")[0] in NOT_IN_PRODUCTION)
        for path in PRODUCT_FILES
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_product_package_imports_with_only_plugins_on_the_path(tmp_path: Path) -> None:
    """Every module imports in an interpreter that cannot see ``sandbox/`` (cwd and PYTHONPATH elsewhere)."""
    modules = sorted(_module_name(p) for p in PACKAGE_DIR.rglob("*.py"))
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(PROJECT_ROOT / 'plugins')!r}]\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "commodity_platform" in loaded
    assert not loaded & set(NOT_IN_PRODUCTION), sorted(loaded & set(NOT_IN_PRODUCTION))


def test_the_product_package_has_no_import_cycle() -> None:
    graph = _package_graph()
    assert len(graph) > 20, sorted(graph)  # the walk really found the package
    assert _cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
