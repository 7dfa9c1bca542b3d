"""Readiness gates per kind and watch-based waiting with progress logging.

A *gate* turns an object into ``(ready, progress, failure)``. Waiting watches each pending object (one watch
per object, in its own thread, so a slow Kafka does not delay noticing that Doris is ready) and re-evaluates
on every event; between events it re-checks every ``recheck_seconds`` because some progress (ready broker
pods of a Strimzi Kafka) lives on other objects than the one watched. Progress is logged when it changes,
e.g. ``kafka: Kafka/commodity-kafka 2/3 brokers ready``.

Gates follow what each controller documents as "done":

* CustomResourceDefinition: condition ``Established``;
* Deployment: ``observedGeneration`` caught up, updated == available == desired replicas (rollout complete);
* StatefulSet: ``observedGeneration`` caught up, ready == updated == desired, currentRevision == updateRevision;
* Job: ``Complete`` condition / ``succeeded`` >= completions; ``Failed`` fails the wait at once;
* Strimzi (``kafka.strimzi.io``) Kafka, KafkaConnect, KafkaTopic, ...: condition ``Ready`` = True for the
  current generation;
* DorisCluster: ``feStatus``/``beStatus`` ``componentCondition.phase == available``;
* FlinkDeployment: job RUNNING, lifecycle STABLE, JobManager deployment READY; FAILED fails at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.dynamic.exceptions import ResourceNotFoundError

from commodity_platform.errors import PermanentError
from commodity_platform.k8s.apply import ApplyEngine, with_retries

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class GateResult:
    ready: bool
    progress: str
    failure: str | None = None


@dataclass(frozen=True)
class WaitTarget:
    """An object to wait for, and how to find its pods when it has to be diagnosed."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"


class ReadinessTimeoutError(PermanentError):
    """Objects did not become ready in time; the message carries the diagnosis summary."""


class ReadinessFailedError(PermanentError):
    """An object reported a terminal failure (Job Failed, FlinkDeployment FAILED)."""


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


def _generation_observed(obj: Obj) -> bool:
    generation = obj.get("metadata", {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (observed is not None and observed >= generation)


def gate_crd(obj: Obj, _engine: ApplyEngine) -> GateResult:
    established = _conditions(obj).get("Established", {}).get("status") == "True"
    return GateResult(established, "established" if established else "waiting for Established")


def gate_deployment(obj: Obj, _engine: ApplyEngine) -> GateResult:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    available = status.get("availableReplicas", 0) or 0
    updated = status.get("updatedReplicas", 0) or 0
    progressing = _conditions(obj).get("Progressing", {})
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return GateResult(False, f"{available}/{desired} replicas available", progressing.get("message"))
    ready = _generation_observed(obj) and available >= desired and updated >= desired
    return GateResult(ready, f"{available}/{desired} replicas available")


def gate_statefulset(obj: Obj, _engine: ApplyEngine) -> GateResult:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    ready_n = status.get("readyReplicas", 0) or 0
    updated = status.get("updatedReplicas", 0) or 0
    same_revision = status.get("currentRevision") == status.get("updateRevision")
    rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    ready = _generation_observed(obj) and ready_n >= desired and (not rolling or (updated >= desired and same_revision))
    return GateResult(ready, f"{ready_n}/{desired} replicas ready")


def gate_job(obj: Obj, _engine: ApplyEngine) -> GateResult:
    conditions = _conditions(obj)
    status = obj.get("status") or {}
    completions = (obj.get("spec") or {}).get("completions", 1) or 1
    if conditions.get("Failed", {}).get("status") == "True":
        failed = conditions["Failed"]
        return GateResult(False, "failed", f"Job failed: {failed.get('reason')}: {failed.get('message')}")
    done = conditions.get("Complete", {}).get("status") == "True" or (status.get("succeeded") or 0) >= completions
    return GateResult(done, f"{status.get('succeeded') or 0}/{completions} completions")


def _count_ready_pods(engine: ApplyEngine, selector: str) -> tuple[int, int]:
    pods = engine.list("v1", "Pod", label_selector=selector)
    ready = sum(1 for p in pods if _conditions(p).get("Ready", {}).get("status") == "True")
    return ready, len(pods)


def gate_strimzi(obj: Obj, engine: ApplyEngine) -> GateResult:
    conditions = _conditions(obj)
    ready = conditions.get("Ready", {}).get("status") == "True" and _generation_observed(obj)
    kind, name = obj.get("kind"), obj["metadata"]["name"]
    if kind == "Kafka":
        pools = engine.list("kafka.strimzi.io/v1", "KafkaNodePool", label_selector=f"strimzi.io/cluster={name}")
        expected = sum(
            (p.get("spec") or {}).get("replicas", 0)
            for p in pools
            if "broker" in (p.get("spec") or {}).get("roles", [])
        )
        ready_pods, _ = _count_ready_pods(engine, f"strimzi.io/cluster={name},strimzi.io/kind=Kafka")
        progress = f"{min(ready_pods, expected) if expected else ready_pods}/{expected or '?'} brokers ready"
    elif kind == "KafkaConnect":
        desired = (obj.get("spec") or {}).get("replicas", 1)
        ready_pods, _ = _count_ready_pods(engine, f"strimzi.io/cluster={name},strimzi.io/kind=KafkaConnect")
        progress = f"{ready_pods}/{desired} workers ready"
    else:
        progress = "ready" if ready else "not ready"
    not_ready = conditions.get("NotReady") or {}
    if not ready and not_ready.get("reason"):
        progress += f" ({not_ready.get('reason')}: {not_ready.get('message', '')})"
    return GateResult(ready, progress)


def gate_doris(obj: Obj, _engine: ApplyEngine) -> GateResult:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    parts, ready = [], True
    for comp, spec_key in (("fe", "feSpec"), ("be", "beSpec"), ("cn", "cnSpec"), ("broker", "brokerSpec")):
        if spec_key not in spec:
            continue
        comp_status = status.get(f"{comp}Status") or {}
        phase = (comp_status.get("componentCondition") or {}).get("phase", "pending")
        running = len(comp_status.get("runningInstances") or [])
        parts.append(f"{comp} {running}/{spec[spec_key].get('replicas', '?')} running ({phase})")
        ready = ready and phase == "available"
    return GateResult(ready, ", ".join(parts))


def gate_flink(obj: Obj, _engine: ApplyEngine) -> GateResult:
    status = obj.get("status") or {}
    job_state = (status.get("jobStatus") or {}).get("state", "UNKNOWN")
    lifecycle = status.get("lifecycleState", "UNKNOWN")
    jm = status.get("jobManagerDeploymentStatus", "UNKNOWN")
    progress = f"job {job_state}, lifecycle {lifecycle}, jobmanager {jm}"
    if lifecycle == "FAILED" or job_state == "FAILED" or jm == "ERROR":
        return GateResult(False, progress, status.get("error") or progress)
    return GateResult(job_state == "RUNNING" and lifecycle == "STABLE" and jm == "READY", progress)


GATES: dict[tuple[str, str], Callable[[Obj, ApplyEngine], GateResult]] = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"): gate_crd,
    ("apps", "Deployment"): gate_deployment,
    ("apps", "StatefulSet"): gate_statefulset,
    ("batch", "Job"): gate_job,
    ("kafka.strimzi.io", "Kafka"): gate_strimzi,
    ("kafka.strimzi.io", "KafkaConnect"): gate_strimzi,
    ("kafka.strimzi.io", "KafkaTopic"): gate_strimzi,
    ("kafka.strimzi.io", "KafkaConnector"): gate_strimzi,
    ("kafka.strimzi.io", "KafkaUser"): gate_strimzi,
    ("doris.selectdb.com", "DorisCluster"): gate_doris,
    ("flink.apache.org", "FlinkDeployment"): gate_flink,
}


def has_gate(api_version: str, kind: str) -> bool:
    return (api_version.rpartition("/")[0], kind) in GATES


def evaluate(obj: Obj | None, engine: ApplyEngine) -> GateResult:
    if obj is None:
        return GateResult(False, "not found yet")
    gate = GATES.get((obj.get("apiVersion", "").rpartition("/")[0], obj.get("kind", "")))
    if gate is None:
        return GateResult(True, "exists")
    return gate(obj, engine)


@dataclass
class _Watcher:
    target: WaitTarget
    label: str
    engine: ApplyEngine
    deadline: float
    recheck_seconds: float
    stop: threading.Event
    result: GateResult = field(default_factory=lambda: GateResult(False, "not checked yet"))
    error: BaseException | None = None
    _last_progress: str = ""

    def _report(self, result: GateResult) -> None:
        self.result = result
        if result.progress != self._last_progress:
            self._last_progress = result.progress
            log.info("%s: %s %s%s", self.label, self.target.ref, result.progress, " ✓" if result.ready else "")

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by wait_ready in the calling thread
            self.error = exc

    def _run(self) -> None:
        t = self.target
        while not self.stop.is_set():
            try:
                resource = self.engine.resource(t.api_version, t.kind)
            except ResourceNotFoundError:
                resource = None  # its CRD is not served yet; check again shortly
            obj = self.engine.get(t.api_version, t.kind, t.name, t.namespace) if resource else None
            self._report(evaluate(obj, self.engine))
            if self.result.ready or self.result.failure:
                return
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                return
            window = max(1, int(min(remaining, self.recheck_seconds) + 0.999))
            if resource is None:
                self.stop.wait(min(remaining, 0.5))
                continue
            ns = (t.namespace or self.engine.namespace) if resource.namespaced else None
            rv = obj["metadata"]["resourceVersion"] if obj else None

            def stream(
                resource: Any = resource, ns: str | None = ns, rv: str | None = rv, window: int = window
            ) -> list[Any]:
                events = []
                for event in self.engine.client.watch(
                    resource, namespace=ns, name=t.name, resource_version=rv, timeout=window
                ):
                    events.append(event)
                    raw = event.get("raw_object") or {}
                    if event.get("type") in ("ADDED", "MODIFIED") and raw.get("metadata", {}).get("name") == t.name:
                        result = evaluate(raw, self.engine)
                        self._report(result)
                        if result.ready or result.failure or self.stop.is_set():
                            break
                    if time.monotonic() >= self.deadline:
                        break
                return events

            with_retries(stream)
            if self.result.ready or self.result.failure:
                return


def wait_ready(
    engine: ApplyEngine,
    targets: list[WaitTarget],
    *,
    timeout: float,
    label: str,
    recheck_seconds: float = 5.0,
    on_timeout: Callable[[list[WaitTarget]], str] | None = None,
) -> None:
    """Block until every target passes its gate; raise with a diagnosis on timeout or terminal failure."""
    targets = [t for t in targets if t is not None]
    if not targets:
        return
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    watchers = [_Watcher(t, label, engine, deadline, recheck_seconds, stop) for t in targets]
    threads = [threading.Thread(target=w.run, name=f"wait-{w.target.ref}", daemon=True) for w in watchers]
    log.info("%s: waiting up to %.0fs for %d object(s) to become ready", label, timeout, len(targets))
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 10)
    finally:
        stop.set()
    for w in watchers:
        if w.error is not None:
            raise w.error
    failed = [w for w in watchers if w.result.failure]
    pending = [w for w in watchers if not w.result.ready]
    if not failed and not pending:
        log.info("%s: all %d object(s) ready", label, len(targets))
        return
    bad = failed or pending
    diagnosis = on_timeout([w.target for w in bad]) if on_timeout else ""
    summary = "; ".join(f"{w.target.ref}: {w.result.failure or w.result.progress}" for w in bad)
    if failed:
        raise ReadinessFailedError(f"{label}: failed: {summary}. {diagnosis}".strip())
    raise ReadinessTimeoutError(f"{label}: not ready after {timeout:.0f}s: {summary}. {diagnosis}".strip())
