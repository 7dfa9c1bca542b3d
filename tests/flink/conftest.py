"""Fixtures of the Flink job tests.

The jobs run on PyFlink's local mini-cluster in the separate Flink venv. A missing venv is a test
*failure* with instructions, never a skip: a silently skipped stream-processing suite is worse than none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flink.flink_testlib import SETUP_HINT, check_flink_python, flink_python


@pytest.fixture(scope="session")
def pyflink_python() -> Path:
    """Interpreter of the PyFlink venv, verified to import pyflink."""
    python = flink_python()
    problem = check_flink_python(python)
    if problem is not None:
        pytest.fail(f"{problem}\n{SETUP_HINT}", pytrace=False)
    return python
