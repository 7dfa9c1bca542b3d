"""Run one of the Flink jobs on a local Flink mini-cluster over CSV files.

Usage (with the PyFlink virtualenv, see ``setup_venv.sh``)::

    .venv-flink/bin/python include/flink/run_local.py price_aggregator --input ticks.csv --output bars.csv
    .venv-flink/bin/python include/flink/run_local.py data_enricher --input ticks.csv --output enriched.csv \\
        [--metadata include/flink/data/commodity_metadata.csv]
    .venv-flink/bin/python include/flink/run_local.py anomaly_detector --input ticks.csv --output alerts.csv

Input: a CSV file with header ``commodity_code,event_time,price,volume`` (``event_time`` as
``YYYY-MM-DD HH:MM:SS[.fff]`` UTC; an empty field is NULL; the ticks' ``source`` is NULL), or, with
``--items`` instead of ``--input``, a JSON-lines file of ``commodity-prices-raw`` records as the HTTP
sources write them: the EIA/FRED API item plus ``"headers"`` (header name -> base64 of its bytes, e.g.
``{"source": "ZnJlZA==", "series_id": "RENPSUxXVElDTw=="}``), mapped to ticks exactly as in production
(``commodity_flink.api_items``). data_enricher also reads a metadata CSV
``commodity_code,commodity_name,category,exchange,currency,unit,updated_at`` (a row is valid from
``updated_at`` on). Output: a CSV file with a header, sorted by the job's key; NULL is an empty field;
timestamps as in the input, DECIMALs at their column's scale:

* price_aggregator: ``commodity_code,bar_start,open_price,high_price,low_price,close_price,volume,vwap,
  tick_count`` sorted by (commodity_code, bar_start)
* data_enricher: ``commodity_code,event_time,price,volume,commodity_name,category,exchange,currency,unit,
  source,ingest_time`` sorted by (event_time, commodity_code, price, volume)
* anomaly_detector: ``alert_id,commodity_code,alert_time,alert_type,severity,price_change_pct,
  reference_time,reference_price,current_price,message,ingest_time`` sorted by (commodity_code, alert_time)

The job runs exactly the production transformation (``commodity_flink.transforms``); only the source and
sink tables are declared on files instead of Kafka/Doris. The run is a streaming run over a bounded
source: at end of input Flink emits a final watermark, which fires the last windows and flushes the
temporal join and pattern matching, so the output is complete when this script returns.

Exit codes: 0 success, 2 bad arguments or input file, 1 the Flink job failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The job package sits next to this script (as in the image, where the PythonDriver runs the scripts
# from /opt/flink/usrlib); make it importable whatever the current directory is.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from commodity_flink.jobs import JOBS, JobDefinition, get_job  # noqa: E402
from commodity_flink.schema import METADATA_COLUMNS, TICK_COLUMNS, Column, column_names  # noqa: E402

DEFAULT_METADATA = HERE / "data" / "commodity_metadata.csv"

log = logging.getLogger("run_local")


class InputFileError(ValueError):
    """An input CSV file is missing or has the wrong header."""


def copy_without_header(source: Path, columns: tuple[Column, ...], target: Path) -> int:
    """Check ``source``'s header against ``columns`` and copy its rows, header-less, to ``target``.

    Flink's CSV format is positional and has no header option, hence the copy; checking the header
    first turns a swapped column into a clear error instead of silently wrong numbers.
    """
    expected = column_names(columns)
    try:
        handle = source.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read {source}: {exc.strerror}") from exc
    rows = 0
    with handle, target.open("w", newline="", encoding="utf-8") as out:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [name.strip() for name in header] != expected:
            raise InputFileError(f"{source}: header must be {','.join(expected)!r}, found {header!r}")
        writer = csv.writer(out, lineterminator="\n")
        for row in reader:
            if row:
                writer.writerow(row)
                rows += 1
    return rows


_DECIMAL_RE = re.compile(r"DECIMAL\(\s*\d+\s*,\s*(\d+)\s*\)")


def _format_timestamp(value: str) -> str:
    """``YYYY-MM-DD HH:MM:SS[.fff]``: Flink drops trailing zeros of the fraction (``.25``), put them back."""
    whole, dot, fraction = value.partition(".")
    return f"{whole}.{fraction.ljust(3, '0')}" if dot else whole


def _formatter(column: Column) -> Callable[[str], str]:
    """How to print a value of ``column``: the input's timestamp format, DECIMALs at their scale.

    Flink's CSV writer prints BigDecimals stripped of trailing zeros and may use exponent notation
    (``1.2E+2``); rewriting them at the declared scale is exact and makes the files easy to diff.
    """
    if column.sql_type.startswith("TIMESTAMP"):
        return _format_timestamp
    match = _DECIMAL_RE.fullmatch(column.sql_type)
    if match is None:
        return str
    quantum = Decimal(1).scaleb(-int(match.group(1)))

    def format_decimal(value: str) -> str:
        if value == "":
            return value
        try:
            return str(Decimal(value).quantize(quantum))
        except InvalidOperation as exc:
            raise RuntimeError(f"column {column.name}: {value!r} is not a decimal") from exc

    return format_decimal


def collect_output(directory: Path, job: JobDefinition, output: Path) -> int:
    """Merge the sink's part files into ``output`` with a header, sorted by the job's key."""
    names = column_names(job.output_columns)
    unfinished = sorted(p.name for p in directory.rglob(".*") if p.is_file())
    if unfinished:
        # In-progress part files mean the sink never committed: the output would be incomplete.
        raise RuntimeError(f"Flink left uncommitted part files in {directory}: {unfinished}")
    formatters = [_formatter(column) for column in job.output_columns]
    rows: list[list[str]] = []
    for part in sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))):
        with part.open(newline="", encoding="utf-8") as handle:
            rows.extend(
                [fmt(value) for fmt, value in zip(formatters, row, strict=True)] for row in csv.reader(handle) if row
            )
    key_index = [names.index(column) for column in job.sort_key]
    rows.sort(key=lambda row: [row[i] for i in key_index])
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
    return len(rows)


def copy_api_records(source: Path, target: Path) -> int:
    """Check that every line of ``source`` is a JSON object with a ``headers`` object, and copy it.

    Flink's json format would turn a broken line into an error deep inside the job (or, with
    ignore-parse-errors, into nothing); a clear error naming the line is better for a local run.
    """
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(f"cannot read {source}: {exc.strerror}") from exc
    records = 0
    with target.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{source}:{number}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("headers"), dict):
                raise InputFileError(f'{source}:{number}: expected an API item object with a "headers" object')
            out.write(json.dumps(record) + "\n")
            records += 1
    return records


def run(
    job_name: str,
    input_path: Path,
    output_csv: Path,
    metadata_csv: Path | None,
    parallelism: int,
    *,
    api_items: bool = False,
) -> int:
    """Run ``job_name`` over ``input_path`` into ``output_csv``; returns the number of output rows.

    ``api_items``: the input is a JSON-lines file of raw API records (see ``--items``), not a tick CSV.
    """
    from commodity_flink.environment import create_table_environment, submit

    job = get_job(job_name)
    with tempfile.TemporaryDirectory(prefix=f"flink-{job_name}-") as tmp:
        work = Path(tmp)
        (work / "ticks").mkdir()
        if api_items:
            ticks = work / "ticks" / "records.json"
            tick_rows = copy_api_records(input_path, ticks)
        else:
            ticks = work / "ticks" / "ticks.csv"
            tick_rows = copy_without_header(input_path, TICK_COLUMNS, ticks)
        metadata_path: str | None = None
        if job.needs_metadata:
            (work / "metadata").mkdir()
            metadata = work / "metadata" / "metadata.csv"
            copy_without_header(metadata_csv or DEFAULT_METADATA, METADATA_COLUMNS, metadata)
            metadata_path = str(metadata)
        sink_dir = work / "out"
        sink_dir.mkdir()
        log.info(
            "Running %s over %d %s from %s (parallelism %d)",
            job_name, tick_rows, "API records" if api_items else "ticks", input_path, parallelism,
        )  # fmt: skip
        t_env = create_table_environment(
            pipeline_name=f"{job_name}-local", config={"parallelism.default": str(parallelism)}
        )
        ddl = job.local_tables(str(ticks), metadata_path, str(sink_dir), api_items=api_items)
        submit(t_env, ddl, job.statements()).wait()
        written = collect_output(sink_dir, job, output_csv)
    log.info("Wrote %d rows to %s", written, output_csv)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line interface; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("job", choices=sorted(JOBS))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", type=Path, help="ticks CSV (commodity_code,event_time,price,volume)")
    source.add_argument(
        "--items",
        type=Path,
        help='JSON lines of commodity-prices-raw records (API item + "headers"), mapped to ticks as in production',
    )
    parser.add_argument("--output", required=True, type=Path, help="output CSV (overwritten)")
    parser.add_argument(
        "--metadata",
        type=Path,
        default=None,
        help=f"commodity metadata CSV for data_enricher (default: {DEFAULT_METADATA})",
    )
    parser.add_argument("--parallelism", type=int, default=1, help="operator parallelism (default 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.parallelism < 1:
        parser.error("--parallelism must be >= 1")
    try:
        run(
            args.job, args.items or args.input, args.output, args.metadata, args.parallelism,
            api_items=args.items is not None,
        )  # fmt: skip
    except InputFileError as exc:
        log.error("%s", exc)
        return 2
    except Exception:
        log.exception("Flink job %s failed", args.job)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
