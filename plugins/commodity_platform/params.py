"""One Param table per DAG: the single statement of each setting's default, schema, title and description.

A DAG file builds its ``params=`` from the table (:func:`dag_params`), and the task code fills a run's
values from the same table (:func:`resolve_params`), so a default is written once, in one unit, and the
form in the UI, the validation in the task and the settings objects cannot disagree.

Each subpackage that owns a DAG keeps its table next to its settings (``<area>/params.py``); this module
holds only the mechanism, and it is cheap to import (DAG files import it at parse time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commodity_platform.errors import ConfigError


@dataclass(frozen=True)
class ParamSpec:
    """One DAG Param: its default, JSON schema (``type``, ``minimum``, ``pattern``...), title and description.

    The description's example must match what the UI form widget expects (e.g. one code per line for an
    array of strings, which the form renders as a textarea).
    """

    default: Any
    title: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=dict)

    def param(self) -> Any:
        from airflow.sdk import Param

        return Param(self.default, title=self.title, description=self.description, **dict(self.schema))


ParamTable = Mapping[str, ParamSpec]


def dag_params(table: ParamTable) -> dict[str, Any]:
    """The ``params=`` argument of a DAG built from its table."""
    return {name: spec.param() for name, spec in table.items()}


def defaults(table: ParamTable) -> dict[str, Any]:
    """Every Param's default, by name (what a run without conf gets)."""
    return {name: spec.default for name, spec in table.items()}


def resolve_params(table: ParamTable, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A run's Params: the table's defaults overlaid with ``given`` (``context["params"]`` or a conf dict).

    Names the table does not define are refused by name: a typo in a trigger conf must not be ignored.
    """
    given = dict(given or {})
    unknown = sorted(set(given) - set(table))
    if unknown:
        raise ConfigError(f"unknown Param(s) {unknown}; this DAG accepts {sorted(table)}")
    return {**defaults(table), **given}
