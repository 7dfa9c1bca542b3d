"""Deploying one phase: render its manifests, apply them stage by stage, wait for readiness, run its action.

Kept free of Airflow so the same code runs in the DAG's tasks, in tests and in the parallelism benchmark.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME, Phase, Stage, render_variables
from commodity_platform.errors import ConfigError

if TYPE_CHECKING:
    from commodity_platform.deploy.secrets import ConnectionGetter

log = logging.getLogger(__name__)

CRD_API_VERSION = "apiextensions.k8s.io/v1"


@dataclass
class StagePlan:
    stage: Stage
    manifests: list[Any]  # list[Manifest]; Any keeps the import of the k8s package lazy


@dataclass
class PhaseReport:
    """What a phase did; small and JSON-safe so it can go to XCom."""

    phase: str
    dry_run: bool
    created: int = 0
    configured: int = 0
    unchanged: int = 0
    objects: dict[str, str] = field(default_factory=dict)
    action: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.created + self.configured

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


def plan_phase(phase: Phase, options: PhaseOptions) -> list[StagePlan]:
    """Load and render the phase's manifests per stage; malformed files fail here, before anything is applied."""
    from commodity_platform.k8s.manifests import load_file

    directory = Path(options.manifests_root) / phase.directory_name
    variables = render_variables(options.namespace, options.image_tags)
    files = sorted(p for p in directory.glob("*") if p.suffix in (".yaml", ".yml")) if directory.is_dir() else []
    if not files and not phase.optional_manifests and phase.action is None:
        raise ConfigError(f"phase {phase.name}: no manifests found in {directory}")
    plans: list[StagePlan] = []
    covered: set[Path] = set()
    seen: dict[tuple[str, str], str] = {}
    for stage in phase.stages:
        stage_files = [p for p in files if p in set(directory.glob(stage.pattern)) and p not in covered]
        covered.update(stage_files)
        manifests = []
        for path in stage_files:
            for manifest in load_file(path, variables):
                key = (manifest.kind, manifest.name)
                if key in seen:
                    raise ConfigError(f"{path}: {manifest.ref} is also defined in {seen[key]}")
                seen[key] = f"{path.name}#{manifest.source.rsplit('#', 1)[1]}"
                manifests.append(manifest)
        plans.append(StagePlan(stage, manifests))
    stray = [p.name for p in files if p not in covered]
    if stray:
        raise ConfigError(f"phase {phase.name}: files {stray} in {directory} match no stage pattern")
    return plans


def plan_secrets(phase: Phase, connections: ConnectionGetter | None = None) -> dict[str, list[str]]:
    """Resolve the phase's Secrets from their Airflow connections: Secret name -> key names (never values).

    Run by the plan task so a missing connection or key fails before the phase applies anything.
    """
    from commodity_platform.deploy.secrets import describe_secrets

    return describe_secrets(phase.secrets, connections) if phase.secrets else {}


def deploy_phase(
    phase_name: str, api_client: Any, options: PhaseOptions, *, connections: ConnectionGetter | None = None
) -> PhaseReport:
    """Apply one phase and wait until it is ready (or, with ``dry_run``, report the diff only).

    :param connections: where Secret values come from (default: Airflow connections); tests pass a fake.
    """
    from commodity_platform.deploy.integrations import ACTIONS
    from commodity_platform.deploy.secrets import build_secrets
    from commodity_platform.k8s.apply import ApplyEngine
    from commodity_platform.k8s.diagnosis import log_diagnosis
    from commodity_platform.k8s.manifests import apply_order
    from commodity_platform.k8s.readiness import WaitTarget, has_gate, wait_ready

    phase = PHASES_BY_NAME[phase_name]
    started = time.monotonic()
    deadline = started + options.timeout_seconds
    plans = plan_phase(phase, options)
    # Every Secret is resolved before anything is applied: a missing connection/key leaves the cluster as it was.
    secrets = build_secrets(phase.secrets, connections) if phase.secrets else []
    report = PhaseReport(phase=phase.name, dry_run=options.dry_run)
    engine = ApplyEngine(api_client, namespace=options.namespace, dry_run=options.dry_run)

    def remaining() -> float:
        return max(1.0, deadline - time.monotonic())

    def record(result: Any) -> None:
        report.objects[f"{result.ref}"] = result.action
        if result.action in ("created", "would-create"):
            report.created += 1
        elif result.action in ("configured", "would-configure"):
            report.configured += 1
        else:
            report.unchanged += 1

    def wait(targets: list[WaitTarget], what: str) -> None:
        label = f"{phase.name}"
        wait_ready(
            engine,
            targets,
            timeout=remaining(),
            label=label,
            recheck_seconds=options.recheck_seconds,
            on_timeout=lambda bad: log_diagnosis(engine, bad, f"{label} ({what})"),
        )

    try:
        if secrets or any(plan.manifests for plan in plans):
            record(engine.ensure_namespace())
        if secrets:
            log.info("%s: applying %d secret(s) from Airflow connections", phase.name, len(secrets))
            for result in engine.apply_all(secrets):
                record(result)
        for plan in plans:
            if not plan.manifests:
                continue
            stage = plan.stage
            prerequisites = [WaitTarget(CRD_API_VERSION, "CustomResourceDefinition", n) for n in stage.requires_crds]
            prerequisites += [WaitTarget(o.api_version, o.kind, o.name) for o in stage.requires_objects]
            if prerequisites and not options.dry_run:
                log.info("%s: stage %s needs %s", phase.name, stage.name, ", ".join(t.ref for t in prerequisites))
                wait(prerequisites, f"prerequisites of stage {stage.name}")
            log.info("%s: applying stage %s (%d objects)", phase.name, stage.name, len(plan.manifests))
            applied = engine.apply_all(apply_order(plan.manifests))
            for result in applied:
                record(result)
            if options.dry_run:
                continue
            targets = [
                WaitTarget(m.api_version, m.kind, m.name) for m in plan.manifests if has_gate(m.api_version, m.kind)
            ]
            wait(targets, f"stage {stage.name}")
        if phase.action is not None:
            report.action = ACTIONS[phase.action](options)
    finally:
        engine.close()
    report.seconds = round(time.monotonic() - started, 3)
    log.info(
        "%s: %s; created=%d configured=%d unchanged=%d in %.1fs",
        phase.name,
        "dry run" if options.dry_run else "deployed",
        report.created,
        report.configured,
        report.unchanged,
        report.seconds,
    )
    return report
