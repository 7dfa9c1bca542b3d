"""Reconcile Kafka Connect connectors with their spec files - idempotently.

For each connector the loop: diffs the spec against the live config (logging the diff with secrets
masked); validates and writes the config only when it differs; brings the connector to its desired state
(running / paused / stopped); waits until the connector *and every task* report that state; restarts
failed tasks a bounded number of times. Optionally it prunes managed (prefixed) connectors that no longer
have a spec - never anything else.

Why it is shaped like this:

* **Idempotent by comparison, not by blind PUT.** ``PUT /connectors/{name}/config`` restarts the
  connector and its tasks even when nothing changed, so an unconditional PUT on every run would bounce
  production pipelines. A run over an unchanged cluster sends only GETs.
* **One snapshot for many connectors.** :func:`reconcile_all` reads every connector's config and status
  with one ``GET /connectors?expand=status&expand=info``, so a no-change run costs one request, not 2N.
* **Validation only before a write.** ``.../config/validate`` is read-only but costs a request per
  connector; a config that equals the live one was accepted by Connect already.
* **Plain functions and classes**, no Airflow imports: the ``kafka_connect_register`` DAG and the deploy
  DAG's connectors phase both call this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commodity_platform.errors import ConfigError, PermanentError, PlatformError, TemporaryError
from commodity_platform.kafka_connect.hook import (
    DEFAULT_RETRY_BUDGET_SECONDS,
    ConnectorAlreadyExists,
    ConnectorNotFound,
    KafkaConnectHook,
    RetryBudget,
    RetryBudgetExhausted,
)
from commodity_platform.kafka_connect.specs import (
    CONNECTORS_DIR,
    MANAGED_PREFIX,
    ConnectorSpec,
    desired_config_diff,
    format_diff,
    load_specs,
)
from commodity_platform.validation import LOG_LIST_LIMIT, cap_list, truncate_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveConnector:
    """What the cluster reports for one connector: its stored config and its status."""

    name: str
    config: dict[str, str]
    status: dict[str, Any]

    @property
    def connector_state(self) -> str | None:
        return (self.status.get("connector") or {}).get("state")


@dataclass
class ConnectorResult:
    """Outcome of reconciling one connector. Holds key names and states only - never config values -
    so it is safe to return through XCom."""

    name: str
    desired_state: str
    outcome: str = "unchanged"
    actions: list[str] = field(default_factory=list)
    changed_keys: list[str] = field(default_factory=list)
    final_state: str | None = None
    restarts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "desired_state": self.desired_state,
            "outcome": self.outcome,
            "actions": list(self.actions),
            "changed_keys": list(self.changed_keys),
            "final_state": self.final_state,
            "restarts": self.restarts,
        }


@dataclass
class ReconcileReport:
    """Result of a whole run: per-connector results and the connectors pruned (or to prune)."""

    results: list[ConnectorResult]
    pruned: list[str]
    dry_run: bool
    # Scalar counts, so callers that summarise ``vars(report)`` (the deploy DAG) get useful figures.
    changed: int = field(init=False)
    unchanged: int = field(init=False)

    def __post_init__(self) -> None:
        self.unchanged = sum(1 for r in self.results if r.outcome == "unchanged")
        self.changed = len(self.results) - self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "results": [r.as_dict() for r in self.results],
            "pruned": list(self.pruned),
        }


def state_summary(status: Mapping[str, Any]) -> str:
    tasks = ", ".join(f"{t.get('id')}={t.get('state')}" for t in status.get("tasks") or [])
    return f"connector={(status.get('connector') or {}).get('state')} tasks=[{tasks}]"


def failed_parts(status: Mapping[str, Any]) -> list[str]:
    """FAILED connector/tasks with the first line of their trace (the exception, not the stack)."""
    out = []
    connector = status.get("connector") or {}
    if connector.get("state") == "FAILED":
        out.append(f"connector on {connector.get('worker_id')}: {_first_line(connector.get('trace'))}")
    for task in status.get("tasks") or []:
        if task.get("state") == "FAILED":
            out.append(f"task {task.get('id')} on {task.get('worker_id')}: {_first_line(task.get('trace'))}")
    return out


def _first_line(trace: str | None) -> str:
    return (trace or "no trace").strip().splitlines()[0][:300] if trace else "no trace"


def at_desired_state(status: Mapping[str, Any], spec: ConnectorSpec) -> bool:
    """Whether the connector and all its tasks are where the spec wants them.

    ``running`` also requires at least one task: right after (re)configuration a connector can be
    RUNNING with no tasks assigned yet, and that is not a working pipeline.
    """
    connector_state = (status.get("connector") or {}).get("state")
    tasks = status.get("tasks") or []
    target = spec.connect_state
    if connector_state != target:
        return False
    if spec.state == "stopped":
        return True  # a stopped connector's tasks are shut down and their configs dropped
    if spec.state == "running" and not tasks:
        return False
    return all(t.get("state") == target for t in tasks)


def find_orphans(
    live_names: Iterable[str], spec_names: Iterable[str], prefix: str = MANAGED_PREFIX
) -> list[str]:
    """Managed connectors without a spec. Only names with ``prefix`` can ever be returned."""
    if not prefix:
        raise ConfigError("prune: the managed-name prefix is empty; refusing to consider every connector")
    wanted = set(spec_names)
    return sorted(n for n in live_names if n.startswith(prefix) and n not in wanted)


class ConnectorReconciler:
    """Drive connectors to their specs through a :class:`KafkaConnectHook`.

    :param dry_run: compute and log what would change (validation included); send no write.
    :param wait_timeout: seconds to wait for a connector and its tasks to reach the desired state;
        exceeded -> :class:`TemporaryError` (workers may just be slow; Airflow's retry re-checks).
    :param poll_interval: longest wait between status polls; polling starts at ``first_poll_interval``
        and doubles, because most connectors settle within a second and a fixed long interval would
        dominate the run time.
    :param max_restarts: restarts of failed tasks per connector before giving up with the traces.
    """

    def __init__(
        self,
        hook: KafkaConnectHook,
        *,
        dry_run: bool = False,
        wait_timeout: float = 180.0,
        poll_interval: float = 2.0,
        first_poll_interval: float = 0.25,
        max_restarts: int = 3,
        prefix: str = MANAGED_PREFIX,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hook = hook
        self.dry_run = dry_run
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.first_poll_interval = min(first_poll_interval, poll_interval)
        self.max_restarts = max_restarts
        self.prefix = prefix
        self._sleep = sleep
        self._clock = clock
        self._plugins: list[str] | None = None

    # -- reading --------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, LiveConnector]:
        """Every connector's config and status from one expanded listing."""
        expanded = self.hook.list_connectors_expanded()
        return {
            name: LiveConnector(
                name=name,
                config=dict((entry.get("info") or {}).get("config") or {}),
                status=dict(entry.get("status") or {}),
            )
            for name, entry in expanded.items()
        }

    def fetch(self, name: str) -> LiveConnector | None:
        """One connector's config and status (two GETs); None when it does not exist."""
        try:
            info = self.hook.get_connector(name)
            status = self.hook.get_status(name)
        except ConnectorNotFound:
            return None
        return LiveConnector(name=name, config=dict(info.get("config") or {}), status=status)

    # -- validation --------------------------------------------------------------------------------------

    def installed_plugins(self) -> list[str]:
        if self._plugins is None:
            self._plugins = sorted(p["class"] for p in self.hook.list_connector_plugins())
        return self._plugins

    def _resolve_plugin(self, connector_class: str) -> str | None:
        """Connect accepts the full class name or its simple-name aliases (``DorisSinkConnector``,
        ``DorisSink``); mirror that so an alias in a spec is not reported as unknown."""
        for plugin in self.installed_plugins():
            simple = plugin.rsplit(".", 1)[-1]
            if connector_class in (plugin, simple, simple.removesuffix("Connector")):
                return plugin
        return None

    def validate(self, spec: ConnectorSpec) -> None:
        """Ask Connect to validate the config; raise :class:`ConfigError` listing every field error.

        The plugin is checked against the installed list first: Connect answers an unknown class on the
        validate endpoint with a 500, which would look transient and be retried for nothing.
        """
        plugin = self._resolve_plugin(spec.connector_class)
        if plugin is None:
            installed = ", ".join(self.installed_plugins()) or "none"
            raise ConfigError(
                f"{spec.location}: config key 'connector.class': plugin {spec.connector_class!r} is not "
                f"installed on the Connect cluster; installed: {installed}"
            )
        # The class goes into the path as written in the spec: Connect checks that the body's
        # connector.class ends with the path's class, so a resolved full name would not match an alias.
        body = self.hook.validate_config(spec.connector_class, spec.config)
        if int(body.get("error_count", 0)) == 0:
            return
        problems = []
        for item in body.get("configs") or []:
            value = item.get("value") or {}
            for error in value.get("errors") or []:
                problems.append(f"{value.get('name')}: {error}")
        raise ConfigError(
            f"{spec.location}: Connect rejected the config of {spec.name} "
            f"({body.get('error_count')} error(s)): " + "; ".join(problems or ["(no per-field detail)"])
        )

    # -- reconcile ----------------------------------------------------------------------------------------

    def reconcile_one(
        self, spec: ConnectorSpec, snapshot: Mapping[str, LiveConnector] | None = None
    ) -> ConnectorResult:
        """Bring one connector to its spec. With ``snapshot`` the live view comes from it (no GET)."""
        result = ConnectorResult(name=spec.name, desired_state=spec.state)
        live = snapshot.get(spec.name) if snapshot is not None else self.fetch(spec.name)

        diff = desired_config_diff(spec.config, live.config if live else None)
        result.changed_keys = [key for key, _, _ in diff]
        if live is not None and not diff and at_desired_state(live.status, spec):
            result.final_state = live.connector_state
            log.info("%s: in sync (%s), nothing to do", spec.name, state_summary(live.status))
            return result

        if diff:
            verb = "create" if live is None else "update"
            log.info(
                "%s: config %s (%d key(s)) from %s:\n  %s",
                spec.name,
                verb,
                len(diff),
                spec.location,
                truncate_text("\n  ".join(format_diff(diff))),
            )
            self.validate(spec)
            if self.dry_run:
                result.actions.append(f"would {verb} config")
            else:
                self._write_config(spec, live, result)

        state_action = self._state_action(spec, live)
        if state_action:
            if self.dry_run:
                result.actions.append(f"would {state_action}")
            else:
                log.info("%s: %s (desired state %s)", spec.name, state_action, spec.state)
                getattr(self.hook, state_action)(spec.name)
                result.actions.append(state_action)

        if self.dry_run:
            if live is not None and failed_parts(live.status):
                result.actions.append("would restart failed tasks")
            result.outcome = "dry-run" if result.actions else "unchanged"
            result.final_state = live.connector_state if live else None
            log.info("%s: dry run, would do: %s", spec.name, ", ".join(result.actions) or "nothing")
            return result

        status = self._await_state(spec, result)
        result.final_state = (status.get("connector") or {}).get("state")
        if result.outcome == "unchanged" and result.actions:
            result.outcome = "repaired" if result.restarts else "state-changed"
        log.info("%s: %s -> %s", spec.name, result.outcome, state_summary(status))
        return result

    def _write_config(self, spec: ConnectorSpec, live: LiveConnector | None, result: ConnectorResult) -> None:
        if live is None and spec.state != "running":
            # A new connector that should not run is created in that state, never started in between.
            try:
                self.hook.create_connector(spec.name, spec.config, initial_state=spec.connect_state)
                result.actions.append(f"created ({spec.connect_state})")
                result.outcome = "created"
                return
            except ConnectorAlreadyExists:
                log.warning("%s: created concurrently by someone else; updating its config", spec.name)
        created = self.hook.put_config(spec.name, spec.config)
        result.actions.append("created" if created else "updated config")
        result.outcome = "created" if created else "updated"

    @staticmethod
    def _state_action(spec: ConnectorSpec, live: LiveConnector | None) -> str | None:
        """Which state call is needed. The target state survives config updates, so it is decided from
        the state before any write; a new connector is already created in its desired state."""
        if live is None:
            return None
        current = live.connector_state
        if spec.state == "running" and current in ("PAUSED", "STOPPED"):
            return "resume"
        if spec.state == "paused" and current != "PAUSED":
            return "pause"
        if spec.state == "stopped" and current != "STOPPED":
            return "stop"
        return None

    def _await_state(self, spec: ConnectorSpec, result: ConnectorResult) -> dict[str, Any]:
        """Poll the status until the connector and all tasks reach the desired state.

        FAILED parts are restarted (``includeTasks=true&onlyFailed=true`` keeps healthy tasks running)
        at most ``max_restarts`` times; then the traces are reported as a permanent failure, because
        restarting the same crash forever hides it.
        """
        deadline = self._clock() + self.wait_timeout
        polls = 0
        while True:
            polls += 1
            try:
                status = self.hook.get_status(spec.name)
            except ConnectorNotFound:
                status = {}  # just created: the status topic has not caught up yet
            if status and at_desired_state(status, spec):
                return status
            failed = failed_parts(status)
            if failed and spec.state != "stopped":
                if result.restarts >= self.max_restarts:
                    raise PermanentError(
                        f"{spec.name} ({spec.location}): still FAILED after {result.restarts} restart(s): "
                        + " | ".join(failed)
                    )
                result.restarts += 1
                log.warning(
                    "%s: restarting failed parts (restart %d/%d): %s",
                    spec.name,
                    result.restarts,
                    self.max_restarts,
                    " | ".join(failed),
                )
                self.hook.restart(spec.name, include_tasks=True, only_failed=True)
                result.actions.append("restarted failed tasks")
            elif self._clock() >= deadline:
                raise TemporaryError(
                    f"{spec.name}: not {spec.connect_state} after {self.wait_timeout:.0f}s "
                    f"({polls} polls): {state_summary(status) if status else 'no status yet'}"
                )
            else:
                log.info(
                    "%s: waiting for %s (poll %d): %s",
                    spec.name,
                    spec.connect_state,
                    polls,
                    state_summary(status) if status else "no status yet",
                )
            self._sleep(min(self.poll_interval, self.first_poll_interval * 2 ** (polls - 1)))

    # -- prune ------------------------------------------------------------------------------------------

    def prune(self, all_specs: Sequence[ConnectorSpec], live_names: Iterable[str] | None = None) -> list[str]:
        """Delete managed connectors that have no spec; return their names.

        ``all_specs`` must be the *complete* set (never a subset run's selection), and an empty set is
        refused: a missing or empty spec directory must not translate into "delete everything".
        """
        if not all_specs:
            raise ConfigError("prune: no connector specs loaded; refusing to prune")
        names = list(live_names) if live_names is not None else self.hook.list_connector_names()
        orphans = find_orphans(names, (s.name for s in all_specs), self.prefix)
        for name in orphans:
            if self.dry_run:
                log.info("%s: would delete (managed prefix %r, no spec)", name, self.prefix)
                continue
            log.info("%s: deleting (managed prefix %r, no spec)", name, self.prefix)
            try:
                self.hook.delete(name)
            except ConnectorNotFound:
                log.info("%s: already gone", name)
        unmanaged = sorted(n for n in names if not n.startswith(self.prefix))
        if unmanaged:
            log.info(
                "prune: leaving %d unmanaged connector(s) alone: %s", len(unmanaged), ", ".join(unmanaged)
            )
        return orphans


def reconcile_all(
    hook: KafkaConnectHook | None = None,
    *,
    specs_dir: Path = CONNECTORS_DIR,
    only: Sequence[str] | None = None,
    dry_run: bool = False,
    prune: bool = False,
    retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS,
    **reconciler_kwargs: Any,
) -> ReconcileReport:
    """Reconcile every (or the ``only``) spec in ``specs_dir`` from one snapshot; optionally prune.

    Entry point for other DAGs: the deploy DAG's connectors phase calls ``reconcile_all(dry_run=...)``;
    without ``hook`` a :class:`KafkaConnectHook` on ``kafka_connect_default`` is opened and closed here.
    The returned report holds names, states and key names only (XCom-safe). A failing connector does not stop
    the others; afterwards the failures are raised together - as :class:`PermanentError` if any is
    permanent (fix the spec), else :class:`TemporaryError` (retry). Pruning happens only after every
    selected connector reconciled cleanly.
    """
    all_specs = load_specs(specs_dir)
    selected = load_specs(specs_dir, only=only) if only else all_specs
    budget = RetryBudget.starting_now(retry_budget_seconds)
    if hook is None:
        with KafkaConnectHook(budget=budget) as own_hook:
            return _reconcile_selected(own_hook, all_specs, selected, dry_run, prune, reconciler_kwargs)
    if hook.budget is None:  # every request of this run shares one budget
        hook.budget = budget
    return _reconcile_selected(hook, all_specs, selected, dry_run, prune, reconciler_kwargs)


def _reconcile_selected(
    hook: KafkaConnectHook,
    all_specs: Sequence[ConnectorSpec],
    selected: Sequence[ConnectorSpec],
    dry_run: bool,
    prune: bool,
    reconciler_kwargs: Mapping[str, Any],
) -> ReconcileReport:
    reconciler = ConnectorReconciler(hook, dry_run=dry_run, **reconciler_kwargs)
    try:
        snapshot = reconciler.snapshot()
    except RetryBudgetExhausted as exc:
        raise RetryBudgetExhausted(
            f"{len(selected)} connector(s) not reconciled: {cap_list(s.name for s in selected)}: {exc}"
        ) from exc

    results: list[ConnectorResult] = []
    failures: list[tuple[str, PlatformError]] = []
    not_attempted: list[str] = []
    for spec in selected:
        if failures and isinstance(failures[-1][1], RetryBudgetExhausted):
            not_attempted.append(spec.name)  # the budget is shared: the rest would fail the same way
            continue
        try:
            results.append(reconciler.reconcile_one(spec, snapshot))
        except PlatformError as exc:
            log.error("%s: reconcile failed: %s", spec.name, exc)
            failures.append((spec.name, exc))
    if failures:
        not_reconciled = [name for name, _ in failures] + not_attempted
        message = (
            f"{len(failures)} connector(s) failed to reconcile; {len(not_reconciled)} connector(s) not reconciled: "
            f"{cap_list(not_reconciled)}. "
            + " || ".join(f"{name}: {exc}" for name, exc in failures[:LOG_LIST_LIMIT])
        )
        if any(isinstance(exc, PermanentError) for _, exc in failures):
            raise PermanentError(message)
        raise TemporaryError(message)

    pruned = reconciler.prune(all_specs, snapshot.keys()) if prune else []
    return ReconcileReport(results=results, pruned=pruned, dry_run=dry_run)
