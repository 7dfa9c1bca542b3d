"""Every Param of every DAG is usable from the Airflow 3 trigger form: a title, and help that matches its widget.

Which widget a Param gets is decided by the UI's FlexibleForm (Airflow 3.3.2,
``airflow/ui/dist/assets/index-*.js``, the field selector ``mFt``/``Y2``/``hFt``/``CFt``/``TFt``):

* the field type is the first non-``null`` entry of ``type`` (a list of several non-null types gets a
  generic field);
* ``array`` with ``examples`` or ``enum`` -> a multi-select;
* ``array`` whose ``items.type`` is absent or ``string`` -> a textarea whose value is ``split`` on new lines
  (placeholder ``flexibleForm.placeholderArray`` = "Enter each string on a new line"), the same idea as
  Airflow's own ``example_params_trigger_ui.py`` ("Please have one name per line");
* any other ``array`` and every ``object`` -> a JSON editor.

So help for a list of strings must say "one per line" and must not show a JSON list (typing
``["WTI", "BRENT"]`` there yields the single code ``["WTI", "BRENT"]``), and a JSON example for an object
must be valid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

EXPECTED_DAGS = {"doris_schema_migrate", "kafka_connect_register", "ohlc_backfill", "streaming_data_quality",
                 "streaming_platform_deploy"}
_JSON_LIST = re.compile(r"\[\s*[\"'\\]")
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")


def form_widget(schema: dict[str, Any]) -> str:
    """The trigger-form widget Airflow 3.3's FlexibleForm renders for a Param's JSON schema."""
    declared = schema.get("type")
    types = declared if isinstance(declared, list) else [declared]
    non_null = [t for t in types if t not in (None, "null")]
    if len(non_null) > 1 and "enum" not in schema and "examples" not in schema:
        return "generic"
    kind = non_null[0] if non_null else "string"
    if kind == "array":
        if isinstance(schema.get("examples"), list) or isinstance(schema.get("enum"), list):
            return "multi-select"
        if (schema.get("items") or {}).get("type") in (None, "string"):
            return "lines"
        return "json"
    if kind == "object":
        return "json"
    return kind


def all_params(dagbag) -> list[tuple[str, str, Any]]:
    found = []
    for dag_id, dag in sorted(dagbag.dags.items()):
        for name in dag.params:
            found.append((dag_id, name, dag.params.get_param(name)))
    return found


def test_every_dag_is_loaded(dagbag) -> None:
    assert not dagbag.import_errors, dagbag.import_errors
    assert set(dagbag.dags) >= EXPECTED_DAGS


def test_every_param_has_a_title_and_a_description(dagbag) -> None:
    missing = [f"{dag_id}.{name}: title={param.schema.get('title')!r} description={param.description!r}"
               for dag_id, name, param in all_params(dagbag)
               if not str(param.schema.get("title") or "").strip() or not str(param.description or "").strip()]
    assert len(all_params(dagbag)) >= 30
    assert not missing, "Params without a title or description:\n" + "\n".join(missing)


def test_list_of_strings_help_says_one_per_line_and_shows_no_json_list(dagbag) -> None:
    textareas = [(dag_id, name, param) for dag_id, name, param in all_params(dagbag)
                 if form_widget(param.schema) == "lines"]
    # ohlc_backfill/streaming_data_quality commodity_codes, kafka_connect_register connectors
    assert {(d, n) for d, n, _ in textareas} >= {("ohlc_backfill", "commodity_codes"),
                                                 ("streaming_data_quality", "commodity_codes"),
                                                 ("kafka_connect_register", "connectors")}
    wrong = [f"{dag_id}.{name}: {param.description!r}" for dag_id, name, param in textareas
             if _JSON_LIST.search(param.description or "") or "per line" not in (param.description or "")]
    assert not wrong, "a list-of-strings Param is a one-per-line textarea; its help must say so:\n" + "\n".join(wrong)


def test_json_examples_of_object_params_are_valid_json(dagbag) -> None:
    bad = []
    for dag_id, name, param in all_params(dagbag):
        if form_widget(param.schema) != "json":
            continue
        for example in _JSON_OBJECT.findall(param.description or ""):
            try:
                json.loads(example)
            except json.JSONDecodeError as err:
                bad.append(f"{dag_id}.{name}: {example!r}: {err}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(("schema", "widget"), [
    ({"type": ["null", "array"], "items": {"type": "string"}}, "lines"),
    ({"type": "array"}, "lines"),
    ({"type": "array", "items": {"type": "string", "enum": ["a"]}, "examples": ["a"]}, "multi-select"),
    ({"type": "array", "items": {"type": "number"}}, "json"),
    ({"type": "object"}, "json"),
    ({"type": ["null", "string"]}, "string"),
    ({"type": ["integer", "string"]}, "generic"),
])
def test_form_widget_follows_the_ui_selector(schema: dict[str, Any], widget: str) -> None:
    assert form_widget(schema) == widget
