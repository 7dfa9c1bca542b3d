"""A catalogue of hostile or careless inputs and faults (issue 14), each refused or survived as documented.

Every case asserts two things: the error names the field, file or value at fault, and nothing was written or
half-applied -- checked on the system's state (the Kubernetes emulator's objects, the Kafka Connect
emulator's request log, the warehouse's rows, the file system), not only on the exception.

Cases marked "(issue 14 #n)" failed before the fix for point n; the rest pin behaviour that already held.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.errors import ConfigError
from commodity_platform.kafka_connect.specs import format_diff, load_specs
from commodity_platform.validation import LOG_DIFF_CHARS, LOG_LIST_LIMIT, MAX_SPEC_FILE_BYTES

ROOT = Path(__file__).resolve().parents[2]

PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "-----END PRIVATE KEY-----\n"
)

GOOD_SPEC = """\
name: cp-sink-hostile
state: running
config:
  connector.class: org.apache.kafka.connect.file.FileStreamSinkConnector
  tasks.max: 1
  topics: t
  file: /tmp/out
"""


def write_spec(directory: Path, extra_config: dict[str, Any] | None = None, *, text: str | None = None,
               name: str = "cp-sink-hostile") -> Path:
    if text is None:
        doc = yaml.safe_load(GOOD_SPEC)
        doc["name"] = name
        doc["config"].update(extra_config or {})
        text = yaml.safe_dump(doc, sort_keys=False)
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# =========================================================================================== 1. manifests


def test_image_tag_with_newlines_cannot_inject_a_privileged_container(make_emulator: Any, api_client_for: Any) -> None:
    """(issue 14 #1) A tag that tries to add a privileged, root container is refused naming the Param key, and
    nothing is applied to the cluster."""
    from commodity_platform.deploy.execution import deploy_phase, plan_phase
    from commodity_platform.deploy.params import PhaseOptions
    from commodity_platform.deploy.phases import PHASES_BY_NAME
    from tests.deploy.conftest import fake_connections

    hostile = (
        "confluentinc/cp-schema-registry:7.9.0\n"
        "          securityContext: {privileged: true, runAsUser: 0}"
    )
    options = PhaseOptions(image_tags={"schema_registry": hostile})
    with pytest.raises(ConfigError, match=r"image_tags\.schema_registry: .* is not a container image reference"):
        plan_phase(PHASES_BY_NAME["kafka-connect"], options)

    emulator = make_emulator()
    with pytest.raises(ConfigError, match=r"image_tags\.schema_registry"):
        deploy_phase("kafka-connect", api_client_for(emulator), options, connections=fake_connections())
    assert emulator.objects("Deployment") == []
    assert emulator.objects("Secret") == []


def test_placeholders_are_substituted_inside_parsed_scalars(tmp_path: Path) -> None:
    """(issue 14 #1) Even a value that slipped past validation stays inside its scalar: substitution happens in
    the parsed document, not in the YAML text."""
    from commodity_platform.k8s.manifests import load_file

    path = tmp_path / "m.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n"
        "  image: ${dp:image.x}\n  url: https://${dp:image.x}/path\n",
        encoding="utf-8",
    )
    value = "a\nprivileged: true\nrunAsUser: 0"
    [manifest] = load_file(path, {"image.x": value})
    assert manifest.body["data"] == {"image": value, "url": f"https://{value}/path"}
    assert "privileged" not in manifest.body


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("kafka_connect", "Confluentinc/Cp:7.9.0", "is not a container image reference"),  # upper case repo
        ("doris_fe", "apache/doris:fe 2.1", "is not a container image reference"),
        ("strimzi_chart_version", "1.0", "is not a semantic version"),
        ("flink_operator_chart_version", "1.13.0\n", "is not a semantic version"),
        ("unknown_image", "busybox:1", "unknown key"),
    ],
)
def test_bad_image_tags_are_refused_before_rendering(key: str, value: str, message: str) -> None:
    from commodity_platform.deploy.phases import render_variables

    with pytest.raises(ConfigError, match=rf"image_tags(\.{key})?: .*{message}"):
        render_variables("data-platform", {key: value})


def test_image_reference_grammar_matches_upstream_examples() -> None:
    """The distribution/reference grammar accepts what it documents (registry with port, digests) and the
    project's own defaults."""
    from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS, render_variables
    from commodity_platform.validation import check_image_reference

    assert render_variables("data-platform")["image.kafka_connect"] == DEFAULT_IMAGE_TAGS["kafka_connect"]
    for ok in ("localhost:5000/team/app:1.2.3", "ghcr.io/apache/flink-kubernetes-operator:main",
               "busybox@sha256:" + "a" * 64, "[::1]:5000/x/y:tag"):
        assert check_image_reference("f", ok) == ok


def test_malformed_manifest_names_file_and_document(tmp_path: Path) -> None:
    from commodity_platform.k8s.manifests import load_file

    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml document 1: malformed YAML"):
        load_file(path, {})


def test_manifest_without_name_names_the_field(tmp_path: Path) -> None:
    from commodity_platform.k8s.manifests import load_file

    path = tmp_path / "noname.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"noname\.yaml document 0: missing required field\(s\) metadata\.name"):
        load_file(path, {})


# ======================================================================================= 2. secrets


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("secretKey", "AKIAEXAMPLEVALUE"),  # (issue 14 #2) camelCase
        ("accessToken", "tok-123"),  # (issue 14 #2)
        ("clientSecret", "s3cr3t-value"),  # (issue 14 #2)
        ("ssl.keystore.key", PEM_KEY),  # (issue 14 #2) dotted, PEM
        ("transforms.cert.pem", PEM_KEY),  # (issue 14 #2) key material recognised by value
        ("client.login", "org.apache.kafka.common.security.plain.PlainLoginModule required "
                         'username="u" password="pw-literal";'),  # JAAS by value
        ("connection.password", "hunter2"),  # held before
        ("SSL_KEYSTORE_PASSWORD", "hunter2"),  # held before
        ("connection.url", "jdbc:postgresql://db/x?user=a&password=hunter2"),  # held before
    ],
)
def test_plaintext_secret_in_spec_is_refused_and_nothing_is_sent(
    key: str, value: str, spec_dir: Path, connect_hook: Any, connect_emulator: Any
) -> None:
    from commodity_platform.kafka_connect.reconcile import reconcile_all

    write_spec(spec_dir, {key: value})
    with pytest.raises(ConfigError) as info:
        reconcile_all(connect_hook, specs_dir=spec_dir)
    message = str(info.value)
    assert "cp-sink-hostile.yaml" in message and f"config key '{key}'" in message and "plaintext secret" in message
    assert value.strip() not in message and "hunter2" not in message
    assert connect_emulator.requests() == []  # validated before the first request


def test_references_in_secret_keys_are_accepted(spec_dir: Path) -> None:
    write_spec(spec_dir, {"clientSecret": "${dir:/mnt/secrets:client-secret}",
                          "ssl.keystore.key": "${file:/mnt/secrets/tls.properties:key}"})
    assert any(s.name == "cp-sink-hostile" for s in load_specs(spec_dir))


@pytest.mark.parametrize(
    ("key", "live_value"),
    [("clientSecret", "hunter2-live"), ("accessToken", "hunter2-live"), ("ssl.keystore.key", PEM_KEY)],
)
def test_connector_diff_never_prints_a_secret_value(key: str, live_value: str) -> None:
    """(issue 14 #2) A hand-set plaintext secret in the *live* config is masked in the diff."""
    lines = format_diff([(key, live_value, None), ("topics", "a", "b")])
    text = "\n".join(lines)
    assert live_value.strip() not in text and "hunter2" not in text
    assert f"- {key} = ***" in text and "~ topics: a -> b" in text


def test_kubernetes_dry_run_diff_masks_secret_like_values() -> None:
    """(issue 14 #2) ConfigMap keys and container env values that are secrets are masked in dry-run diffs."""
    from commodity_platform.k8s.apply import unified_diff

    desired = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"clientSecret": "hunter2-cm", "tls.key": PEM_KEY, "color": "blue"},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "x:1", "env": [{"name": "DB_PASSWORD", "value": "hunter2-env"},
                                                 {"name": "MODE", "value": "prod"}]}]}}},
    }
    text = unified_diff(None, desired, "ConfigMap/c") + unified_diff(None, deployment, "Deployment/d")
    assert "hunter2" not in text and "PRIVATE KEY" not in text and "MIIE" not in text
    assert "blue" in text and "prod" in text  # ordinary values stay readable


# ===================================================================================== 3. report_dir


@pytest.mark.parametrize("report_dir", ["/etc", "../../", "../outside", "/tmp"])
def test_report_dir_outside_the_base_is_refused(report_dir: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """(issue 14 #3)"""
    from commodity_platform.quality.settings import REPORT_BASE_ENV, settings_from_params

    base = tmp_path / "reports-base"
    base.mkdir()
    monkeypatch.setenv(REPORT_BASE_ENV, str(base))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ConfigError, match=r"report_dir: .* outside the report base directory"):
        settings_from_params({"report_dir": report_dir}, run_id="r", default_as_of=datetime(2026, 3, 1))
    assert sorted(os.listdir(tmp_path)) == before


def test_report_dir_symlink_escape_is_refused_at_write_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(issue 14 #3) A symlink inside the base pointing out is resolved and refused, also when it appears after
    the Params were validated (the writer checks again)."""
    from commodity_platform.quality.report import write_report
    from commodity_platform.quality.settings import REPORT_BASE_ENV, settings_from_params

    base, outside = tmp_path / "base", tmp_path / "outside"
    base.mkdir()
    outside.mkdir()
    monkeypatch.setenv(REPORT_BASE_ENV, str(base))
    (base / "link").symlink_to(outside)
    with pytest.raises(ConfigError, match="report_dir"):
        settings_from_params({"report_dir": "link"}, run_id="r", default_as_of=datetime(2026, 3, 1))
    settings = settings_from_params({"report_dir": "late"}, run_id="r", default_as_of=datetime(2026, 3, 1))
    (base / "late").symlink_to(outside)
    with pytest.raises(ConfigError, match="report_dir"):
        write_report(settings.report_path, "r", [], instance="i")
    assert list(outside.iterdir()) == []


def test_report_dir_inside_the_base_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from commodity_platform.quality.report import write_report
    from commodity_platform.quality.settings import REPORT_BASE_ENV, settings_from_params

    monkeypatch.setenv(REPORT_BASE_ENV, str(tmp_path))
    settings = settings_from_params({"report_dir": "team-a"}, run_id="manual__..", default_as_of=datetime(2026, 3, 1))
    path = write_report(settings.report_path, settings.run_id, [], instance="i")
    assert path.is_relative_to(tmp_path / "team-a") and path.is_file()


def test_production_default_report_base_is_not_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    from commodity_platform.quality.settings import REPORT_BASE_ENV, report_base_dir

    monkeypatch.delenv(REPORT_BASE_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", "/opt/airflow")
    assert report_base_dir() == Path("/opt/airflow/dq-reports").resolve()


# ===================================================================================== 4. migrations


def _migrations_dir(tmp_path: Path, extra: dict[str, str]) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for path in (ROOT / "include" / "sql" / "migrations").glob("*.sql"):
        (directory / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in extra.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("DROP DATABASE commodity_realtime;", "DROP DATABASE"),  # (issue 14 #4)
        ("DROP TABLE IF EXISTS energy_prices_rt;", "DROP TABLE"),  # (issue 14 #4)
        ("TRUNCATE TABLE price_1min_agg;", "TRUNCATE"),  # (issue 14 #4)
        ("DELETE FROM market_alerts;", "DELETE without WHERE"),  # (issue 14 #4)
        ("ALTER TABLE dq_results DROP COLUMN status;", "ALTER TABLE dq_results DROP"),  # (issue 14 #4)
    ],
)
def test_destructive_migration_is_refused_without_opt_in(sql: str, what: str, tmp_path: Path, warehouse: Any) -> None:
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.doris.migration_files import SchemaSettings
    from commodity_platform.doris.migrations import SchemaMigrator

    directory = _migrations_dir(tmp_path, {"V906__hostile.sql": sql + "\n"})
    migrator = SchemaMigrator(DorisHook(doris_conn_id="doris_default", schema="information_schema"),
                              settings=SchemaSettings(database="commodity_realtime"), installed_by="pytest",
                              migrations_dir=directory)
    history_before = warehouse.query("SELECT COUNT(*) FROM schema_history")
    with pytest.raises(ConfigError, match=rf"V906__hostile\.sql statement 1: destructive statement \({what}"):
        migrator.plan()
    assert warehouse.query("SELECT COUNT(*) FROM schema_history") == history_before
    assert warehouse.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
                           "AND table_name = 'energy_prices_rt'", ["commodity_realtime"]) == [(1,)]


def test_destructive_migration_with_opt_in_is_shown_in_the_plan(tmp_path: Path, warehouse: Any) -> None:
    """(issue 14 #4) The marker makes the intent explicit and the dry-run plan says what will be destroyed."""
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.doris.migration_files import SchemaSettings
    from commodity_platform.doris.migrations import SchemaMigrator

    directory = _migrations_dir(tmp_path, {
        "V906__drop_scratch.sql": "-- destructive: the scratch table held test data only\n"
                                  "DELETE FROM market_alerts WHERE alert_id = 'x';\nTRUNCATE TABLE market_alerts;\n",
    })
    migrator = SchemaMigrator(DorisHook(doris_conn_id="doris_default", schema="information_schema"),
                              settings=SchemaSettings(database="commodity_realtime"), installed_by="pytest",
                              migrations_dir=directory)
    lines = migrator.plan().describe()
    assert any("DESTRUCTIVE: TRUNCATE market_alerts (opted in: the scratch table held test data only)" in line
               for line in lines), lines
    assert not any("DESTRUCTIVE: DELETE" in line for line in lines)  # a DELETE with WHERE is not destructive


def test_malformed_migration_names_file_and_statement_and_runs_nothing(tmp_path: Path, warehouse: Any) -> None:
    from commodity_platform.doris.hook import DorisHook
    from commodity_platform.doris.migration_files import SchemaSettings
    from commodity_platform.doris.migrations import SchemaMigrator

    directory = _migrations_dir(tmp_path, {"V907__broken.sql": "CREATE TABLE IF NOT EXISTS x (a INT;\n"})
    migrator = SchemaMigrator(DorisHook(doris_conn_id="doris_default", schema="information_schema"),
                              settings=SchemaSettings(database="commodity_realtime"), installed_by="pytest",
                              migrations_dir=directory)
    with pytest.raises(ConfigError, match=r"V907__broken\.sql statement 1"):
        migrator.plan()
    assert warehouse.query("SELECT COUNT(*) FROM schema_history WHERE script LIKE 'V907%%'") == [(0,)]


# ================================================================================ 5. trailing newlines


@pytest.mark.parametrize(
    ("dag_id", "param", "value"),
    [
        ("streaming_data_quality", "instance", "x\n"),  # (issue 14 #5)
        ("doris_schema_migrate", "kafka_broker_list", "kafka:9092\n"),  # (issue 14 #5)
        ("streaming_platform_deploy", "namespace", "data-platform\n"),  # (issue 14 #5)
        ("kafka_connect_register", "connectors", ["cp-sink-doris-realtime\n"]),  # (issue 14 #5)
    ],
)
def test_dag_params_refuse_a_trailing_newline(dag_id: str, param: str, value: Any, dagbag: Any) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    params = copy.deepcopy(dagbag.get_dag(dag_id).params)
    with pytest.raises(ParamValidationError, match=rf"param {param}"):
        params[param] = value  # what a trigger's conf goes through (Param.resolve, jsonschema)


def test_validators_refuse_a_trailing_newline() -> None:
    """(issue 14 #5) The task-side validators too, not only the Param schemas."""
    from commodity_platform.doris.migration_files import SchemaSettings
    from commodity_platform.quality.settings import settings_from_params

    with pytest.raises(ConfigError, match=r"instance: 'x\\n' is not a valid Pushgateway grouping value"):
        settings_from_params({"instance": "x\n"}, run_id="r", default_as_of=datetime(2026, 3, 1))
    with pytest.raises(ConfigError, match="kafka_broker_list"):
        SchemaSettings(kafka_broker_list="kafka:9092\n")
    with pytest.raises(ConfigError, match="commodity_codes"):
        settings_from_params({"commodity_codes": ["WTI\n"]}, run_id="r", default_as_of=datetime(2026, 3, 1))


def test_no_validator_in_the_project_uses_an_unanchored_match() -> None:
    """(issue 14 #5) Guard against regressions: ``.match(`` on a ``^...$`` validator is how the hole came in."""
    offenders = []
    for path in (ROOT / "plugins" / "commodity_platform").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "_RE.match(" in line or "_KEY.match(" in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


# ================================================================================ 6. unknown kinds


def test_unknown_kind_fails_a_dry_run(make_emulator: Any, api_client_for: Any) -> None:
    """(issue 14 #6) No more "its CRD is installed by this deploy" for a kind nobody defines."""
    from commodity_platform.k8s.apply import ApplyEngine
    from commodity_platform.k8s.manifests import Manifest

    emulator = make_emulator()
    engine = ApplyEngine(api_client_for(emulator), namespace="data-platform", dry_run=True)
    try:
        typo = Manifest({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopik", "metadata": {"name": "t"}},
                        "20-topics.yaml#3")
        with pytest.raises(ConfigError, match=r"20-topics\.yaml#3: KafkaTopik/t: kind kafka\.strimzi\.io/v1/"
                                              r"KafkaTopik is neither served by the cluster nor defined"):
            engine.apply(typo)
        # A kind whose CRD the Strimzi chart of this deploy installs is still reported (not validated yet).
        topic = Manifest({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "metadata": {"name": "t"}},
                         "20-topics.yaml#4")
        result = engine.apply(topic)
        assert result.action == "would-create" and "kafkatopics.kafka.strimzi.io" in result.diff
    finally:
        engine.close()
    assert emulator.objects("KafkaTopic") == []


def test_deploy_installed_kinds_match_the_upstream_crds() -> None:
    """Each declared (group, kind) -> CRD name agrees with the upstream CRD it comes from."""
    from commodity_platform.deploy.phases import PHASES
    from commodity_platform.k8s.apply import DEPLOY_INSTALLED_KINDS
    from tests.deploy.conftest import load_crd

    for (group, kind), crd_name in DEPLOY_INSTALLED_KINDS.items():
        crd = load_crd(f"{crd_name}.yaml")
        assert (crd["spec"]["group"], crd["spec"]["names"]["kind"], crd["metadata"]["name"]) == (group, kind, crd_name)
    operator_crds = {c for p in PHASES if p.name in ("kafka", "flink-operator", "doris")
                     for s in p.stages for c in s.requires_crds}
    assert operator_crds <= set(DEPLOY_INSTALLED_KINDS.values())


# ================================================================================ 7. sizes


def test_oversized_spec_file_is_refused_before_parsing(spec_dir: Path, connect_hook: Any,
                                                       connect_emulator: Any) -> None:
    """(issue 14 #7)"""
    from commodity_platform.kafka_connect.reconcile import reconcile_all

    path = write_spec(spec_dir, text=GOOD_SPEC + "description: '" + "x" * (MAX_SPEC_FILE_BYTES + 10) + "'\n")
    with pytest.raises(ConfigError, match=rf"{path.name}: connector spec file is [0-9,]+ bytes, more than the limit"):
        reconcile_all(connect_hook, specs_dir=spec_dir)
    assert connect_emulator.requests() == []


def test_oversized_config_value_is_refused_without_echoing_it(spec_dir: Path) -> None:
    """(issue 14 #7)"""
    write_spec(spec_dir, {"file": "/tmp/" + "y" * 40_000})
    with pytest.raises(ConfigError, match=r"config key 'file': value of [0-9,]+ characters is longer") as info:
        load_specs(spec_dir)
    assert len(str(info.value)) < 500


def test_oversized_manifest_and_migration_files_are_refused(tmp_path: Path) -> None:
    """(issue 14 #7)"""
    from commodity_platform.doris.migration_files import discover_migrations
    from commodity_platform.k8s.manifests import load_file

    manifest = tmp_path / "huge.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: '" + "z" * 3_000_000 + "'}\n")
    with pytest.raises(ConfigError, match=r"huge\.yaml: manifest file is [0-9,]+ bytes"):
        load_file(manifest, {})
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "V001__huge.sql").write_text("-- " + "z" * 1_100_000 + "\nSELECT 1;\n")
    with pytest.raises(ConfigError, match=r"V001__huge\.sql: migration file is [0-9,]+ bytes"):
        discover_migrations(migrations)


def test_logged_diffs_are_truncated() -> None:
    """(issue 14 #7)"""
    from commodity_platform.k8s.apply import unified_diff

    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
               "data": {f"k{i}": "v" * 100 for i in range(2_000)}}
    diff = unified_diff(None, desired, "ConfigMap/c")
    assert len(diff) < LOG_DIFF_CHARS + 200 and "more characters not shown" in diff


# ================================================================================ 8. calendar edges


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:00Z"}, "end"),  # (issue 14 #8)
        ({"start": "9999-12-31T00:00:00+00:00", "end": "9999-12-31T00:01:00+00:00"}, "end"),  # (issue 14 #8)
        ({"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T01:00:00Z"}, "start"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2025-12-31T00:00:00Z"}, "end"),  # held before
        ({"start": "2026-01-01T00:00:30Z", "end": "2026-01-01T01:00:00Z"}, "start"),  # held before
        ({"start": "2026-01-01T00:00:00+02:00", "end": "2026-01-01T01:00:00Z"}, "start"),  # held before
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-06-01T00:00:00Z"}, "end"),  # span, held before
        ({"start": "yesterday", "end": "2026-01-01T00:00:00Z"}, "start"),  # held before
    ],
)
def test_bad_backfill_window_is_a_param_error_without_retry(params: dict[str, str], field: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.ohlc.tasks import resolve_window_task

    with pytest.raises(AirflowFailException, match=rf"^{field}: "):
        resolve_window_task(params, data_interval_start=None, data_interval_end=None, conn_id="doris_default")


def test_window_chunks_do_not_overflow_at_the_last_day() -> None:
    """(issue 14 #8) The chunk arithmetic itself is safe at the end of the calendar."""
    from commodity_platform.ohlc.window import Window

    start = datetime(9999, 12, 31, 0, 0, tzinfo=timezone.utc)
    end = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
    assert Window(start, end).chunks(1440) == [(start, end)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"as_of": "9999-12-31T23:00:00-05:00"}, "as_of"),  # (issue 14 #8) past datetime.max in UTC
        ({"as_of": "9999-12-31T12:00:00Z"}, "as_of"),  # (issue 14 #8)
        ({"as_of": "0001-01-01T00:00:00Z"}, "as_of"),  # (issue 14 #8) window before year 1
        ({"start": "2026-03-01T10:00:00Z", "end": "9999-12-31T23:59:00Z"}, "end"),  # (issue 14 #8)
    ],
)
def test_dq_instants_at_the_calendar_edges_are_param_errors(params: dict[str, str], field: str) -> None:
    from commodity_platform.quality.settings import settings_from_params

    with pytest.raises(ConfigError, match=rf"^{field}: "):
        settings_from_params(params, run_id="r", default_as_of=datetime(2026, 3, 1))


# ================================================================================ 9. NaN


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ohlc_tolerance": math.nan}, "ohlc_tolerance"),  # (issue 14 #9)
        ({"invalid_tick_rate_max": math.inf}, "invalid_tick_rate_max"),
        ({"latency_p95_max_seconds": math.inf}, "latency_p95_max_seconds"),  # (issue 14 #9)
        ({"freshness_tables": {"energy_prices_rt": math.nan}}, "freshness_tables.energy_prices_rt"),  # #9
        ({"freshness_tables": {"market_alerts": -math.inf}}, "freshness_tables.market_alerts"),
    ],
)
def test_non_finite_numbers_are_refused_by_name(params: dict[str, Any], field: str) -> None:
    from commodity_platform.quality.settings import settings_from_params

    with pytest.raises(ConfigError, match=rf"^{field}: .*(finite|NaN)"):
        settings_from_params(params, run_id="r", default_as_of=datetime(2026, 3, 1))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("ohlc_tolerance", math.nan),  # (issue 14 #9) was "None is not of type 'number'" in the task
        ("routine_load_error_rate_max", math.nan),
        ("latency_p95_max_seconds", math.nan),
        ("freshness_tables", {"energy_prices_rt": math.nan}),  # (issue 14 #9) was silently the default
        ("latency_p95_max_seconds", math.inf),
    ],
)
def test_dq_params_refuse_nan_when_the_run_is_triggered(param: str, value: Any, dagbag: Any) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    params = copy.deepcopy(dagbag.get_dag("streaming_data_quality").params)
    with pytest.raises(ParamValidationError, match=rf"param {param}: (nan|inf)"):
        params[param] = value


# ================================================================================ 10. resilience


def test_connect_answering_500_fails_within_the_retry_budget_listing_connectors(connect_emulator: Any) -> None:
    """(issue 14 #10) 10 connectors, every request a 500: the run ends after the budget (not ~10 minutes),
    naming every connector not reconciled, and writes nothing."""
    from commodity_platform.kafka_connect.hook import KafkaConnectHook, RetryBudgetExhausted
    from commodity_platform.kafka_connect.reconcile import reconcile_all
    from commodity_platform.kafka_connect.specs import CONNECTORS_DIR

    names = [s.name for s in load_specs(CONNECTORS_DIR)]
    assert len(names) >= 10
    connect_emulator.inject_error(500, count=10**6, message="Internal Server Error")
    started = time.monotonic()
    with (
        KafkaConnectHook(retries=5, backoff_seconds=1.0, max_backoff_seconds=30.0) as hook,
        pytest.raises(RetryBudgetExhausted) as info,
    ):
        reconcile_all(hook, retry_budget_seconds=4)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"took {elapsed:.1f} s with a 4 s budget"
    assert all(name in str(info.value) for name in names[:LOG_LIST_LIMIT])
    assert f"{len(names)} connector(s) not reconciled" in str(info.value)
    assert connect_emulator.writes() == []


def test_mapped_reconcile_task_fails_without_retry_once_the_budget_is_spent(connect_emulator: Any) -> None:
    """(issue 14 #10) The DAG's mapped tasks share the run's deadline: past it, no request and no retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.kafka_connect.tasks import reconcile_connector_task

    connect_emulator.inject_error(500, count=10**6)
    with pytest.raises(AirflowFailException, match=r"connector cp-sink-doris-realtime not reconciled: .*budget"):
        reconcile_connector_task("cp-sink-doris-realtime", dry_run=False, retry_deadline=time.time() - 1)
    assert connect_emulator.requests() == []


def test_backfill_survives_the_warehouse_refusing_connections_mid_run(db: Any, connect_db: Callable[[], Any],
                                                                     warehouse: Any) -> None:
    """(issue 14 #10) The backfill's connection is killed inside chunk 2 and MariaDB then refuses new connections
    for a few seconds (every slot of max_connections taken: error 1040): the chunk reconnects with backoff inside
    the task and finishes; the bars equal a fresh rebuild."""
    import MySQLdb

    from commodity_platform.ohlc.backfill import OhlcBackfill
    from commodity_platform.ohlc.window import Window
    from sandbox.ticks import Faults, generate_ticks, load_ticks

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    end = datetime(2026, 1, 1, 3, tzinfo=timezone.utc)
    load_ticks(db, generate_ticks(start, end, n_ticks=3_000, commodities=3, faults=Faults.realistic(), seed=14))
    window = Window(start, end)

    opened: list[Any] = []

    def connect() -> Any:
        conn = connect_db()
        opened.append(conn)
        return conn

    control = warehouse.mysql_connect()  # opened before the slots run out; it restores the limit
    cur = control.cursor()
    cur.execute("SELECT @@GLOBAL.max_connections")
    (original_limit,) = cur.fetchone()
    held: list[Any] = []
    refusals: list[int] = []

    def release() -> None:
        for conn in held:
            conn.close()
        held.clear()
        control.cursor().execute(f"SET GLOBAL max_connections = {int(original_limit)}")

    restore = threading.Timer(3.0, release)
    faulted: list[int] = []

    def fault(stage: str, index: int) -> None:
        if stage == "before_commit" and index == 2 and not faulted:
            faulted.append(index)
            cur.execute("SET GLOBAL max_connections = 10")  # MariaDB's minimum
            cur.execute(f"KILL CONNECTION {opened[-1].thread_id()}")
            for _ in range(50):  # take every free slot (a privileged user gets one extra)
                try:
                    held.append(warehouse.mysql_connect())
                except MySQLdb.OperationalError as err:
                    refusals.append(err.args[0])
                    break
            restore.start()

    try:
        report = OhlcBackfill(connect, doris=False, chunk_minutes=60, fault_hook=fault).run(window)
    finally:
        restore.join(timeout=10)
        release()
        control.close()
    assert faulted == [2] and refusals == [1040]  # new connections really were refused
    assert len(opened) >= 2
    assert len(report.shards) == 3
    after_fault = _bars(db)
    OhlcBackfill(connect_db, doris=False, chunk_minutes=60).run(window)
    assert _bars(db) == after_fault and after_fault


def _bars(conn: Any) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute("SELECT commodity_code, bar_start, open_price, high_price, low_price, close_price, volume, vwap, "
                "tick_count FROM price_1min_agg ORDER BY commodity_code, bar_start")
    rows = list(cur.fetchall())
    cur.close()
    return rows


# ================================================================================ injection and lists


@pytest.mark.parametrize(
    "code", ["WTI'; DROP TABLE price_1min_agg; --", "WTI\" OR 1=1 --", "WTI`", "WTI\\'", "W" * 33],
)
def test_sql_injection_through_codes_writes_nothing(code: str, db: Any) -> None:
    """Held before: codes are bound parameters (or refused by length); the tables are intact, no bar written."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.ohlc.tasks import resolve_window_task

    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "commodity_codes": [code]}
    with pytest.raises(AirflowFailException, match="commodity_codes"):
        resolve_window_task(params, data_interval_start=None, data_interval_end=None, conn_id="doris_default")
    cur = db.cursor()
    cur.execute("SELECT COUNT(*) FROM price_1min_agg")
    assert cur.fetchone() == (0,)
    cur.close()


@pytest.mark.parametrize("table", ["energy_prices_rt; DROP TABLE dq_results", "information_schema.tables", "`x`"])
def test_sql_injection_through_table_names_is_refused(table: str) -> None:
    """Held before: freshness tables come from a fixed list."""
    from commodity_platform.quality.settings import settings_from_params

    with pytest.raises(ConfigError, match=r"^freshness_tables: unknown table"):
        settings_from_params({"freshness_tables": {table: 60}}, run_id="r", default_as_of=datetime(2026, 3, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: cp-sink-hostile\nstate: running\nconfig: {a: 1}\nextra: 1\n", "unknown top-level key"),
        ("name: cp-sink-hostile\nstate: running\nstate: paused\nconfig: {a: 1}\n", "duplicate key 'state'"),
        ("name: cp-sink-hostile\nstate: running\nconfig:\n  connector.class: X\n", "'tasks.max' is missing"),
        ("name: cp-sink-hostile\nstate: sleeping\nconfig: {a: 1}\n", "key 'state'"),
        ("name: cp-sink-hostile\nstate: running\nconfig:\n  connector.class: X\n  tasks.max: 1\n"
         "  topics: t\n  errors.tolerance: all\n", "errors.deadletterqueue.topic.name' is required"),
        ("name: cp-sink-hostile\nstate: running\nconfig:\n  connector.class: X\n  tasks.max: 1\n"
         "  db.password: ${vault:/x:y}\n", "unknown config provider 'vault'"),
    ],
)
def test_malformed_spec_names_file_and_key_and_sends_nothing(text: str, message: str, spec_dir: Path,
                                                             connect_hook: Any, connect_emulator: Any) -> None:
    """Held before: strict spec validation before the first request."""
    from commodity_platform.kafka_connect.reconcile import reconcile_all

    write_spec(spec_dir, text=text)
    with pytest.raises(ConfigError, match=rf"cp-sink-hostile\.yaml: .*{message}"):
        reconcile_all(connect_hook, specs_dir=spec_dir)
    assert connect_emulator.requests() == []


def test_ten_thousand_codes_are_capped_in_messages_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 14 (lists): a user list in a message or log line shows at most LOG_LIST_LIMIT items."""
    from commodity_platform.kafka_connect.specs import load_specs as load
    from commodity_platform.quality.settings import settings_from_params

    codes = [f"BAD CODE {i}" for i in range(10_000)]
    with pytest.raises(ConfigError) as info:
        settings_from_params({"commodity_codes": codes}, run_id="r", default_as_of=datetime(2026, 3, 1))
    assert len(str(info.value)) < 2_000 and "+9,980 more, 10,000 in all" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load(ROOT / "include" / "connectors", only=[f"cp-nope-{i}" for i in range(10_000)])
    assert len(str(info.value)) < 4_000

    from commodity_platform.ohlc.backfill import OhlcBackfill
    from commodity_platform.ohlc.window import Window

    class _Refused(Exception):
        pass

    def refuse() -> Any:
        raise _Refused

    caplog.set_level(logging.INFO, logger="commodity_platform")
    window = Window(datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 1, tzinfo=timezone.utc),
                    commodity_codes=tuple(f"C{i}" for i in range(10_000)))
    with pytest.raises(_Refused):
        OhlcBackfill(refuse, doris=False).run(window)
    assert caplog.records and max(len(r.getMessage()) for r in caplog.records) < 2_000
