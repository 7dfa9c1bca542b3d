"""Locations of the project's non-Python assets, resolved relative to this package.

The layout (``plugins/``, ``include/``, ``dags/`` side by side) is the same in a checkout and in the
docker-compose mount, so no environment variable is needed to find SQL files or manifests.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT: Path = Path(__file__).resolve().parents[2]
DAGS_DIR: Path = PROJECT_ROOT / "dags"
INCLUDE_DIR: Path = PROJECT_ROOT / "include"
SQL_DIR: Path = INCLUDE_DIR / "sql"
MANIFESTS_DIR: Path = INCLUDE_DIR / "manifests"
#: The Kafka Connect connector specs (one YAML a connector): read by the reconciler and the deploy's Secrets.
CONNECTORS_DIR: Path = INCLUDE_DIR / "connectors"
