"""Helpers for the Flink job tests: tick records, CSV files, and running ``run_local.py`` in the PyFlink venv.

The test suite runs under the Airflow virtualenv, which cannot hold PyFlink (conflicting pins), so the jobs
run in a subprocess with the interpreter of the separate Flink venv (``FLINK_PYTHON``).
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FLINK_DIR = REPO_ROOT / "include" / "flink"
RUNNER = FLINK_DIR / "run_local.py"
DEFAULT_FLINK_PYTHON = REPO_ROOT / ".venv-flink" / "bin" / "python"
#: Generous: a mini-cluster start takes ~10 s alone, and the machine's 2 cores are shared.
RUN_TIMEOUT_SECONDS = 600

SETUP_HINT = (
    "Create the PyFlink virtualenv with `include/flink/setup_venv.sh` (python3.11 -m venv .venv-flink && "
    ".venv-flink/bin/pip install -r include/flink/requirements.txt), or point FLINK_PYTHON at a Python "
    "that has apache-flink installed."
)

TICK_HEADER = ("commodity_code", "event_time", "price", "volume")


@dataclass(frozen=True)
class Tick:
    """One raw tick as written to the input CSV; ``None`` is written as an empty (NULL) field."""

    commodity_code: str | None
    event_time: datetime
    price: Decimal | None
    volume: Decimal | None

    def is_valid(self) -> bool:
        """The shared validity rule, written independently of the SQL under test."""
        return (
            bool(self.commodity_code)
            and self.price is not None
            and self.price > 0
            and self.volume is not None
            and self.volume >= 0
        )


def format_time(value: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS[.fff]`` (fraction only when there are milliseconds)."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{value.microsecond // 1000:03d}" if value.microsecond else text


def parse_time(value: str) -> datetime:
    """Inverse of :func:`format_time` (accepts any fraction length Flink may print)."""
    return datetime.fromisoformat(value)


def _plain(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def write_ticks(path: Path, ticks: Iterable[Tick]) -> None:
    """Write ticks, in the given (arrival) order, as the runner's input CSV."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TICK_HEADER)
        for tick in ticks:
            writer.writerow(
                [
                    tick.commodity_code or "",
                    format_time(tick.event_time),
                    _plain(tick.price),
                    _plain(tick.volume),
                ]
            )


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an output CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def disorder(ticks: Sequence[Tick], max_delay_seconds: float, rng: random.Random) -> list[Tick]:
    """Arrival order: every tick is delayed by a random 0..max_delay, then all are sorted by arrival.

    A tick can thus arrive after ticks up to ``max_delay`` seconds younger than itself, but never later:
    with ``max_delay`` below the jobs' watermark delay no tick is late, so results must not change.
    """
    arrival = [
        (tick.event_time + timedelta(seconds=rng.uniform(0, max_delay_seconds)), index)
        for index, tick in enumerate(ticks)
    ]
    return [ticks[index] for _, index in sorted(arrival)]


def count_inversions(ticks: Sequence[Tick]) -> int:
    """Number of ticks that arrive after a tick with a later event time (a cheap disorder measure)."""
    newest = datetime.min
    inversions = 0
    for tick in ticks:
        if tick.event_time < newest:
            inversions += 1
        newest = max(newest, tick.event_time)
    return inversions


def flink_python() -> Path:
    """The PyFlink venv's interpreter: ``$FLINK_PYTHON``, else ``<repo>/.venv-flink/bin/python``."""
    return Path(os.environ.get("FLINK_PYTHON", str(DEFAULT_FLINK_PYTHON)))


def check_flink_python(python: Path) -> str | None:
    """``None`` if ``python`` can import PyFlink, else the reason it cannot (for the failure message)."""
    if not python.exists():
        return f"PyFlink interpreter {python} does not exist."
    probe = subprocess.run(
        [str(python), "-c", "import pyflink.version; print(pyflink.version.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        return f"{python} cannot import pyflink: {probe.stderr.strip()[-500:]}"
    return None


def run_job(
    python: Path,
    job: str,
    ticks_csv: Path,
    output_csv: Path,
    *,
    metadata_csv: Path | None = None,
    parallelism: int = 1,
) -> subprocess.CompletedProcess[str]:
    """Run ``run_local.py`` for ``job`` in the PyFlink venv; raises with Flink's log tail on failure."""
    command = [str(python), str(RUNNER), job, "--input", str(ticks_csv), "--output", str(output_csv)]
    command += ["--parallelism", str(parallelism)]
    if metadata_csv is not None:
        command += ["--metadata", str(metadata_csv)]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False, cwd=REPO_ROOT
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited with {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result
