"""The doris task bodies: one Param table, read one way; the migrator's public surface for the reconciler."""

from __future__ import annotations

import pytest

from commodity_platform.doris.migration_files import SchemaSettings
from commodity_platform.doris.params import PLACEHOLDER_PARAMS, SCHEMA_MIGRATE_PARAMS
from commodity_platform.params import defaults


def test_a_misspelt_param_fails_the_plan_task_without_retry() -> None:
    """A conf key that is no Param (``replication`` for ``replication_num``) was silently ignored before."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.doris.tasks import plan_task

    with pytest.raises(AirflowFailException, match=r"unknown Param\(s\) \['replication'\]"):
        plan_task({"replication": 1})


def test_placeholder_defaults_are_the_param_defaults() -> None:
    table = defaults(SCHEMA_MIGRATE_PARAMS)
    settings = SchemaSettings()
    assert {name: getattr(settings, name) for name in PLACEHOLDER_PARAMS} == {n: table[n] for n in PLACEHOLDER_PARAMS}
    assert SchemaSettings.from_params({**table, "replication_num": 1}, database="db").replication_num == 1


def test_the_reconciler_uses_only_public_methods_of_the_migrator() -> None:
    import ast
    import inspect

    from commodity_platform.doris import routine_load

    tree = ast.parse(inspect.getsource(routine_load))
    private = sorted({node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                      and isinstance(node.value, ast.Attribute) and node.value.attr == "migrator"
                      and node.attr.startswith("_")})
    assert private == []
