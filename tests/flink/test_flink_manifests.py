"""The flink-apps manifests: valid against the upstream FlinkDeployment CRD, and deployed as designed.

Runs in the Airflow venv (jsonschema, PyYAML, kubernetes-validate); no cluster, no PyFlink needed. The
manifests are loaded through the deploy DAG's own loader, so placeholders are rendered exactly as deployed.
The CRD is the operator's own (``helm/flink-kubernetes-operator/crds``), location overridable with
``FLINK_DEPLOYMENT_CRD``.
"""

from __future__ import annotations

import copy
import os
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME
from tests.flink.flink_testlib import FLINK_DIR, REPO_ROOT

MANIFEST_DIR = REPO_ROOT / "include" / "manifests" / "06-flink-apps"
CRD_PATH = Path(
    os.environ.get(
        "FLINK_DEPLOYMENT_CRD", "/work/shared/reference/crds/flinkdeployments.flink.apache.org.yaml"
    )
)
KUBERNETES_VERSION = "1.33"
#: Validated by the API server itself for every kind; CRD schemas do not repeat them.
ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def _flink_version() -> str:
    pins = re.findall(r"^apache-flink==(\S+)\s*$", (FLINK_DIR / "requirements.txt").read_text(), re.MULTILINE)
    assert len(pins) == 1, "include/flink/requirements.txt must pin apache-flink exactly once"
    return pins[0]


def _job_names() -> set[str]:
    # The job registry is stdlib-only, so it imports fine outside the PyFlink venv.
    sys.path.insert(0, str(FLINK_DIR))
    try:
        from commodity_flink.jobs import JOBS
    finally:
        sys.path.remove(str(FLINK_DIR))
    return set(JOBS)


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    if not CRD_PATH.exists():
        pytest.fail(f"FlinkDeployment CRD not found at {CRD_PATH}; set FLINK_DEPLOYMENT_CRD", pytrace=False)
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return version["schema"]["openAPIV3Schema"]


@pytest.fixture(scope="module")
def manifests() -> list[tuple[str, dict[str, Any]]]:
    """The phase's manifests as the deploy DAG renders them (``${dp:namespace}`` -> data-platform)."""
    plans = plan_phase(PHASES_BY_NAME["flink-apps"], PhaseOptions())
    docs = [(manifest.source, manifest.body) for plan in plans for manifest in plan.manifests]
    assert docs, f"no manifests in {MANIFEST_DIR}"
    assert {source.split("#")[0] for source, _ in docs} == {p.name for p in MANIFEST_DIR.glob("*.yaml")}
    return docs


@pytest.fixture(scope="module")
def deployments(manifests) -> dict[str, dict[str, Any]]:
    found = {doc["metadata"]["name"]: doc for _, doc in manifests if doc.get("kind") == "FlinkDeployment"}
    assert len(found) == 3
    return found


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the schema does not declare -- the API server would prune them without a word.

    jsonschema alone accepts them (the CRD has no ``additionalProperties: false``), so a typo such as
    ``upgradeMod`` would otherwise pass validation and silently fall back to the default.
    """
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    problems = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if not path and key in ROOT_FIELDS:
                continue
            if key not in schema["properties"]:
                problems.append(f"{path}.{key}")
            else:
                problems += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            problems += unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return problems


def crd_errors(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
    return errors + [f"unknown field {field}" for field in unknown_fields(doc, schema)]


def test_flink_deployments_validate_against_the_crd(deployments, crd_schema) -> None:
    for name, doc in deployments.items():
        assert doc["apiVersion"] == "flink.apache.org/v1beta1"
        assert crd_errors(doc, crd_schema) == [], name


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (lambda d: d["spec"]["job"].update(upgradeMode="rolling"), "is not one of"),
        (lambda d: d["spec"]["taskManager"]["resource"].update(cpu="two"), "is not of type"),
        (lambda d: d["spec"].update(flinkVersion="v1_99"), "is not one of"),
        (lambda d: d["spec"]["job"].update(upgradeMod="savepoint"), "unknown field .spec.job.upgradeMod"),
    ],
    ids=["bad-enum", "bad-type", "bad-flink-version", "typo-field"],
)
def test_crd_validation_catches_broken_manifests(deployments, crd_schema, mutation, expected) -> None:
    """Negative controls: the validation above would notice a broken manifest."""
    broken = copy.deepcopy(next(iter(deployments.values())))
    mutation(broken)
    assert any(expected in error for error in crd_errors(broken, crd_schema))


def test_other_manifests_are_valid_kubernetes_objects(manifests) -> None:
    others = [(file, doc) for file, doc in manifests if doc.get("kind") != "FlinkDeployment"]
    assert [doc["kind"] for _, doc in others] == ["PersistentVolumeClaim"]
    for file, doc in others:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        assert doc["metadata"]["namespace"] == "data-platform", file


def test_every_job_is_deployed_once_with_the_python_driver(deployments) -> None:
    version = _flink_version()
    scripts = set()
    for name, doc in deployments.items():
        job = doc["spec"]["job"]
        assert job["jarURI"] == f"local:///opt/flink/opt/flink-python-{version}.jar", name
        assert job["entryClass"] == "org.apache.flink.client.python.PythonDriver", name
        assert job["args"][0] == "-py", name
        assert len(job["args"]) == 2, name
        script = Path(job["args"][1])
        assert script.parent == Path("/opt/flink/usrlib"), name
        assert (FLINK_DIR / script.name).is_file(), f"{name}: {script.name} not in include/flink"
        assert job["state"] == "running"
        scripts.add(script.stem)
    assert scripts == _job_names()


def test_versions_agree_between_requirements_image_and_manifests(deployments) -> None:
    version = _flink_version()
    major, minor, _ = version.split(".")
    dockerfile = (FLINK_DIR / "Dockerfile").read_text()
    assert re.search(rf"^FROM flink:{re.escape(version)}-scala_2\.12-java17$", dockerfile, re.MULTILINE)
    assert f"flink-doris-connector-{major}.{minor}" in dockerfile
    assert re.search(rf"KAFKA_CONNECTOR_VERSION=\S+-{major}\.{minor}$", dockerfile, re.MULTILINE)
    for name, doc in deployments.items():
        assert doc["spec"]["flinkVersion"] == f"v{major}_{minor}", name
        for script in ("data_enricher.py", "price_aggregator.py", "anomaly_detector.py"):
            assert script in dockerfile


def test_runtime_design(deployments) -> None:
    """Exactly-once checkpoints, parallelism 2, sizing, stateful upgrades and HA, per the design."""
    for name, doc in deployments.items():
        spec = doc["spec"]
        conf = spec["flinkConfiguration"]
        assert doc["metadata"]["namespace"] == "data-platform", name
        assert "${" not in yaml.safe_dump(doc), f"{name}: unrendered placeholder"
        assert spec["serviceAccount"] == "flink", name
        assert spec["job"]["parallelism"] == 2, name
        assert conf["taskmanager.numberOfTaskSlots"] == "2", name
        assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE", name
        assert conf["execution.checkpointing.interval"], name
        assert spec["job"]["upgradeMode"] in {"savepoint", "last-state"}, name
        assert conf["state.savepoints.dir"].endswith(f"/{name}"), name
        assert conf["state.checkpoints.dir"].endswith(f"/{name}"), name
        assert conf["high-availability.type"] == "kubernetes", name
        assert conf["high-availability.storageDir"].endswith(f"/{name}"), name
        assert spec["jobManager"]["resource"] == {"memory": "2048m", "cpu": 1}, name
        assert spec["taskManager"]["resource"] == {"memory": "4096m", "cpu": 2}, name
        assert all(isinstance(value, str) for value in conf.values()), (
            f"{name}: config values must be strings"
        )


def test_no_secret_values_in_manifests(deployments) -> None:
    for name, doc in deployments.items():
        (container,) = doc["spec"]["podTemplate"]["spec"]["containers"]
        assert container["name"] == "flink-main-container", name
        for env in container["env"]:
            if re.search(r"PASSWORD|SECRET|TOKEN|USER", env["name"]):
                assert "value" not in env, (name, env["name"])
                assert "secretKeyRef" in env["valueFrom"], (name, env["name"])
        assert {"KAFKA_BOOTSTRAP_SERVERS", "RAW_TOPIC"} <= {env["name"] for env in container["env"]}, name
