"""The Param table of the ``streaming_platform_deploy`` DAG: each setting's default, schema and help, stated once.

The DAG file builds its ``params=`` from :data:`DEPLOY_PARAMS`; :class:`PhaseOptions` (the options of one
phase's deploy) takes its defaults from the same table and is filled from a run's resolved values by
:meth:`PhaseOptions.for_phase`. All durations are in seconds. Cheap to import (the DAG file imports it at parse
time): plain data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS, NAMESPACE_RE, PHASE_NAMES, default_timeouts
from commodity_platform.kafka_connect.hook import DEFAULT_RETRY_BUDGET_SECONDS
from commodity_platform.params import ParamSpec, ParamTable, defaults
from commodity_platform.paths import MANIFESTS_DIR
from commodity_platform.validation import finite_number_schema, strict_param_pattern

DEPLOY_PARAMS: ParamTable = {
    "phases": ParamSpec(
        PHASE_NAMES,
        "Phases",
        "Phases to deploy (default: all). Unselected phases are skipped; selected phases assume skipped upstream "
        "phases are already deployed.",
        {"type": "array", "items": {"type": "string", "enum": PHASE_NAMES}, "uniqueItems": True, "minItems": 1,
         "examples": PHASE_NAMES},
    ),
    "dry_run": ParamSpec(
        False,
        "Dry run",
        "Server-side dry run (dryRun=All): log a diff per object, change nothing, do not wait.",
        {"type": "boolean"},
    ),
    "namespace": ParamSpec(
        "data-platform",
        "Namespace",
        "Kubernetes namespace of the platform; forced onto every namespaced object.",
        {"type": "string", "pattern": strict_param_pattern(NAMESPACE_RE.pattern), "maxLength": 63},
    ),
    "wait_timeout_seconds": ParamSpec(
        default_timeouts(),
        "Readiness timeout per phase (s)",
        "How long each phase may take to become ready before it fails with a diagnosis, e.g. {\"kafka\": 900}.",
        {"type": "object", "properties": {name: {"type": "integer", "minimum": 1} for name in PHASE_NAMES},
         "additionalProperties": False},
    ),
    "image_tags": ParamSpec(
        DEFAULT_IMAGE_TAGS,
        "Images and chart versions",
        "Container images and pinned operator chart versions used by the manifests.",
        {"type": "object", "properties": {name: {"type": "string", "minLength": 1} for name in DEFAULT_IMAGE_TAGS},
         "additionalProperties": False},
    ),
    "recheck_seconds": ParamSpec(
        5,
        "Readiness re-check interval (s)",
        "Watches re-evaluate gates at least this often (progress that lives on other objects).",
        finite_number_schema(type="number", minimum=0.1, maximum=3600),
    ),
    "connectors_retry_budget_seconds": ParamSpec(
        int(DEFAULT_RETRY_BUDGET_SECONDS),
        "Connectors retry budget (s)",
        "Total time the connectors phase may spend retrying Kafka Connect requests (409, 5xx, timeouts), shared "
        "by every connector. When it is spent the phase fails at once, naming the connectors not reconciled.",
        {"type": "integer", "minimum": 1, "maximum": 3600},
    ),
}

_DEFAULTS = defaults(DEPLOY_PARAMS)


@dataclass
class PhaseOptions:
    """Run-time options of one phase deploy; defaults are the DAG's Param defaults."""

    namespace: str = _DEFAULTS["namespace"]
    dry_run: bool = _DEFAULTS["dry_run"]
    #: This phase's readiness timeout (one entry of ``wait_timeout_seconds``).
    timeout_seconds: float = 600.0
    image_tags: dict[str, str] = field(default_factory=dict)
    manifests_root: str = str(MANIFESTS_DIR)
    recheck_seconds: float = _DEFAULTS["recheck_seconds"]
    connectors_retry_budget_seconds: float = _DEFAULTS["connectors_retry_budget_seconds"]

    @classmethod
    def for_phase(cls, phase_name: str, values: Mapping[str, Any]) -> PhaseOptions:
        """Options of ``phase_name`` from a run's resolved Params (``resolve_params(DEPLOY_PARAMS, ...)``)."""
        timeouts = {**_DEFAULTS["wait_timeout_seconds"], **(values["wait_timeout_seconds"] or {})}
        return cls(
            namespace=values["namespace"],
            dry_run=bool(values["dry_run"]),
            timeout_seconds=float(timeouts[phase_name]),
            image_tags=dict(values["image_tags"] or {}),
            recheck_seconds=float(values["recheck_seconds"]),
            connectors_retry_budget_seconds=float(values["connectors_retry_budget_seconds"]),
        )
