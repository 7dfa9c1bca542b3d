"""The run's shape (issue 16 #4) and its one Param table (issue 15 #4).

* Great Expectations is imported by one task per run (``run_checks``); the per-check tasks, publish and
  verdict never import it, and each check still has its own task that fails when its check did not pass.
* One check that cannot be evaluated does not stop the others; a check with no result fails as missing.
* The DAG's Params and DQSettings' defaults come from the one table, in seconds; an unknown name is refused.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from commodity_platform.errors import ConfigError, PermanentError
from commodity_platform.params import defaults
from commodity_platform.paths import PROJECT_ROOT
from commodity_platform.quality.params import DQ_PARAMS
from commodity_platform.quality.settings import CHECKS, DQSettings, settings_from_params

AS_OF = datetime(2026, 3, 1, 12, 0, 30)
_GX_TASKS = {"run_checks"}


def test_only_run_checks_reaches_great_expectations(dq_dag) -> None:
    """Each task body runs in its own process: importing GX (seconds of CPU) must happen in one of them."""
    assert set(dq_dag.task_ids) == {"run_checks", *CHECKS, "publish", "verdict"}
    for check in CHECKS:
        task = dq_dag.get_task(check)
        assert task.trigger_rule == "all_done"  # runs (and fails visibly) whatever run_checks did
        assert task.upstream_task_ids == {"run_checks"}
        assert "verdict" in task.downstream_task_ids
    assert dq_dag.get_task("publish").upstream_task_ids == {"run_checks"}
    assert dq_dag.get_task("verdict").upstream_task_ids == {"publish", *CHECKS}


def test_check_tasks_publish_and_verdict_import_no_great_expectations() -> None:
    """A check task's body, run in a fresh interpreter on run_checks' XCom, leaves GX unimported."""
    probe = """
import sys
from commodity_platform.quality.tasks import check_result_task, verdict
result = {"check": "freshness", "status": "pass", "success": True, "summary": "ok", "samples": [], "examples": []}
assert check_result_task("freshness", {"freshness": result}) == result
verdict({"checks": {"freshness": "pass"}, "report": "r"})
import commodity_platform.quality.metrics, commodity_platform.quality.report
print(sorted(m for m in sys.modules if m.split(".")[0] == "great_expectations"))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
                         env={"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_failing_check_task_fails_with_its_summary_and_logs_its_examples(caplog) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.quality.tasks import check_result_task

    failed = {"check": "ohlc_correctness", "status": "fail", "success": False, "summary": "1 problem bars",
              "samples": [{"name": "streaming_dq_ohlc_mismatched_bars", "labels": {}, "value": 1.0}],
              "examples": [{"commodity_code": "WTI", "bar_start": "2026-03-01 11:30:00"}]}
    with pytest.raises(AirflowFailException, match="ohlc_correctness fail: 1 problem bars"):
        check_result_task("ohlc_correctness", {"ohlc_correctness": failed})
    assert "streaming_dq_ohlc_mismatched_bars" in caplog.text and "2026-03-01 11:30:00" in caplog.text


class _CountingGx:
    entered = 0

    def __init__(self, url: str) -> None:
        pass

    def __enter__(self) -> _CountingGx:
        type(self).entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _Hook:
    def __init__(self, **kwargs: Any) -> None:
        self.saved: list[str] = []

    def get_uri(self) -> str:
        return "mysql://u:p@127.0.0.1/db"

    def is_doris(self) -> bool:
        return False


def _settings() -> DQSettings:
    return settings_from_params({}, run_id="layout", default_as_of=AS_OF)


def test_run_checks_uses_one_gx_context_and_one_failing_check_does_not_stop_the_others(monkeypatch) -> None:
    from commodity_platform.doris import hook as doris_hook
    from commodity_platform.quality import gx, results, tasks
    from commodity_platform.quality.results import CheckResult

    saved: list[tuple[str, str]] = []
    monkeypatch.setattr(gx, "GxWarehouse", _CountingGx)
    monkeypatch.setattr(doris_hook, "DorisHook", _Hook)
    monkeypatch.setattr(results, "save_result", lambda hook, *, run_id, result, report_path, is_doris:
                        saved.append((result.check, result.status)))

    def evaluate(check: str, settings: DQSettings, gx_ctx: Any, **kwargs: Any) -> CheckResult:
        assert isinstance(gx_ctx, _CountingGx)
        if check == "error_rate":
            raise PermanentError("SHOW ROUTINE LOAD: job x: Statistic is not JSON")
        return CheckResult(check, "pass", f"{check} ok")

    monkeypatch.setattr(tasks, "evaluate", evaluate)
    _CountingGx.entered = 0
    out = tasks.run_checks(_settings())
    assert _CountingGx.entered == 1
    assert saved == [("freshness", "pass"), ("error_rate", "error"), ("ohlc_correctness", "pass")]
    assert {c: r["status"] for c, r in out.items()} == {"freshness": "pass", "error_rate": "error",
                                                         "ohlc_correctness": "pass"}
    assert "Statistic is not JSON" in out["error_rate"]["summary"]


def test_a_temporary_error_is_raised_after_every_check_was_saved(monkeypatch) -> None:
    from commodity_platform.doris import hook as doris_hook
    from commodity_platform.errors import TemporaryError
    from commodity_platform.quality import gx, results, tasks
    from commodity_platform.quality.results import CheckResult

    saved: list[str] = []
    monkeypatch.setattr(gx, "GxWarehouse", _CountingGx)
    monkeypatch.setattr(doris_hook, "DorisHook", _Hook)
    monkeypatch.setattr(results, "save_result", lambda hook, **kw: saved.append(kw["result"].check))

    def evaluate(check: str, *args: Any, **kwargs: Any) -> CheckResult:
        if check == "freshness":
            raise TemporaryError("warehouse unreachable")
        return CheckResult(check, "pass", "ok")

    monkeypatch.setattr(tasks, "evaluate", evaluate)
    with pytest.raises(TemporaryError, match="warehouse unreachable"):
        tasks.run_checks(_settings())
    assert saved == list(CHECKS)


def test_a_check_without_xcom_or_row_fails_as_missing(monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.doris import hook as doris_hook
    from commodity_platform.quality import results, tasks

    monkeypatch.setattr(doris_hook, "DorisHook", _Hook)
    monkeypatch.setattr(tasks, "run_settings", _settings)
    monkeypatch.setattr(results, "load_results", lambda hook, *, run_id: [])
    with pytest.raises(AirflowFailException, match="freshness: no result recorded"):
        tasks.check_result_task("freshness", None)


# -- one Param table, one unit ---------------------------------------------------------------------


def test_dag_params_and_settings_defaults_come_from_the_one_table(dq_dag) -> None:
    table = defaults(DQ_PARAMS)
    assert {name: dq_dag.params[name] for name in dq_dag.params} == table
    s = _settings()
    # Settings fields named like a Param take its default, both in a run's settings and as the dataclass
    # default (empty Params resolve elsewhere: as_of -> the run's instant, commodity_codes -> (), report_dir
    # -> the base directory).
    resolved_elsewhere = {"as_of", "commodity_codes", "report_dir"}
    shared = [f for f in dataclasses.fields(DQSettings) if f.name in table and f.name not in resolved_elsewhere]
    assert len(shared) >= 9, [f.name for f in shared]
    for field in shared:
        assert getattr(s, field.name) == table[field.name], field.name
        declared = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        assert declared == table[field.name], field.name
    assert s.freshness_lookback_seconds == table["freshness_lookback_seconds"] == 86400
    assert s.window_end - s.window_start == timedelta(seconds=table["window_seconds"])


def test_every_duration_param_is_in_seconds() -> None:
    durations = [name for name, spec in DQ_PARAMS.items()
                 if "(s)" in spec.title or "minute" in spec.title.lower() or name.endswith("_minutes")]
    assert durations and all(name.endswith("_seconds") or name == "freshness_tables" for name in durations), durations


@pytest.mark.parametrize(("params", "message"), [
    ({"window_minutes": 60}, r"unknown Param\(s\) \['window_minutes'\]"),
    ({"window_seconds": 90}, "window_seconds: 90 is not a whole number of minutes"),
    ({"window_seconds": 30}, "window_seconds: 30 must be between 60 and 604800"),
    ({"freshness_lookback_seconds": 0}, "freshness_lookback_seconds: 0 must be >= 60"),
])
def test_param_names_and_bounds_come_from_the_table(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_params(params, run_id="r", default_as_of=AS_OF)


def test_window_seconds_sets_the_default_window() -> None:
    s = settings_from_params({"window_seconds": 600}, run_id="r", default_as_of=AS_OF)
    assert (s.window_start, s.window_end) == (datetime(2026, 3, 1, 11, 48), datetime(2026, 3, 1, 11, 58))


def test_check_result_as_dict_is_a_plain_dict_and_summary_text() -> None:
    import json

    from commodity_platform.quality.results import CheckResult, MetricSample

    result = CheckResult("ohlc_correctness", "fail", "1 problem bars in [a, b)",
                         [MetricSample("streaming_dq_ohlc_mismatched_bars", {}, 1.0)],
                         {"comparison": {"examples": [{"bar_start": datetime(2026, 3, 1, 11, 30)}]}})
    data = result.as_dict()
    assert json.loads(json.dumps(data)) == data  # XCom-able as it is
    assert data["samples"] == [{"name": "streaming_dq_ohlc_mismatched_bars", "labels": {}, "value": 1.0}]
    assert data["examples"] == [{"bar_start": "2026-03-01 11:30:00"}]
    assert isinstance(result.summary, str)


def test_bad_params_fail_a_check_task_once_naming_the_field(monkeypatch) -> None:
    """run_checks failed on the Params (no XCom, no rows): the check tasks fail without retry, naming them."""
    from airflow.sdk.exceptions import AirflowFailException

    from commodity_platform.quality import tasks

    def bad_params() -> DQSettings:
        return settings_from_params({"window_seconds": 90}, run_id="r", default_as_of=AS_OF)

    monkeypatch.setattr(tasks, "run_settings", bad_params)
    with pytest.raises(AirflowFailException, match="window_seconds: 90"):
        tasks.check_result_task("error_rate", None)
