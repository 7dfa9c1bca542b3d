"""Every component agrees with the topic contract (include/contracts/topics.yaml).

Each side is read from its own source of truth, as production uses it:

* Kafka Connect: the key/value converters (and converter options, and the transform a read-only format needs)
  of ``include/connectors/*.yaml``, for every topic a connector reads (``topics``) or writes (``kafka.topic``,
  Debezium ``<topic.prefix>.<table>`` and heartbeats, dead-letter queue, Iceberg control, schema history);
* Flink: the ``CREATE TABLE`` statements ``commodity_flink.jobs`` renders for production from each
  FlinkDeployment's container environment (``'format'``, ``'key.format'``, ``'value.format'``, ``'topic'``);
* Doris: ``"format"`` and ``"kafka_topic"`` of the routine loads in ``include/sql/migrations/R__*.sql``;
* Kubernetes: the KafkaTopic manifests of the kafka and kafka-connect deploy phases.

A component whose format differs from the contract fails here, before a sink dead-letters every record.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME
from commodity_platform.paths import CONNECTORS_DIR, INCLUDE_DIR, SQL_DIR
from tests.deploy.test_kafka_topics import DEBEZIUM_HEARTBEAT_PREFIX, declared_topics

CONTRACT_PATH = INCLUDE_DIR / "contracts" / "topics.yaml"
FLINK_DIR = INCLUDE_DIR / "flink"
ROUTINE_LOADS = sorted(Path(SQL_DIR, "migrations").glob("R__routine_load_*.sql"))
#: Connect's JsonConverter embeds/expects a schema envelope unless told otherwise (JsonConverterConfig default).
JSON_CONVERTER_DEFAULTS = {"schemas.enable": "true"}


def load_contract() -> dict[str, Any]:
    return yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))


def load_specs() -> dict[str, dict[str, Any]]:
    """Connector name -> its config, values as Connect stores them (strings, lists joined by ",")."""
    specs = {}
    for path in sorted(CONNECTORS_DIR.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        specs[spec["name"]] = {key: _connect_string(value) for key, value in spec["config"].items()}
    return specs


def _connect_string(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@dataclass(frozen=True)
class Use:
    """One component reading or writing one topic, with the format settings it uses for the key and value."""

    component: str  # "connector:<name>", "flink:<job>", "routine-load:<job>"
    topic: str
    role: str  # "producer" | "consumer"
    key: dict[str, str] | None  # component-specific settings; None: the component ignores the key
    value: dict[str, str]
    source: str  # file the settings come from, for the failure message
    config: dict[str, str] | None = None  # a connector's whole config (a format may require other settings)


# ------------------------------------------------------------------------------------------------- connectors


def _converter(config: dict[str, str], side: str) -> dict[str, str]:
    """``{"converter": class, <option>: value...}`` of the key or value converter of a connector config."""
    prefix = f"{side}.converter"
    settings = {"converter": config.get(prefix, "<worker default>")}
    settings.update({k.removeprefix(prefix + "."): v for k, v in config.items() if k.startswith(prefix + ".")})
    settings["transforms"] = ",".join(
        config.get(f"transforms.{alias}.type", "") for alias in _split(config.get("transforms", ""))
    )
    return settings


def connector_uses(specs: dict[str, dict[str, str]] | None = None) -> list[Use]:
    uses: list[Use] = []
    for name, config in (load_specs() if specs is None else specs).items():
        component, source = f"connector:{name}", f"include/connectors/{name}.yaml"
        key, value = _converter(config, "key"), _converter(config, "value")

        def use(topic: str, role: str, key: dict[str, str] | None = key, value: dict[str, str] = value) -> None:
            uses.append(Use(component, topic, role, key, value, source, config))  # noqa: B023 - used right away

        for topic in _split(config.get("topics", "")):
            use(topic, "consumer")
        if "kafka.topic" in config:
            use(config["kafka.topic"], "producer")
        if "topic.prefix" in config:  # Debezium: one change topic per table, plus heartbeats
            prefix = config["topic.prefix"]
            for table in _split(config["table.include.list"]):
                use(f"{prefix}.{table}", "producer")
            if int(config.get("heartbeat.interval.ms", "0")) > 0:
                use(f"{config.get('heartbeat.topics.prefix', DEBEZIUM_HEARTBEAT_PREFIX)}.{prefix}", "producer")
        internal = {"converter": "<internal>"}
        if "errors.deadletterqueue.topic.name" in config:
            as_consumed = {"converter": "<as consumed>"}
            use(config["errors.deadletterqueue.topic.name"], "producer", as_consumed, as_consumed)
        for option in ("iceberg.control.topic", "schema.history.internal.kafka.topic"):
            if option in config:
                use(config[option], "producer", internal, internal)
                use(config[option], "consumer", internal, internal)
    return uses


def connector_settings_match(
    settings: dict[str, str], fmt: dict[str, Any], role: str, config: dict[str, str] | None = None
) -> bool:
    """Whether a connector's converter settings are one of the ways the contract allows for ``fmt``."""
    for allowed in fmt.get("connect", []):
        if allowed.get("read_only" if role == "producer" else "write_only"):
            continue
        if any((config or {}).get(k) != v for k, v in allowed.get("requires_config", {}).items()):
            continue
        if settings["converter"] != allowed["converter"]:
            continue
        defaults = JSON_CONVERTER_DEFAULTS if allowed["converter"].endswith(".JsonConverter") else {}
        options_ok = all(
            settings.get(option, defaults.get(option)) == str(expected)
            for option, expected in allowed.get("options", {}).items()
        )
        transform = allowed.get("requires_transform")
        if options_ok and (transform is None or transform in _split(settings["transforms"])):
            return True
    return False


# ------------------------------------------------------------------------------------------------------ Flink

_OPTION = re.compile(r"'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'")
_TABLE = re.compile(r"CREATE TEMPORARY TABLE `([^`]+)`")


def ddl_options(ddl: str) -> tuple[str, dict[str, str]]:
    """Table name and WITH options of a ``CREATE TEMPORARY TABLE`` rendered by commodity_flink.connectors."""
    table = _TABLE.search(ddl)
    assert table, f"not a CREATE TEMPORARY TABLE statement: {ddl[:80]}"
    with_clause = ddl[ddl.rindex(") WITH (") :]
    options = {k.replace("''", "'"): v.replace("''", "'") for k, v in _OPTION.findall(with_clause)}
    return table.group(1), options


def flink_production_ddl() -> Iterator[tuple[str, str, str]]:
    """(job name, sink table, DDL) of every production table, as each FlinkDeployment's job renders it."""
    sys.path.insert(0, str(FLINK_DIR))
    try:
        from commodity_flink.connectors import ProductionSettings
        from commodity_flink.jobs import get_job
    finally:
        sys.path.remove(str(FLINK_DIR))
    deployments = [
        m
        for plan in plan_phase(PHASES_BY_NAME["flink-apps"], PhaseOptions())
        for m in plan.manifests
        if m.kind == "FlinkDeployment"
    ]
    assert deployments, "no FlinkDeployment in the flink-apps phase"
    for manifest in deployments:
        (container,) = manifest.body["spec"]["podTemplate"]["spec"]["containers"]
        # Values from Secrets are not in the manifest; a placeholder stands in (they never affect formats).
        env = {e["name"]: e.get("value", f"<from {e['name']} secret>") for e in container["env"]}
        script = manifest.body["spec"]["job"]["args"][manifest.body["spec"]["job"]["args"].index("-py") + 1]
        job = get_job(Path(script).stem)
        for ddl in job.production_tables(ProductionSettings.from_env(env)):
            if ddl.lstrip().startswith("CREATE TEMPORARY VIEW"):
                continue  # a view over a source table (raw_ticks over the API items): no connector of its own
            yield job.name, job.sink_table, ddl


def _flink_format(options: dict[str, str], side: str) -> dict[str, str] | None:
    if side == "key":
        return {"format": options["key.format"]} if "key.format" in options else None
    return {"format": options.get("value.format", options.get("format", "<none>"))}


def flink_uses() -> list[Use]:
    uses = []
    for job, sink_table, ddl in flink_production_ddl():
        table, options = ddl_options(ddl)
        if options.get("connector") not in ("kafka", "upsert-kafka"):
            continue
        role = "producer" if table == sink_table else "consumer"
        uses.append(
            Use(
                f"flink:{job}",
                options["topic"],
                role,
                _flink_format(options, "key"),
                _flink_format(options, "value"),  # type: ignore[arg-type]
                f"commodity_flink table {table}",
            )
        )
    return uses


# ------------------------------------------------------------------------------------------------ Doris loads


def _property(sql: str, name: str, path: Path) -> str:
    found = re.findall(rf'"{re.escape(name)}"\s*=\s*"((?:[^"\\]|\\.)*)"', sql)  # a string with \" escapes
    assert len(found) == 1, f"{path.name}: expected one \"{name}\" property, found {found}"
    return found[0]


# -------------------------------------------------------------------------------------------- Doris loaders
# Two components load Kafka topics into Doris: the Routine Loads (include/sql/migrations/R__*.sql, one table per
# job: CREATE ROUTINE LOAD <db>.<job> ON <table>) and the Doris Kafka connector (apache/doris-kafka-connector):
# it stream-loads each topic of ``topics`` into ``doris.topic2table.map``'s table, or into the table named like
# the topic when the map has no entry (DorisOptions.getTopicMapTable: "use the topic [..] as table").

DORIS_SINK_CLASS = "org.apache.doris.kafka.connector.DorisSinkConnector"


@dataclass(frozen=True)
class DorisLoader:
    """One component loading one topic into one Doris table."""

    component: str  # "routine-load:<job>" | "connector:<name>"
    topic: str
    table: str
    source: str  # file that defines it, for messages


def doris_sink_mappings(specs: dict[str, dict[str, str]] | None = None) -> list[DorisLoader]:
    """Topic -> table of every Doris Kafka connector spec, as the connector resolves it."""
    loaders = []
    for name, config in (load_specs() if specs is None else specs).items():
        if config.get("connector.class") != DORIS_SINK_CLASS:
            continue
        source = f"include/connectors/{name}.yaml"
        mapping = dict(pair.split(":", 1) for pair in _split(config.get("doris.topic2table.map", "")))
        topics = _split(config["topics"])
        unread = sorted(set(mapping) - set(topics))
        assert not unread, f"{source}: doris.topic2table.map maps {unread}, which are not in its topics"
        loaders += [DorisLoader(f"connector:{name}", t, mapping.get(t, t), source) for t in topics]
    return loaders


_ROUTINE_LOAD_HEAD = re.compile(r"CREATE ROUTINE LOAD\s+\S+?\.(?P<job>\w+)\s+ON\s+`?(?P<table>\w+)`?")


def _routine_load_files(paths: list[Path]) -> list[tuple[Path, str, re.Match[str]]]:
    """Each R__ file with its text and its ``CREATE ROUTINE LOAD <db>.<job> ON <table>``."""
    found = []
    for path in paths:
        sql = path.read_text(encoding="utf-8")
        head = _ROUTINE_LOAD_HEAD.search(sql)
        assert head, f"{path.name}: no CREATE ROUTINE LOAD <db>.<job> ON <table>"
        found.append((path, sql, head))
    return found


def routine_load_targets(paths: list[Path] = ROUTINE_LOADS) -> list[DorisLoader]:
    return [DorisLoader(f"routine-load:{head['job']}", _property(sql, "kafka_topic", path), head["table"],
                        f"include/sql/migrations/{path.name}")
            for path, sql, head in _routine_load_files(paths)]


def doris_tables_loaded_twice(loaders: list[DorisLoader]) -> list[str]:
    """One message per Doris table that more than one loader writes (every record would land twice)."""
    by_table: dict[str, list[DorisLoader]] = {}
    for loader in loaders:
        by_table.setdefault(loader.table, []).append(loader)
    return [
        f"Doris table {table} has {len(found)} loaders: "
        + "; ".join(f"{x.component} from {x.topic} ({x.source})" for x in found)
        for table, found in sorted(by_table.items())
        if len(found) > 1
    ]


def doris_stream_load_needs(table: str) -> set[str]:
    """The JSON keys a record needs for the Doris Kafka connector to load it into ``table``.

    The connector hands a schemaless JSON value (a Map from JsonConverter) to Doris unchanged
    (RecordService.processMapRecord: Jackson writeValueAsString), and stream load with format json and no
    jsonpaths looks each table column up by name in the object: a missing key becomes the column's default or
    NULL when the column is nullable, and a NOT NULL column without one filters the row ("The column `x` is
    not nullable, but it's not found in jsondata.", apache/doris be/src/vec/exec/format/json/new_json_reader.cpp
    _fill_missing_column); keys that are no column are ignored. So the needs are the NOT NULL columns
    without a DEFAULT.
    """
    from tests.doris.test_migration_files import TABLES, columns, is_nullable_or_defaulted

    assert table in TABLES, f"Doris table {table!r} is created by no migration in include/sql/migrations"
    return {name for name, column in columns(table).items() if not is_nullable_or_defaulted(column)}


def routine_load_uses(paths: list[Path] = ROUTINE_LOADS) -> list[Use]:
    uses = []
    for path, sql, head in _routine_load_files(paths):
        # Routine Load's "format" defaults to csv when absent (CREATE ROUTINE LOAD reference).
        fmt = re.findall(r'"format"\s*=\s*"([^"]*)"', sql) or ["csv"]
        uses.append(
            Use(
                f"routine-load:{head['job']}",
                _property(sql, "kafka_topic", path),
                "consumer",
                None,
                {"format": fmt[0]},
                f"include/sql/migrations/{path.name}",
            )
        )
    return uses


# ----------------------------------------------------------------------------------------------------- checks


def format_mismatches(uses: list[Use], contract: dict[str, Any]) -> list[str]:
    """Human-readable list of every use whose format settings disagree with the contract."""
    formats, topics = contract["formats"], contract["topics"]
    problems = []
    for use in uses:
        entry = topics.get(use.topic)
        if entry is None:
            problems.append(f"{use.source}: topic {use.topic!r} is not in the topic contract")
            continue
        for side, settings in (("key", use.key), ("value", use.value)):
            if settings is None:
                continue
            expected = entry[side]
            fmt = formats[expected]
            if use.component.startswith("connector:"):
                if expected in ("internal", "as-consumed"):
                    ok = settings["converter"] == {"internal": "<internal>", "as-consumed": "<as consumed>"}[expected]
                else:
                    ok = connector_settings_match(settings, fmt, use.role, use.config)
                shown = {k: v for k, v in settings.items() if k != "transforms" or v}
            else:
                tool = "flink" if use.component.startswith("flink:") else "routine_load"
                ok = fmt.get(tool) == settings["format"]
                shown = settings
            if not ok:
                problems.append(
                    f"{use.source}: {use.component} {'writes' if use.role == 'producer' else 'reads'} "
                    f"{use.topic} {side} with {shown}, the contract says {expected!r} ({fmt['description']})"
                )
    return problems


def all_uses() -> list[Use]:
    return [*connector_uses(), *flink_uses(), *routine_load_uses()]


def test_contract_is_well_formed() -> None:
    contract = load_contract()
    for topic, entry in contract["topics"].items():
        assert entry["key"] in contract["formats"], (topic, entry["key"])
        assert entry["value"] in contract["formats"], (topic, entry["value"])
        assert isinstance(entry["producers"], list) and isinstance(entry["consumers"], list), topic
        assert entry["producers"], f"{topic}: nobody writes it"


def test_each_source_of_uses_is_read() -> None:
    # One witness per source, so a collector that silently finds nothing fails here.
    uses = all_uses()
    witnesses = {(u.component, u.topic, u.role) for u in uses}
    assert ("connector:cp-sink-jdbc-operational", "market-alerts", "consumer") in witnesses
    assert ("connector:cp-source-postgres-cdc", "cdc.postgres.public.trading_calendar", "producer") in witnesses
    assert ("flink:data_enricher", "commodity-metadata", "consumer") in witnesses
    assert ("flink:anomaly_detector", "market-alerts", "producer") in witnesses
    assert ("routine-load:rl_weather_events_rt", "weather-events", "consumer") in witnesses
    assert len(ROUTINE_LOADS) == 3


@pytest.mark.parametrize("collect", [connector_uses, flink_uses, routine_load_uses], ids=lambda f: f.__name__)
def test_formats_agree_with_the_contract(collect: Any) -> None:
    problems = format_mismatches(collect(), load_contract())
    assert not problems, "\n".join(problems)


def test_every_reader_and_writer_is_in_the_contract_and_vice_versa() -> None:
    topics = load_contract()["topics"]
    actual = {(u.topic, u.role, u.component) for u in all_uses()}
    declared = {
        (topic, role, component)
        for topic, entry in topics.items()
        for role, components in (("producer", entry["producers"]), ("consumer", entry["consumers"]))
        for component in components
        if component.split(":")[0] in ("connector", "flink", "routine-load")
    }
    assert sorted(actual - declared) == [], "used but not declared in include/contracts/topics.yaml"
    assert sorted(declared - actual) == [], "declared in the contract but the component does not use the topic"


def test_every_contract_topic_has_a_kafkatopic_and_vice_versa() -> None:
    contract_topics = set(load_contract()["topics"])
    manifests = set(declared_topics())
    assert sorted(contract_topics - manifests) == [], "no KafkaTopic manifest for these contract topics"
    assert sorted(manifests - contract_topics) == [], "KafkaTopic manifests missing from the topic contract"


def test_dead_letter_topics_hold_one_format() -> None:
    """A DLQ keeps the consumed bytes, so the topics one sink reads must share a format to be replayable."""
    contract, specs = load_contract(), load_specs()
    dlqs = {topic: entry for topic, entry in contract["topics"].items() if entry.get("dead_letters_of")}
    assert dlqs, "no dead-letter topic in the contract"
    for topic, entry in dlqs.items():
        assert (entry["key"], entry["value"]) == ("as-consumed", "as-consumed"), topic
        connector = entry["dead_letters_of"].removeprefix("connector:")
        config = specs[connector]
        assert config["errors.deadletterqueue.topic.name"] == topic
        sources = _split(config["topics"])
        assert len({(contract["topics"][t]["key"], contract["topics"][t]["value"]) for t in sources}) == 1, (
            f"{connector} reads topics of different formats {sources}: its DLQ {topic} would mix them"
        )


def test_jdbc_sink_schema_matches_the_alert_columns() -> None:
    """The FromJson schema the JDBC sink applies is the anomaly detector's output, column for column."""
    sys.path.insert(0, str(FLINK_DIR))
    try:
        from commodity_flink.schema import ALERT_COLUMNS
    finally:
        sys.path.remove(str(FLINK_DIR))
    schema = json.loads(load_specs()["cp-sink-jdbc-operational"]["transforms.fromJson.json.schema.inline"])
    assert list(schema["properties"]) == [c.name for c in ALERT_COLUMNS]
    numeric = {c.name for c in ALERT_COLUMNS if c.sql_type.startswith("DECIMAL")}
    assert {n for n, p in schema["properties"].items() if p["type"] == "number"} == numeric


def test_every_doris_table_has_exactly_one_loader() -> None:
    """A table fed by a Routine Load and by the Doris sink from the same topic gets every record twice."""
    loaders = [*routine_load_targets(), *doris_sink_mappings()]
    assert {loader.component.split(":")[0] for loader in loaders} == {"routine-load", "connector"}, loaders
    problems = doris_tables_loaded_twice(loaders)
    assert not problems, "\n".join(problems)


def test_a_table_mapped_by_the_sink_and_a_routine_load_is_refused() -> None:
    specs = load_specs()
    sink = specs["cp-sink-doris-realtime"]
    sink["topics"] += ",market-alerts"
    sink["doris.topic2table.map"] += ",market-alerts:market_alerts"
    (problem,) = doris_tables_loaded_twice([*routine_load_targets(), *doris_sink_mappings(specs)])
    assert problem.startswith("Doris table market_alerts has 2 loaders: routine-load:rl_market_alerts"), problem


def test_the_doris_sink_field_needs_are_the_not_null_columns() -> None:
    assert doris_stream_load_needs("weather_events_rt") == {"event_time"}
    assert doris_stream_load_needs("price_1min_agg") == {
        "commodity_code", "bar_start", "open_price", "high_price", "low_price", "close_price", "volume",
        "tick_count",
    }
    # The check a sink mapping gets in test_readers_pick_fields_the_writers_write: raw NOAA CDO items (what
    # cp-source-noaa-weather writes) have no event_time, so the sink would filter every one of them.
    written = producer_fields()["weather-events"]["connector:cp-source-noaa-weather"]
    assert sorted(doris_stream_load_needs("weather_events_rt") - written) == ["event_time"]


def test_a_converter_left_to_the_worker_default_is_refused() -> None:
    """The workers default to AvroConverter (03-kafka-connect/30-kafka-connect.yaml): a spec must say what it uses."""
    specs = load_specs()
    specs["cp-sink-doris-realtime"] = {
        k: v for k, v in specs["cp-sink-doris-realtime"].items() if not k.startswith("value.converter")
    }
    problems = format_mismatches(
        [u for u in connector_uses(specs) if u.component == "connector:cp-sink-doris-realtime"], load_contract()
    )
    assert any("<worker default>" in p and "trading-signals value" in p for p in problems), problems


def test_json_converter_without_schemas_enable_false_is_refused() -> None:
    specs = load_specs()
    del specs["cp-sink-s3-archive"]["value.converter.schemas.enable"]
    problems = format_mismatches(
        [u for u in connector_uses(specs) if u.component == "connector:cp-sink-s3-archive"], load_contract()
    )
    assert len(problems) == 4 and all("JsonConverter" in p for p in problems), problems


def test_routine_load_in_csv_is_refused(tmp_path: Path) -> None:
    source = ROUTINE_LOADS[0].read_text(encoding="utf-8")
    csv = tmp_path / ROUTINE_LOADS[0].name
    csv.write_text(re.sub(r'\s*"format"\s*=\s*"json",', "", source), encoding="utf-8")
    (problem,) = format_mismatches(routine_load_uses([csv]), load_contract())
    assert "{'format': 'csv'}" in problem and "the contract says 'json'" in problem


# ------------------------------------------------------------------------------------------- record fields
# Beyond the format: the JSON fields a reader picks out must be fields its topic's writers put in.

CASTORM_SCHEMED_MAPPER = "com.github.castorm.kafka.connect.http.record.SchemedKvSourceRecordMapper"  # the default
CASTORM_SCHEMED_FIELDS = ("key", "value", "timestamp")  # castorm v0.8.11 SchemedKvSourceRecordMapper value Struct


INSERT_HEADER = "org.apache.kafka.connect.transforms.InsertHeader"
#: Flink Kafka connector metadata key of the record headers (flink-connector-kafka docs, "Available Metadata").
FLINK_HEADERS_METADATA = "headers"


def _ddl_columns(ddl: str) -> list[str]:
    """The physical columns of a rendered table: the JSON fields its format reads or writes.

    Computed columns (`` `name` AS expr``) and metadata columns (``... METADATA``) are not in the value.
    """
    body = ddl[: ddl.rindex(") WITH (")]
    return [
        name
        for name, rest in re.findall(r"^\s*`([^`]+)` (.*)$", body, flags=re.MULTILINE)
        if not rest.startswith("AS ") and " METADATA" not in rest
    ]


def _reads_headers(ddl: str) -> bool:
    body = ddl[: ddl.rindex(") WITH (")]
    return re.search(rf"^\s*`{FLINK_HEADERS_METADATA}` MAP<STRING, BYTES> METADATA", body, re.MULTILINE) is not None


def inserted_headers(config: dict[str, str]) -> dict[str, str]:
    """Header name -> literal of every InsertHeader transform of a connector config."""
    return {
        config[f"transforms.{alias}.header"]: config[f"transforms.{alias}.value.literal"]
        for alias in _split(config.get("transforms", ""))
        if config[f"transforms.{alias}.type"] == INSERT_HEADER
    }


def producer_sources() -> dict[str, str]:
    """producer -> the value of the ``source`` header its records carry (connectors with InsertHeader)."""
    return {
        f"connector:{name}": headers["source"]
        for name, config in load_specs().items()
        if "source" in (headers := inserted_headers(config))
    }


def producer_fields() -> dict[str, dict[str, set[str]]]:
    """topic -> producer -> the top-level JSON fields of the values it writes (where the repo defines them),
    plus ``header:<name>`` for each Kafka header it adds."""
    fields: dict[str, dict[str, set[str]]] = {}
    for job, sink_table, ddl in flink_production_ddl():
        table, options = ddl_options(ddl)
        if table == sink_table and options.get("connector") in ("kafka", "upsert-kafka"):
            assert options.get("value.fields-include", "ALL") == "ALL"
            fields.setdefault(options["topic"], {})[f"flink:{job}"] = set(_ddl_columns(ddl))
    topics = load_contract()["topics"]
    for name, config in load_specs().items():
        if "kafka.topic" not in config:
            continue
        topic, producer = config["kafka.topic"], f"connector:{name}"
        mapper = config.get("http.response.record.mapper", CASTORM_SCHEMED_MAPPER)
        if mapper == CASTORM_SCHEMED_MAPPER:
            written = set(CASTORM_SCHEMED_FIELDS)
        else:  # StringKvSourceRecordMapper: the API item itself, whose fields the contract lists from the API docs
            written = set(topics[topic]["value_fields"][producer])
        for alias in _split(config.get("transforms", "")):
            if config[f"transforms.{alias}.type"] == "org.apache.kafka.connect.transforms.InsertField$Value":
                written |= {config[k] for k in config if k.startswith(f"transforms.{alias}.") and k.endswith(".field")}
        written |= {f"header:{name}" for name in inserted_headers(config)}
        fields.setdefault(topic, {})[producer] = written
    return fields


#: Key of ``consumer_fields`` needs that apply to the records of every writer.
ANY_WRITER = "*"


def _api_item_needs(ddl: str) -> dict[str, set[str]]:
    """Per feed (``source`` header value), what the production item -> tick mapping reads of its records."""
    sys.path.insert(0, str(FLINK_DIR))
    try:
        from commodity_flink.api_items import FEEDS
    finally:
        sys.path.remove(str(FLINK_DIR))
    needs = {feed.source: {*feed.item_fields, *(f"header:{h}" for h in feed.headers)} for feed in FEEDS}
    declared = set(_ddl_columns(ddl))
    assert declared == set().union(*(feed.item_fields for feed in FEEDS)), (
        f"the items table declares {sorted(declared)}, the feed mappings read other fields"
    )
    return needs


def consumer_fields() -> list[tuple[str, str, dict[str, set[str]]]]:
    """(topic, consumer, needs): what a reader picks out of a topic's records, per writer.

    ``needs`` maps ``ANY_WRITER`` (routine-load jsonpaths, Flink Kafka source columns) or, for the Flink
    table over the API items, each feed's ``source`` header value to the fields (and ``header:<name>``s)
    read from that writer's records.
    """
    needs = []
    for path in ROUTINE_LOADS:
        sql = path.read_text(encoding="utf-8")
        (job,) = re.findall(r"CREATE ROUTINE LOAD\s+\S+?\.(\w+)", sql)
        paths = json.loads(_property(sql, "jsonpaths", path).replace('\\"', '"'))
        assert all(p.startswith("$.") and p.count(".") == 1 for p in paths), (path.name, paths)
        needs.append((_property(sql, "kafka_topic", path), f"routine-load:{job}", {ANY_WRITER: {p[2:] for p in paths}}))
    for job, sink_table, ddl in flink_production_ddl():
        table, options = ddl_options(ddl)
        if table != sink_table and options.get("connector") in ("kafka", "upsert-kafka"):
            read = _api_item_needs(ddl) if _reads_headers(ddl) else {ANY_WRITER: set(_ddl_columns(ddl))}
            needs.append((options["topic"], f"flink:{job}", read))
    for mapping in doris_sink_mappings():
        needs.append((mapping.topic, mapping.component, {ANY_WRITER: doris_stream_load_needs(mapping.table)}))
    return needs


def _field_cases() -> list[Any]:
    return [
        pytest.param(topic, consumer, needs, id=f"{topic}<-{consumer}") for topic, consumer, needs in consumer_fields()
    ]


@pytest.mark.parametrize(("topic", "consumer", "needs"), _field_cases())
def test_readers_pick_fields_the_writers_write(topic: str, consumer: str, needs: dict[str, set[str]]) -> None:
    writers = producer_fields().get(topic, {})
    declared = load_contract()["topics"][topic]["producers"]
    assert declared, topic
    if not writers:
        assert all(p.startswith("external:") for p in declared), (topic, declared)
        return  # written outside this repository: nothing here defines its fields
    sources = producer_sources()
    for writer, written in writers.items():
        if ANY_WRITER in needs:
            needed = needs[ANY_WRITER]
        else:
            source = sources.get(writer)
            assert source in needs, (
                f"{consumer} maps the records of {sorted(needs)} only; {writer} writes source={source!r}"
            )
            needed = needs[source]
        missing = sorted(needed - written)
        assert not missing, f"{consumer} reads {missing} from {topic}; {writer} writes {sorted(written)}"


def test_a_string_value_without_castorms_string_mapper_is_refused() -> None:
    """StringConverter writes JSON only when castorm's StringKvSourceRecordMapper hands it the item's JSON text."""
    specs = load_specs()
    del specs["cp-source-noaa-weather"]["http.response.record.mapper"]  # back to the schemed (Struct) mapper
    (problem,) = format_mismatches(
        [u for u in connector_uses(specs) if u.component == "connector:cp-source-noaa-weather"], load_contract()
    )
    assert "writes weather-events value with {'converter': 'org.apache.kafka.connect.storage.StringConverter'" in (
        problem
    )
