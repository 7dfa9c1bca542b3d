"""Small shared guards against hostile or careless input: one helper per job, used across the package.

* :func:`full_match` / :func:`strict_param_pattern`: pattern checks that match the *whole* value. Python's
  ``$`` also matches before a final newline (``re.match(r"^x$", "x\\n")`` succeeds), and jsonschema's
  ``pattern`` keyword (what Airflow's ``Param`` uses) runs ``re.search`` on an unanchored ECMA pattern.
* :func:`check_image_reference` / :func:`check_semver`: container image references and chart versions, by
  their upstream grammars.
* :func:`require_finite`: NaN and infinities refused by field name (``NaN < 0`` is False, so range checks
  alone let them through).
* :func:`read_text_limited`: input files are read with a size limit.
* :func:`cap_list` / :func:`truncate_text`: user-sized lists and diffs are capped before they reach a log.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from commodity_platform.errors import ConfigError

# ---------------------------------------------------------------------------------------------- patterns


def full_match(pattern: re.Pattern[str] | str, value: str) -> bool:
    """True only when ``pattern`` matches all of ``value`` (a trailing newline is not "the end")."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return compiled.fullmatch(value) is not None


def strict_param_pattern(body: str) -> str:
    """A JSON-schema ``pattern`` for an Airflow ``Param`` that must match the whole string.

    JSON-schema patterns are ECMA-262 regexes and unanchored; Airflow validates them with jsonschema, which
    calls Python's ``re.search``. ``^...$`` is not enough there: Python's ``$`` matches before a final
    ``\\n``. ``$(?!\\n)`` is anchored in both dialects (ECMA's ``$`` without the ``m`` flag is the end of
    input already, and the look-ahead is valid ECMA), so the UI form and the server agree.
    """
    return f"^(?:{body})$(?!\\n)"


#: One Kafka bootstrap entry ``host:port`` (Doris Routine Load ``kafka_broker_list``) and the comma list.
KAFKA_BROKER_PATTERN = r"[A-Za-z0-9_.\-]+:[0-9]{1,5}"
KAFKA_BROKER_LIST_PATTERN = rf"{KAFKA_BROKER_PATTERN}(?:, ?{KAFKA_BROKER_PATTERN})*"

# ------------------------------------------------------------------------------- images and chart versions

# The distribution/reference grammar (github.com/distribution/reference, regexp.go at commit 0965666a,
# formerly docker/distribution reference/regexp.go), translated literally. Go's ``\w`` is ASCII-only, hence
# ``[A-Za-z0-9_]``; Go's ``$`` without flags is the end of the text, hence ``fullmatch``.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = _DOMAIN_NAME_COMPONENT + r"(?:\." + _DOMAIN_NAME_COMPONENT + r")*"
_HOST = r"(?:" + _DOMAIN_NAME + r"|" + _IPV6 + r")"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = _ALPHANUMERIC + r"(?:" + _SEPARATOR + _ALPHANUMERIC + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_NAME = r"(?:" + _DOMAIN_AND_PORT + r"/)?" + _REMOTE_NAME
IMAGE_REFERENCE_RE = re.compile(
    r"(?P<name>" + _NAME + r")(?::(?P<tag>" + _TAG + r"))?(?:@(?P<digest>" + _DIGEST + r"))?"
)
#: distribution/reference reference.go: ``NameTotalLengthMax = 255`` (the name part, without tag/digest).
IMAGE_NAME_MAX_LENGTH = 255

#: Semantic Versioning 2.0.0, the regex suggested by https://semver.org/ (FAQ "Is there a suggested regular
#: expression"), with ``\d`` spelled ``[0-9]`` (Python's ``\d`` also matches non-ASCII digits).
SEMVER_RE = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


def check_image_reference(field: str, value: Any) -> str:
    """``value`` if it is an image reference by the distribution/reference grammar, else a ConfigError."""
    if not isinstance(value, str) or not (match := IMAGE_REFERENCE_RE.fullmatch(value)):
        raise ConfigError(
            f"{field}: {preview(value)} is not a container image reference (e.g. registry.example.com/team/app:1.2.3)"
        )
    if len(match.group("name")) > IMAGE_NAME_MAX_LENGTH:
        raise ConfigError(f"{field}: image name longer than {IMAGE_NAME_MAX_LENGTH} characters")
    return value


def check_semver(field: str, value: Any) -> str:
    """``value`` if it is a semantic version (chart versions are SemVer 2 in Helm), else a ConfigError."""
    if not isinstance(value, str) or not SEMVER_RE.fullmatch(value):
        raise ConfigError(f"{field}: {preview(value)} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.13.0)")
    return value


# --------------------------------------------------------------------------------------------- numbers

#: JSON-schema keywords that refuse NaN and ±infinity in a ``type: number`` Param. Every comparison with NaN is
#: false, so ``minimum``/``maximum`` never reject it; ``{"minimum": 0, "maximum": -1}`` holds for *no* real
#: number, and for NaN alone, so its negation admits exactly the non-NaN numbers. The explicit bounds turn
#: away the infinities. Valid JSON schema and ECMA semantics, so the UI form and the server agree; Airflow's
#: message names the Param ("Invalid input for param X: nan should not be valid under ...").
FINITE_NUMBER_SCHEMA: dict[str, Any] = {"not": {"minimum": 0, "maximum": -1}}


def finite_number_schema(**schema: Any) -> dict[str, Any]:
    """``schema`` (JSON-schema keywords of a number) that additionally refuses NaN and ±infinity."""
    bounded = {"minimum": -sys.float_info.max, "maximum": sys.float_info.max, **schema}
    return {**bounded, **FINITE_NUMBER_SCHEMA}



def require_finite(field: str, value: Any) -> Any:
    """Refuse NaN and ±infinity by field name; other values are returned unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{field}: {value!r} is not a finite number")
    return value


def find_non_finite(value: Any, field: str) -> str | None:
    """The dotted path of the first NaN/infinity inside nested dicts/lists, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return field
    if isinstance(value, dict):
        for key, item in value.items():
            if found := find_non_finite(item, f"{field}.{key}"):
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if found := find_non_finite(item, f"{field}[{index}]"):
                return found
    return None


def require_finite_params(params: Any) -> None:
    """Refuse a Param dict holding NaN or an infinity anywhere, naming the Param (and the nested key)."""
    for name, value in dict(params).items():
        if found := find_non_finite(value, str(name)):
            raise ConfigError(f"{found}: NaN and infinities are not accepted; give a finite number")


# ----------------------------------------------------------------------------------------------- files

#: Upper bounds for files the project reads as input. The largest shipped file of each kind is far below
#: (connector specs ~2 KB, manifests ~60 KB with the dashboards, migrations ~10 KB); the limits stop a
#: careless or hostile file (a 50 MB spec once reached a 52 MB log) before it is parsed or echoed.
MAX_SPEC_FILE_BYTES = 256 * 1024
MAX_MANIFEST_FILE_BYTES = 2 * 1024 * 1024
MAX_MIGRATION_FILE_BYTES = 1024 * 1024
#: A single configuration value (a connector config entry): a JAAS config or a PEM certificate chain fits.
MAX_CONFIG_VALUE_CHARS = 32 * 1024


def read_text_limited(path: Path, max_bytes: int, *, what: str, display: str | None = None) -> str:
    """The UTF-8 text of ``path``, refusing files larger than ``max_bytes`` before reading them."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(f"{shown}: {what} is {size:,} bytes, more than the limit of {max_bytes:,} bytes")
        with path.open("rb") as handle:  # the file may grow between stat and read: read at most the limit
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{shown}: {what} is more than the limit of {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: {what} is not UTF-8 text (byte {exc.start})") from None


# -------------------------------------------------------------------------------------------- logging

#: How many items of a user-given list a log line shows.
LOG_LIST_LIMIT = 20
#: How many characters of a diff a log shows.
LOG_DIFF_CHARS = 20_000


def cap_list(items: Iterable[Any], limit: int = LOG_LIST_LIMIT) -> str:
    """A user-sized list for a log line: the first ``limit`` items (as ``repr``, like a Python list) and how
    many were left out. Each item is shortened too (:func:`preview`): one item can be huge as well."""
    values = list(items)
    shown = ", ".join(preview(v, 64) for v in values[:limit])
    if len(values) > limit:
        shown += f", … (+{len(values) - limit:,} more, {len(values):,} in all)"
    return f"[{shown}]"


def truncate_text(text: str, limit: int = LOG_DIFF_CHARS) -> str:
    """``text`` cut to ``limit`` characters with a note saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit:,} more characters not shown)"


def preview(value: Any, limit: int = 80) -> str:
    """``repr(value)`` shortened for an error message (a hostile value can be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"
