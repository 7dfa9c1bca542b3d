"""Fixtures for the deploy tests: the Kubernetes API emulator, upstream CRDs, Airflow in a temp home.

The emulator stands in for the cluster *and* for the three Helm-install Jobs: when such a Job succeeds it
creates what the chart would (the upstream CRDs from /work/shared/reference/crds and the operator Deployment),
so the DAG's "wait for CRDs Established / operator available" gates are exercised for real.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# Airflow's environment and the ``airflow_db`` fixture come from tests/conftest.py (the shared one).
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.k8s.apply import ApplyEngine
from sandbox.k8s_emulator import KubernetesEmulator
from sandbox.k8s_stand_ins import operator_deployment

REFERENCE_CRDS = Path(os.environ.get("PLATFORM_REFERENCE_CRDS", "/work/shared/reference/crds"))


def load_crd(filename: str) -> dict[str, Any]:
    path = REFERENCE_CRDS / filename
    if not path.is_file():
        pytest.fail(f"upstream CRD {path} is missing (set PLATFORM_REFERENCE_CRDS)")
    return yaml.safe_load(path.read_text())


def job_effects() -> dict[str, list[dict[str, Any]]]:
    """What each Helm-install Job of the manifests installs (CRDs from the upstream chart + operator)."""
    return {
        "strimzi-helm-install": [
            load_crd("kafkas.kafka.strimzi.io.yaml"),
            load_crd("kafkanodepools.kafka.strimzi.io.yaml"),
            load_crd("kafkatopics.kafka.strimzi.io.yaml"),
            load_crd("kafkaconnects.kafka.strimzi.io.yaml"),
            load_crd("kafkaconnectors.kafka.strimzi.io.yaml"),
            operator_deployment("strimzi-cluster-operator"),
        ],
        "flink-operator-helm-install": [
            load_crd("flinkdeployments.flink.apache.org.yaml"),
            load_crd("flinksessionjobs.flink.apache.org.yaml"),
            operator_deployment("flink-kubernetes-operator", replicas=2),
        ],
        "doris-operator-helm-install": [
            load_crd("dorisclusters.doris.selectdb.com.yaml"),
            operator_deployment("doris-operator"),
        ],
    }


def monitoring_crds() -> list[dict[str, Any]]:
    """The cluster's monitoring stack (kube-prometheus-stack) is a precondition, not part of the deploy."""
    return [
        load_crd("servicemonitors.monitoring.coreos.com.yaml"),
        load_crd("podmonitors.monitoring.coreos.com.yaml"),
        load_crd("prometheusrules.monitoring.coreos.com.yaml"),
    ]


EmulatorFactory = Callable[..., KubernetesEmulator]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    started: list[KubernetesEmulator] = []

    def factory(**kwargs: Any) -> KubernetesEmulator:
        kwargs.setdefault("delay", 0.3)
        kwargs.setdefault("on_job_complete", job_effects())
        kwargs.setdefault("preinstalled", monitoring_crds())
        emulator = KubernetesEmulator(**kwargs)
        emulator.start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def api_client_for() -> Iterator[Callable[[KubernetesEmulator], Any]]:
    """A kubernetes ApiClient built from the emulator's kubeconfig (what KubernetesHook builds too)."""
    from kubernetes import client, config

    from commodity_platform.deploy.cluster import client_configuration

    clients: list[Any] = []

    def build(emulator: KubernetesEmulator) -> Any:
        configuration = client_configuration()  # what kubernetes_api_client gives KubernetesHook
        config.load_kube_config_from_dict(emulator.kubeconfig(), client_configuration=configuration)
        api = client.ApiClient(configuration)
        clients.append(api)
        return api

    yield build
    for api in clients:
        api.close()


#: The namespace the deploy uses by default (the DAG's Param default), where the engine fixtures apply.
NAMESPACE: str = PhaseOptions().namespace


@pytest.fixture
def make_engine(make_emulator: EmulatorFactory, api_client_for: Callable[[KubernetesEmulator], Any]
                ) -> Iterator[Callable[..., ApplyEngine]]:
    """A factory of ApplyEngines in NAMESPACE, each on a fresh emulator built with the given keyword
    arguments (``engine.emulator``); closed at teardown."""
    engines: list[ApplyEngine] = []

    def build(**emulator_kwargs: Any) -> ApplyEngine:
        emulator = make_emulator(**emulator_kwargs)
        engine = ApplyEngine(api_client_for(emulator), namespace=NAMESPACE)
        engine.emulator = emulator  # type: ignore[attr-defined]  # the tests inspect the cluster behind it
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.close()


@pytest.fixture
def emulator_delay() -> float:
    """Seconds the emulated workloads of the ``engine`` fixture take to become ready; a test module whose
    readiness gates must see intermediate states overrides this fixture (test_apply_engine: 0.3 s)."""
    return 0.1


@pytest.fixture
def engine(make_engine: Callable[..., ApplyEngine], emulator_delay: float) -> ApplyEngine:
    """An ApplyEngine on its own emulator (``engine.emulator``) whose workloads are ready after emulator_delay."""
    return make_engine(delay=emulator_delay)


class RecordingAction:
    """Stands in for reconcile_all / run_migrations of the other packages and records its calls."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.calls: list[dict[str, Any]] = []
        #: Every keyword argument of each call (``calls`` keeps ``dry_run`` only, what most tests check).
        self.arguments: list[dict[str, Any]] = []
        self.result = result

    def __call__(self, *, dry_run: bool, **kwargs: Any) -> dict[str, Any]:
        self.calls.append({"dry_run": dry_run})
        self.arguments.append({"dry_run": dry_run, **kwargs})
        return self.result


@pytest.fixture
def fake_integrations(monkeypatch: pytest.MonkeyPatch) -> dict[str, RecordingAction]:
    """Replace ``reconcile_all`` / ``run_migrations`` where phases 5/8 call them (deploy.integrations)."""
    from commodity_platform.deploy import integrations

    actions = {
        "connectors": RecordingAction({"created": 3, "updated": 0, "unchanged": 0}),
        "use-cases": RecordingAction({"applied": 4, "pending": 0}),
    }
    monkeypatch.setattr(integrations, "reconcile_all", actions["connectors"])
    monkeypatch.setattr(integrations, "run_migrations", actions["use-cases"])
    return actions


# ---------------------------------------------------------------------------------------------- secrets
#: Values distinctive enough to be searched for in logs, XCom and diffs (a leak check, not real credentials).
FAKE_DORIS = {"login": "doris_deployer", "password": "Dp-pw-7f3c9a1e-never-log"}


def fake_connect_secret_values() -> dict[str, str]:
    """One distinctive value per key the connector specs reference (+ a binary truststore as base64)."""
    from commodity_platform.deploy.secrets import connector_secret_keys

    values = {key: f"val-{key}-5b2e8d" for key in sorted(connector_secret_keys())}
    values["elasticsearch-truststore.p12"] = "base64:" + __import__("base64").b64encode(b"\x00\x01p12\xff").decode()
    return values


@pytest.fixture
def platform_connections(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """AIRFLOW_CONN_* of the connections the deploy builds Secrets from; returns the values for leak checks."""
    import json

    connect_values = fake_connect_secret_values()
    monkeypatch.setenv(
        "AIRFLOW_CONN_DORIS_DEFAULT",
        json.dumps({"conn_type": "mysql", "host": "doris-fe", "port": 9030, **FAKE_DORIS}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_CONNECT_SECRETS", json.dumps({"conn_type": "generic", "extra": connect_values})
    )
    return {"doris": dict(FAKE_DORIS), "kafka_connect": connect_values}


def fake_connections(doris: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Any:
    """A ConnectionGetter without Airflow (for deploy_phase / benchmark-style calls)."""
    from commodity_platform.deploy.secrets import ConnectionValues
    from commodity_platform.errors import ConfigError

    doris = FAKE_DORIS if doris is None else doris
    extra = fake_connect_secret_values() if extra is None else extra

    def get(conn_id: str) -> ConnectionValues:
        if conn_id == "doris_default":
            return ConnectionValues(conn_id, doris.get("login"), doris.get("password"))
        if conn_id == "kafka_connect_secrets":
            return ConnectionValues(conn_id, extra=extra)
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined")

    return get
