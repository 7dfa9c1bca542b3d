"""Names the product and the sandbox share are stated once (issue 15: no second copy of a constant).

* The platform database's name lives in ``commodity_platform.connections.DORIS_DATABASE``; the hook's
  default, the migrations' default, the assets' URIs and the connection form's placeholder use it.
* A directory ``commodity_platform.paths`` names (``CONNECTORS_DIR``, ``SQL_DIR``, ``DAGS_DIR``...) is used
  through that name, not joined again from ``INCLUDE_DIR`` / ``PROJECT_ROOT``.

The scanners take the tree's root, so they can be pointed at an older checkout to see what they catch.
"""

from __future__ import annotations

import ast
from pathlib import Path

from commodity_platform import paths
from commodity_platform.connections import DORIS_DATABASE
from commodity_platform.paths import PROJECT_ROOT

#: Where the one definition of each lives (relative to the project root).
DATABASE_HOME = Path("plugins/commodity_platform/connections.py")
PATHS_HOME = Path("plugins/commodity_platform/paths.py")


def source_files(root: Path) -> list[Path]:
    """The product package, the DAGs and the sandbox package under ``root`` (not tests: they state
    expectations on purpose)."""
    product = sorted((root / "plugins" / "commodity_platform").rglob("*.py")) + sorted((root / "dags").glob("*.py"))
    return product + sorted((root / "sandbox").glob("*.py"))


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (prose may mention the database's name)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def database_literals(root: Path, name: str = DORIS_DATABASE) -> list[str]:
    """``file:line`` of every string (not docstring) outside connections.py that contains ``name``."""
    found = []
    for path in source_files(root):
        if path.relative_to(root) == DATABASE_HOME:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and name in node.value
                    and id(node) not in docs):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def _joined_path(node: ast.AST, bases: dict[str, Path]) -> Path | None:
    """The path ``BASE / "a" / "b"`` denotes, for a base in ``bases``; None for anything else."""
    if isinstance(node, ast.Name) and node.id in bases:
        return bases[node.id]
    if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant)
            and isinstance(node.right.value, str)):
        left = _joined_path(node.left, bases)
        return None if left is None else left / node.right.value
    return None


def rejoined_named_directories(root: Path) -> list[str]:
    """``file:line -> NAME`` wherever a directory ``paths`` names is built again from a base directory."""
    named = {value: name for name, value in vars(paths).items() if name.isupper() and isinstance(value, Path)}
    bases = {name: value for name, value in vars(paths).items() if name in ("PROJECT_ROOT", "INCLUDE_DIR")}
    found = []
    for path in source_files(root):
        if path.relative_to(root) == PATHS_HOME:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.BinOp):
                continue
            # Every prefix of a chain is a BinOp of its own: the one that forms a named directory is reported.
            joined = _joined_path(node, bases)
            if joined is not None and joined in named:
                found.append(f"{path.relative_to(root)}:{node.lineno} -> paths.{named[joined]}")
    return sorted(found)


def test_the_platform_database_is_named_only_in_connections() -> None:
    assert database_literals(PROJECT_ROOT) == []


def test_directories_paths_names_are_not_joined_again() -> None:
    assert rejoined_named_directories(PROJECT_ROOT) == []


def test_the_scanners_see_what_they_look_for(tmp_path: Path) -> None:
    """Each scanner reports a planted copy, so an empty answer above means something."""
    package = tmp_path / "plugins" / "commodity_platform"
    package.mkdir(parents=True)
    (package / "copy.py").write_text(
        '"""Mentions commodity_realtime in prose only."""\n'
        "from commodity_platform.paths import INCLUDE_DIR, PROJECT_ROOT\n"
        'DB = "commodity_realtime"\n'
        'URI = f"doris://commodity_realtime/x"\n'
        'SPECS = INCLUDE_DIR / "connectors"\n'
        'DAGS = PROJECT_ROOT / "dags"\n'
        'BARS = INCLUDE_DIR / "sql" / "ohlc" / "bars.sql"\n'
        'OTHER = INCLUDE_DIR / "contracts" / "artifacts.yaml"\n'
    )
    assert database_literals(tmp_path) == ["plugins/commodity_platform/copy.py:3",
                                           "plugins/commodity_platform/copy.py:4"]
    assert rejoined_named_directories(tmp_path) == [
        "plugins/commodity_platform/copy.py:5 -> paths.CONNECTORS_DIR",
        "plugins/commodity_platform/copy.py:6 -> paths.DAGS_DIR",
        "plugins/commodity_platform/copy.py:7 -> paths.SQL_DIR",
    ]
