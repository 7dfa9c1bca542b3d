"""What to tell an operator when something does not become ready.

A timeout alone ("kafka not ready after 900s") sends the operator to ``kubectl``. The diagnosis collects what
they would look at first: the object's own conditions, the Warning events about it, and for each of its pods
that is not Ready the pod conditions, the container states (waiting reason such as ``ImagePullBackOff`` or
``CrashLoopBackOff``, last termination with exit code) and the pod's own events. It is logged in full and
summarised into the failure message.
"""

from __future__ import annotations

import logging
from typing import Any

from commodity_platform.k8s.apply import ApplyEngine
from commodity_platform.k8s.readiness import WaitTarget

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MAX_PODS = 10
MAX_EVENTS = 10


def pod_selector(obj: Obj) -> str | None:
    """The label selector of the pods an object runs, per kind (operators label pods their own way)."""
    kind, name = obj.get("kind"), obj["metadata"]["name"]
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        labels = (spec.get("selector") or {}).get("matchLabels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or None
    if kind == "Job":
        return f"job-name={name}"
    if kind in ("Kafka", "KafkaConnect"):
        return f"strimzi.io/cluster={name},strimzi.io/kind={kind}"
    if kind == "DorisCluster":
        return f"app.doris.ownerreference/name in ({name}-fe,{name}-be)"
    if kind == "FlinkDeployment":
        return f"app={name}"
    return None


def _events_for(engine: ApplyEngine, kind: str, name: str) -> list[str]:
    events = engine.list("v1", "Event", field_selector=f"involvedObject.name={name}")
    lines = []
    for ev in events[-MAX_EVENTS:]:
        if (ev.get("involvedObject") or {}).get("kind") not in (None, kind):
            continue
        lines.append(f"{ev.get('type', '?')} {ev.get('reason', '?')}: {ev.get('message', '')} (x{ev.get('count', 1)})")
    return lines


def _container_state(status: Obj) -> str:
    state = status.get("state") or {}
    if "waiting" in state:
        w = state["waiting"] or {}
        text = f"waiting {w.get('reason', '')}: {w.get('message', '')}".rstrip(": ")
    elif "terminated" in state:
        t = state["terminated"] or {}
        text = f"terminated {t.get('reason', '')} exit={t.get('exitCode')}: {t.get('message', '')}".rstrip(": ")
    elif "running" in state:
        text = "running"
    else:
        text = "unknown"
    last = (status.get("lastState") or {}).get("terminated")
    if last:
        text += f"; last terminated {last.get('reason')} exit={last.get('exitCode')}"
    return f"{status.get('name')}: {text}, ready={status.get('ready')}, restarts={status.get('restartCount', 0)}"


def _split_selector(selector: str) -> list[str]:
    """Selectors with ``in (a,b)`` are expanded into simple equality selectors the emulator also serves."""
    if " in (" not in selector:
        return [selector]
    key, _, values = selector.partition(" in (")
    return [f"{key}={v.strip()}" for v in values.rstrip(")").split(",")]


def diagnose(engine: ApplyEngine, targets: list[WaitTarget]) -> tuple[str, str]:
    """Return (full report for the log, one-line summary for the exception)."""
    lines: list[str] = []
    summary: list[str] = []
    for target in targets:
        try:
            obj = engine.get(target.api_version, target.kind, target.name, target.namespace)
        except Exception as exc:  # diagnosis is best effort; never mask the timeout itself
            lines.append(f"== {target.ref}: cannot read it: {exc}")
            continue
        lines.append(f"== {target.ref}")
        if obj is None:
            lines.append("   object does not exist")
            summary.append(f"{target.ref} missing")
            continue
        for cond in (obj.get("status") or {}).get("conditions") or []:
            lines.append(
                f"   condition {cond.get('type')}={cond.get('status')} {cond.get('reason', '')} "
                f"{cond.get('message', '')}".rstrip()
            )
        for event in _events_for(engine, target.kind, target.name):
            lines.append(f"   event {event}")
        selector = pod_selector(obj)
        if not selector:
            continue
        pods: list[Obj] = []
        for sel in _split_selector(selector):
            pods.extend(engine.list("v1", "Pod", label_selector=sel))
        unready = [
            p
            for p in pods
            if not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        ]
        lines.append(f"   pods ({selector}): {len(pods) - len(unready)}/{len(pods)} ready")
        for pod in unready[:MAX_PODS]:
            status = pod.get("status") or {}
            pod_name = pod["metadata"]["name"]
            lines.append(f"   pod {pod_name}: phase={status.get('phase')}")
            for cond in status.get("conditions") or []:
                if cond.get("status") != "True":
                    lines.append(
                        f"     condition {cond.get('type')}={cond.get('status')} {cond.get('reason', '')} "
                        f"{cond.get('message', '')}".rstrip()
                    )
            states = [_container_state(cs) for cs in status.get("containerStatuses") or []]
            states += [f"init {_container_state(cs)}" for cs in status.get("initContainerStatuses") or []]
            for state in states:
                lines.append(f"     container {state}")
            for event in _events_for(engine, "Pod", pod_name):
                lines.append(f"     event {event}")
            waiting = [s for s in states if "waiting" in s or "terminated" in s]
            summary.append(f"pod {pod_name}: {waiting[0] if waiting else status.get('phase')}")
    report = "\n".join(lines)
    return report, "; ".join(summary[:5])


def log_diagnosis(engine: ApplyEngine, targets: list[WaitTarget], label: str) -> str:
    """Log the full diagnosis and return the summary to put in the failure message."""
    report, summary = diagnose(engine, targets)
    log.error("%s: diagnosis of objects that are not ready:\n%s", label, report)
    return f"Diagnosis: {summary}" if summary else "Diagnosis: see the task log."
