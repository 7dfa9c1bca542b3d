"""A changed column mapping reaches a live Routine Load without losing or repeating a message (issue 12).

Doris 2.1's ALTER ROUTINE LOAD takes no load properties (COLUMNS, WHERE, ...): the reconciler recreates the
job under its name from the old job's Kafka progress (PAUSE, SHOW for the final progress, STOP, CREATE with
kafka_partitions/kafka_offsets). The fake FE (tests/doris/fake_doris.py) answers as Doris does where it bites:
ALTER with COLUMNS is a syntax error, a name is reusable only once its job is STOPPED/CANCELLED, and Progress
shows the last consumed offset, not the next one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from commodity_platform.doris.migration_files import MIGRATIONS_DIR, SchemaSettings, discover_migrations, prepare
from commodity_platform.doris.routine_load import (
    RoutineLoadDefinition,
    RoutineLoadReconciler,
    RoutineLoadReport,
    canonical_expressions,
    parse_load_properties,
    resume_offsets,
)
from commodity_platform.errors import ConfigError, PermanentError
from tests.doris.fake_doris import FakeDorisError, FakeDorisServer
from tests.doris.test_doris_paths import make, migrate_and_reconcile

WEATHER = "R__routine_load_weather_events_rt.sql"
DB = "commodity_realtime"


def reconcile(server: FakeDorisServer, migrations_dir: Path = MIGRATIONS_DIR) -> RoutineLoadReport:
    m = make(server, migrations_dir)
    plan = m.plan()
    return RoutineLoadReconciler(m).reconcile(plan.routine_loads, plan.applied)


def with_weather_mapping(tmp_path: Path, old: str, new: str) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    path = target / WEATHER
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return target


def show(server: FakeDorisServer, job: str) -> dict[str, str]:
    cur = server.connect().cursor()
    cur.execute(f"SHOW ALL ROUTINE LOAD FOR {DB}.{job}")
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchall()[-1], strict=True))


def assert_each_message_loaded_once(server: FakeDorisServer, table: str, topic: str) -> None:
    ranges = sorted((start, end) for _job, t, start, end in server.loaded_ranges[table] if t == topic)
    covered = [offset for start, end in ranges for offset in range(start, end)]
    assert covered == list(range(server.kafka_end_offsets[topic])), f"loaded offset ranges {ranges}"


def test_a_changed_column_mapping_recreates_the_job_from_where_it_stopped(tmp_path: Path) -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.produce("weather-events", 40)
    server.consume()                        # the job has loaded offsets 0..39
    server.produce("weather-events", 7)     # not consumed yet when the reconciler pauses the job
    old_job = server.routine_loads["rl_weather_events_rt"]

    changed = with_weather_mapping(tmp_path, "source = 'NOAA',", "source = 'NOAA_CDO',")
    report = reconcile(server, changed)
    server.produce("weather-events", 3)
    server.consume()

    live = show(server, "rl_weather_events_rt")
    assert "source='NOAA_CDO'" in json.loads(live["JobProperties"])["columnToColumnExpr"], "mapping not applied"
    assert live["State"] == "RUNNING"
    assert_each_message_loaded_once(server, "weather_events_rt", "weather-events")
    job_statements = [s for s in server.statements if "rl_weather_events_rt" in s and "SHOW" not in s]
    assert [s.split(" ROUTINE")[0] for s in job_statements[-3:]] == ["PAUSE", "STOP", "CREATE"]
    assert not [s for s in job_statements if s.startswith("ALTER")]
    create = job_statements[-1]
    # PAUSE consumed up to 47 (offsets 0..46); Progress showed 46; the new job starts at 47.
    assert 'FROM KAFKA ( "kafka_partitions" = "0", "kafka_offsets" = "47", "kafka_broker_list"' in create
    assert old_job["State"] == "STOPPED"
    (action,) = [a for a in report.actions if a.startswith("rl_weather_events_rt")]
    assert action.startswith("rl_weather_events_rt: recreated (columnToColumnExpr ")
    assert action.endswith("resuming at partition 0 offset 47")
    # Recorded: the next run leaves the new job alone.
    server.statements.clear()
    again = reconcile(server, changed)
    assert "rl_weather_events_rt: up to date (RUNNING)" in again.actions
    assert not [s for s in server.statements if not s.startswith(("SHOW", "USE", "SELECT"))]


def test_an_unchanged_mapping_is_still_altered_in_place(tmp_path: Path) -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    changed = with_weather_mapping(tmp_path, '"max_error_number" = "100"', '"max_error_number" = "200"')
    report = reconcile(server, changed)
    assert "rl_weather_events_rt: definition changed, paused/altered/resumed" in report.actions
    assert not [s for s in server.statements if s.startswith("STOP")]


def test_a_job_that_never_consumed_is_recreated_at_its_default_offsets(tmp_path: Path) -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    # Paused before its first schedule: Doris has no progress for it yet (a scheduled job shows at least
    # OFFSET_ZERO or the offset it resolved OFFSET_END to).
    server.routine_loads["rl_weather_events_rt"].update(State="PAUSED", progress={})
    changed = with_weather_mapping(tmp_path, "source = 'NOAA',", "source = 'NOAA_CDO',")
    reconcile(server, changed)
    create = [s for s in server.statements if s.startswith("CREATE ROUTINE LOAD")][-1]
    assert "kafka_partitions" not in create and '"property.kafka_default_offsets" = "OFFSET_END"' in create


def test_a_stopped_job_is_recreated_from_its_progress_not_from_offset_end() -> None:
    # Also what happens when a run failed between STOP and CREATE: the next run finds the job STOPPED.
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.produce("market-alerts", 12)
    server.consume()
    cur = server.connect().cursor()
    cur.execute(f"STOP ROUTINE LOAD FOR {DB}.rl_market_alerts")
    server.produce("market-alerts", 5)      # arrives while no job reads the topic

    report = reconcile(server)
    server.consume()
    assert_each_message_loaded_once(server, "market_alerts", "market-alerts")
    assert "rl_market_alerts: created (is STOPPED (terminal))" in report.actions
    assert '"kafka_offsets" = "12"' in [s for s in server.statements if s.startswith("CREATE ROUTINE LOAD")][-1]


def test_resume_offsets_read_progress_as_kafka_progress_shows_it() -> None:
    job = {"Name": "rl", "Progress": json.dumps({"2": "OFFSET_END", "0": "OFFSET_ZERO", "1": "41",
                                                 "3": "OFFSET_BEGINNING"})}
    assert resume_offsets(job) == {0: "0", 1: "42", 2: "OFFSET_END", 3: "OFFSET_BEGINNING"}
    assert resume_offsets({"Name": "rl", "Progress": "{}"}) == {}
    with pytest.raises(PermanentError, match=r"rl: unreadable Progress"):
        resume_offsets({"Name": "rl", "Progress": "not json"})
    with pytest.raises(PermanentError, match=r"partition '0' has offset 'soon'"):
        resume_offsets({"Name": "rl", "Progress": '{"0": "soon"}'})


def test_load_properties_compare_as_doris_shows_them() -> None:
    ours = "cdo_date, station_id = cdo_station, t = CASE WHEN cdo_datatype IN ('TMAX', 'TMIN') THEN cdo_value END"
    doris = "cdo_date,station_id=`cdo_station`,t=CASE WHEN (`cdo_datatype` IN ('TMAX', 'TMIN')) THEN `cdo_value` END"
    assert canonical_expressions(ours) == canonical_expressions(doris)
    assert canonical_expressions("x = a - (b - c)") != canonical_expressions("x = a - b - c")  # precedence kept
    assert canonical_expressions("x = 'NOAA'") != canonical_expressions("x = 'noaa'")          # literals kept
    assert canonical_expressions("x = (") is None


def test_a_load_property_the_reconciler_cannot_compare_is_refused() -> None:
    props = parse_load_properties("COLUMNS(a, b = a + 1), WHERE a > 0, PARTITION(p1, p2)", where="R__x.sql")
    assert props == {"columnToColumnExpr": "a,b = a + 1", "whereExpr": "a > 0", "precedingFilter": "*",
                     "partitions": "p1,p2"}
    with pytest.raises(ConfigError, match=r"R__x\.sql: load property 'DELETE ON a = 1' is not one"):
        parse_load_properties("COLUMNS(a), DELETE ON a = 1", where="R__x.sql")


def test_load_properties_and_blocks_are_split_by_sqlglots_tokenizer(tmp_path: Path) -> None:
    """Commas and parentheses inside strings (an escaped backslash before the closing quote too), back-quoted
    names and comments do not split a clause or end a block: sqlglot's Doris tokenizer reads them."""
    clause = ("COLUMNS(a, b = concat(a, ','), c = 'x\\\\'), WHERE a <> 'p,q' -- was (a, b)\n"
              ", PARTITION(p1, `p,2`)")
    assert parse_load_properties(clause, where="R__x.sql") == {
        "columnToColumnExpr": "a,b = concat(a, ','),c = 'x\\\\'", "whereExpr": "a <> 'p,q'", "precedingFilter": "*",
        "partitions": "p1,p,2"}
    (tmp_path / "R__routine_load_t.sql").write_text(
        'CREATE ROUTINE LOAD ${database}.rl_t ON t PROPERTIES ("json_root" = "$.x\\\\", "format" = "json") '
        'FROM KAFKA ("kafka_topic" = "t", "property.group.id" = "g");\n')
    (file,) = discover_migrations(tmp_path)
    definition = RoutineLoadDefinition.from_migration(prepare(file, SchemaSettings()))
    assert definition.job_properties == {"json_root": "$.x\\\\", "format": "json"}
    assert definition.source_properties == {"kafka_topic": "t", "property.group.id": "g"}
    with pytest.raises(ConfigError, match=r"R__x\.sql: cannot read"):
        parse_load_properties("WHERE a = 'unterminated", where="R__x.sql")


# -- the fake FE refuses what Doris refuses (what a naive reconciler would run into) ----------------------


def test_fake_fe_refuses_columns_in_alter_routine_load() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    cur = server.connect().cursor()
    cur.execute(f"PAUSE ROUTINE LOAD FOR {DB}.rl_weather_events_rt")
    with pytest.raises(FakeDorisError, match=r"Syntax error"):
        cur.execute(f"ALTER ROUTINE LOAD FOR {DB}.rl_weather_events_rt COLUMNS(a, b) "
                    'PROPERTIES ("max_error_number" = "1")')
    with pytest.raises(FakeDorisError, match=r"format is invalid property"):
        cur.execute(f'ALTER ROUTINE LOAD FOR {DB}.rl_weather_events_rt PROPERTIES ("format" = "csv")')


def test_fake_fe_refuses_a_name_whose_job_is_not_final() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    sql = server.routine_loads["rl_weather_events_rt"]["sql"]
    cur = server.connect().cursor()
    cur.execute(f"PAUSE ROUTINE LOAD FOR {DB}.rl_weather_events_rt")
    with pytest.raises(FakeDorisError, match=r"Name rl_weather_events_rt already used in db commodity_realtime"):
        cur.execute(sql)
    cur.execute(f"STOP ROUTINE LOAD FOR {DB}.rl_weather_events_rt")
    cur.execute(sql)  # the STOPPED job frees the name; SHOW ALL lists both
    cur.execute("USE commodity_realtime")
    cur.execute("SHOW ALL ROUTINE LOAD")
    states = [row[4] for row in cur.fetchall() if row[0] == "rl_weather_events_rt"]
    assert sorted(states) == ["NEED_SCHEDULE", "STOPPED"]


def test_fake_fe_shows_the_last_consumed_offset_so_reusing_it_loads_a_message_twice() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    server.produce("weather-events", 10)
    server.consume()
    assert json.loads(show(server, "rl_weather_events_rt")["Progress"]) == {"0": "9"}
    sql = server.routine_loads["rl_weather_events_rt"]["sql"]
    cur = server.connect().cursor()
    cur.execute(f"STOP ROUTINE LOAD FOR {DB}.rl_weather_events_rt")
    cur.execute(sql.replace('FROM KAFKA (', 'FROM KAFKA ("kafka_partitions" = "0", "kafka_offsets" = "9",'))
    while show(server, "rl_weather_events_rt")["State"] != "RUNNING":
        pass
    with pytest.raises(AssertionError, match=r"loaded offset ranges \[\(0, 10\), \(9, 10\)\]"):
        assert_each_message_loaded_once(server, "weather_events_rt", "weather-events")


def test_what_alter_cannot_change_is_named() -> None:
    server = FakeDorisServer()
    migrate_and_reconcile(server)
    m = make(server)
    (definition,) = [RoutineLoadDefinition.from_migration(x) for x in m.plan().routine_loads
                     if x.file.script == WEATHER]
    live = show(server, "rl_weather_events_rt")
    assert definition.not_alterable_changes(live) == []
    moved = {**live, "TableName": "weather_events_v2",
             "JobProperties": json.dumps({**json.loads(live["JobProperties"]), "format": "csv", "whereExpr": "1 = 1"})}
    assert definition.not_alterable_changes(moved) == [
        "table weather_events_v2 -> weather_events_rt", "format csv -> json", "whereExpr '1 = 1' -> '*'"]
    assert definition.not_alterable_changes({**live, "JobProperties": None}) == ["JobProperties unreadable (None)"]
