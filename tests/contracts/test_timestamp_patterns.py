"""The HTTP source connectors' timestamp settings parse each API's real date format, on the JVM's java.time.

castorm/kafka-connect-http v0.8.11 turns the record's offset timestamp into an Instant with the parser class in
``http.response.record.timestamp.parser`` (default EpochMillisOrDelegateTimestampParser, which delegates to
DateTimeFormatterTimestampParser). tests/contracts/java/TimestampPatternCheck.java repeats castorm's java.time
calls verbatim (quoted there) and is run with ``java <file>.java`` (single-file source launch, needs a JDK:
scripts/setup.sh installs default-jdk-headless). A pattern that throws here throws on every poll in production.

NattyTimestampParser (castorm's parser for text without a time) is not executed: its jar (com.joestelmach:natty
0.13) is not available offline. For those sources the test shows on the JVM that the DateTimeFormatter family
cannot parse the API's values, which is why Natty is configured, and checks Natty's settings.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.paths import CONNECTORS_DIR

CHECKER = Path(__file__).parent / "java" / "TimestampPatternCheck.java"
HTTP_SOURCE = "com.github.castorm.kafka.connect.http.HttpSourceConnector"
PARSERS = "com.github.castorm.kafka.connect.http.response.timestamp."
# castorm v0.8.11 defaults: JacksonKvRecordHttpResponseParserConfig (parser class),
# DateTimeFormatterTimestampParserConfig (pattern, zone), EpochMillisOrDelegateTimestampParserConfig (delegate).
DEFAULT_PARSER = PARSERS + "EpochMillisOrDelegateTimestampParser"
DEFAULT_DELEGATE = PARSERS + "DateTimeFormatterTimestampParser"
DEFAULT_PATTERN = "yyyy-MM-dd'T'HH:mm:ss[.SSS]X"
DEFAULT_ZONE = "UTC"
JVM_PARSERS = {PARSERS + "DateTimeFormatterTimestampParser", PARSERS + "EpochMillisOrDelegateTimestampParser"}
NATTY = PARSERS + "NattyTimestampParser"


@dataclass(frozen=True)
class ApiFormat:
    """What an API really returns in the field the connector takes its timestamp from."""

    api: str
    field_pointer: str  # JSON pointer inside one item of http.response.list.pointer
    samples: tuple[str, ...]
    meaning: str  # how the value is to be read, for the expected instant
    evidence: str


API_FORMATS: dict[str, ApiFormat] = {
    "https://api.eia.gov/v2/petroleum/pri/spt/data/": ApiFormat(
        api="EIA API v2, petroleum/pri/spt daily",
        field_pointer="/period",
        samples=("2024-06-03", "2023-12-29"),
        meaning="date",
        evidence="https://www.eia.gov/opendata/documentation.php: data rows carry 'period' in the response's "
        "dateFormat for the frequency, YYYY-MM-DD for daily (monthly YYYY-MM)",
    ),
    "https://api.stlouisfed.org/fred/series/observations": ApiFormat(
        api="FRED fred/series/observations",
        field_pointer="/date",
        samples=("2024-06-03", "1986-01-02"),
        meaning="date",
        evidence="https://fred.stlouisfed.org/docs/api/fred/series_observations.html: observations[] "
        '{"realtime_start": "2013-08-14", "realtime_end": "2013-08-14", "date": "1929-01-01", "value": "1065.9"}',
    ),
    "https://www.ncei.noaa.gov/cdo-web/api/v2/data": ApiFormat(
        api="NOAA NCEI Climate Data Online v2 /data",
        field_pointer="/date",
        samples=("2024-01-01T00:00:00", "2010-05-31T00:00:00"),
        meaning="utc-local-date-time",
        evidence="https://www.ncei.noaa.gov/cdo-web/webservices/v2#data: results[] "
        '{"date": "2010-05-01T00:00:00", "datatype": "PRCP", "station": "GHCND:...", "value": 0}',
    ),
}


def http_source_specs(directory: Path = CONNECTORS_DIR) -> dict[str, dict[str, Any]]:
    specs = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if spec["config"]["connector.class"] == HTTP_SOURCE:
            specs[spec["name"]] = {k: str(v) for k, v in spec["config"].items()}
    return specs


@cache
def run_jvm(cases: tuple[tuple[str, str, str, str], ...]) -> tuple[str, ...]:
    """castorm's parse on the JVM for (parser, pattern, zone, value) cases: "OK\\t<instant>" or "ERROR\\t<why>"."""
    java = shutil.which("java")
    assert java and shutil.which("javac"), (
        "a JDK is needed to run tests/contracts/java/TimestampPatternCheck.java (java + javac; "
        "scripts/setup.sh installs default-jdk-headless)"
    )
    stdin = "".join("\t".join(case) + "\n" for case in cases)
    result = subprocess.run(
        [java, str(CHECKER)], input=stdin, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, f"TimestampPatternCheck failed: {result.stderr}"
    lines = tuple(result.stdout.splitlines())
    assert len(lines) == len(cases), result.stdout
    return lines


def parser_settings(config: dict[str, str]) -> tuple[str, str, str]:
    """(castorm parser class simple name, pattern, zone) as castorm resolves them for a connector config."""
    parser = config.get("http.response.record.timestamp.parser", DEFAULT_PARSER)
    if parser == PARSERS + "EpochMillisOrDelegateTimestampParser":
        delegate = config.get("http.response.record.timestamp.parser.delegate", DEFAULT_DELEGATE)
        assert delegate == DEFAULT_DELEGATE, f"delegate {delegate} is not reproduced by TimestampPatternCheck"
    return (
        parser.removeprefix(PARSERS),
        config.get("http.response.record.timestamp.parser.pattern", DEFAULT_PATTERN),
        config.get("http.response.record.timestamp.parser.zone", DEFAULT_ZONE),
    )


def expected_instant(value: str, meaning: str) -> str:
    if meaning == "date":
        return date.fromisoformat(value).isoformat() + "T00:00:00Z"
    return datetime.fromisoformat(value).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jvm_results(parser: str, pattern: str, zone: str, samples: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(samples, run_jvm(tuple((parser, pattern, zone, s) for s in samples)), strict=True))


def timestamp_problems(name: str, config: dict[str, str]) -> list[str]:
    """Why the connector's timestamp settings cannot parse its API's values (empty: they can)."""
    api = API_FORMATS.get(config["http.request.url"])
    if api is None:
        return [f"{name}: no documented date format for {config['http.request.url']} in API_FORMATS"]
    offsets = dict(part.split("=", 1) for part in config["http.response.record.offset.pointer"].split(","))
    if offsets.get("timestamp") != api.field_pointer:
        return [f"{name}: timestamp pointer {offsets.get('timestamp')} is not {api.field_pointer} ({api.api})"]
    parser = config.get("http.response.record.timestamp.parser", DEFAULT_PARSER)
    if parser == NATTY:
        problems = []
        if config.get("http.response.record.timestamp.parser.zone") != "UTC":
            problems.append(f"{name}: Natty needs http.response.record.timestamp.parser.zone UTC (dates are UTC)")
        if "http.response.record.timestamp.parser.pattern" in config:
            problems.append(f"{name}: NattyTimestampParser ignores http.response.record.timestamp.parser.pattern")
        return problems
    if parser not in JVM_PARSERS:
        return [f"{name}: parser {parser} is not one castorm v0.8.11 ships that this test reproduces"]
    parser_name, pattern, zone = parser_settings(config)
    problems = []
    for sample, result in jvm_results(parser_name, pattern, zone, api.samples).items():
        want = expected_instant(sample, api.meaning)
        if result != f"OK\t{want}":
            problems.append(
                f"{name}: {parser_name} pattern {pattern!r} zone {zone!r} on {api.api} value {sample!r}: "
                f"{result.replace(chr(9), ' ')} (expected {want})"
            )
    return problems


def test_every_http_source_is_covered() -> None:
    specs = http_source_specs()
    assert set(specs) == {"cp-source-eia-prices", "cp-source-fred-prices", "cp-source-noaa-weather"}
    assert {spec["http.request.url"] for spec in specs.values()} == set(API_FORMATS)


@pytest.mark.parametrize("name", sorted(http_source_specs()))
def test_timestamp_settings_parse_the_api_format(name: str) -> None:
    problems = timestamp_problems(name, http_source_specs()[name])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("url", [u for u, f in API_FORMATS.items() if f.meaning == "date"])
def test_no_date_time_formatter_pattern_parses_a_date_only_value(url: str) -> None:
    """Why the date-only APIs use Natty: castorm's DateTimeFormatter path needs a time and an offset."""
    cases = tuple(
        ("DateTimeFormatterTimestampParser", pattern, zone, sample)
        for pattern in ("yyyy-MM-dd", "yyyy-MM-dd[ HH:mm:ss]", "yyyy-MM-dd[X]", DEFAULT_PATTERN)
        for zone in ("UTC", "Z")
        for sample in API_FORMATS[url].samples
    )
    for case, result in zip(cases, run_jvm(cases), strict=True):
        assert result.startswith("ERROR\tjava.time.format.DateTimeParseException"), (case, result)


def test_the_patterns_shipped_before_the_fix_throw_on_every_poll() -> None:
    """The issue's finding, reproduced: yyyy-MM-dd (EIA, FRED) and yyyy-MM-dd'T'HH:mm:ss (NOAA) in zone UTC."""
    old = {
        "https://api.eia.gov/v2/petroleum/pri/spt/data/": "yyyy-MM-dd",
        "https://api.stlouisfed.org/fred/series/observations": "yyyy-MM-dd",
        "https://www.ncei.noaa.gov/cdo-web/api/v2/data": "yyyy-MM-dd'T'HH:mm:ss",
    }
    cases = tuple(
        ("EpochMillisOrDelegateTimestampParser", pattern, "UTC", sample)
        for url, pattern in old.items()
        for sample in API_FORMATS[url].samples
    )
    for case, result in zip(cases, run_jvm(cases), strict=True):
        assert result.startswith("ERROR\tjava.time.format.DateTimeParseException: Text"), (case, result)
        assert "Unable to obtain OffsetDateTime" in result, result


def test_the_checker_reproduces_a_working_parse() -> None:
    """Guard against a checker that fails everything: castorm's default pattern on an ISO instant works."""
    results = jvm_results("EpochMillisOrDelegateTimestampParser", DEFAULT_PATTERN, "UTC", ("2020-04-28T00:19:05Z",))
    assert results == {"2020-04-28T00:19:05Z": "OK\t2020-04-28T00:19:05Z"}
    assert run_jvm((("EpochMillisOrDelegateTimestampParser", DEFAULT_PATTERN, "UTC", "1588033145000"),)) == (
        "OK\t2020-04-28T00:19:05Z",
    )
