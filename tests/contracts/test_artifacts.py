"""Every image, chart, plugin, jar and version the project uses is the one in include/contracts/artifacts.yaml.

docker-compose.yaml, the Dockerfiles and the manifests cannot read the catalogue, so they are compared with it
here: every `image:` (compose, rendered manifests, the Helm values inside the operator-install Jobs), every
FROM, every chart version, every Connect plugin install, the Flink jars and the JMX exporter agent path.
Drift between any of them and the catalogue fails a test that names the file and the value.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from commodity_platform.artifacts import (
    CATALOGUE_PATH,
    connect_image,
    deploy_image_tags,
    jmx_exporter_agent_path,
    load_catalogue,
)
from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS, render_variables
from commodity_platform.errors import ConfigError
from commodity_platform.k8s.manifests import load_directory
from commodity_platform.kafka_connect.specs import CONNECTORS_DIR, load_specs
from commodity_platform.paths import INCLUDE_DIR, MANIFESTS_DIR, PROJECT_ROOT

CATALOGUE = load_catalogue()
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
CONNECT_DOCKERFILE = INCLUDE_DIR / "kafka-connect" / "Dockerfile"
FLINK_DOCKERFILE = INCLUDE_DIR / "flink" / "Dockerfile"
DOCKERFILES = (CONNECT_DOCKERFILE, FLINK_DOCKERFILE)
INSTALL_SCRIPT = INCLUDE_DIR / "kafka-connect" / "install-maven-plugin.sh"
COMPOSE_DEFAULT = re.compile(r"\$\{\w+:?-(?P<default>[^}]*)\}")


def catalogue_images(catalogue: dict[str, Any] = CATALOGUE) -> dict[str, str]:
    """image reference -> catalogue entry name."""
    return {str(entry["image"]): name for name, entry in catalogue["images"].items()}


def compose_images(path: Path = COMPOSE_FILE) -> dict[str, str]:
    """``service -> image`` of docker-compose.yaml, ``${VAR:-default}`` resolved to its default."""
    compose = yaml.safe_load(path.read_text())
    found = {"x-airflow-common": compose["x-airflow-common"]["image"]}
    found.update({name: service["image"] for name, service in compose["services"].items() if "image" in service})
    return {name: COMPOSE_DEFAULT.sub(lambda m: m.group("default"), value) for name, value in found.items()}


def dockerfile_from_images(path: Path) -> list[str]:
    """External base images of a Dockerfile (FROM lines, without references to earlier build stages)."""
    stages: set[str] = set()
    images = []
    for line in path.read_text().splitlines():
        match = re.match(r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if not match:
            continue
        if match.group(1) not in stages:
            images.append(match.group(1))
        if match.group(2):
            stages.add(match.group(2))
    return images


def dockerfile_args(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG\s+(\w+)=(\S+)\s*$", path.read_text(), re.MULTILINE))


def rendered_manifests() -> list[Any]:
    """Every manifest of every phase, rendered with the deploy DAG's default variables."""
    variables = render_variables("data-platform")
    manifests = []
    for directory in sorted(p for p in MANIFESTS_DIR.iterdir() if p.is_dir()):
        manifests.extend(load_directory(directory, variables))
    return manifests


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


def container_images(manifests: list[Any]) -> dict[str, str]:
    """``source:field -> image`` of every container/pod-spec image and every FlinkDeployment/DorisCluster image."""
    return {
        f"{m.source}:{where}": value
        for m in manifests
        for where, value in _walk(m.body)
        if where.endswith(".image") and isinstance(value, str)
    }


def helm_jobs(manifests: list[Any]) -> dict[str, dict[str, str]]:
    """The env of each operator-install Job's helm container (CHART, CHART_REPO, CHART_VERSION, HELM_VALUES)."""
    jobs = {}
    for m in manifests:
        if m.kind != "Job":
            continue
        for container in m.body["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
            if "HELM_VALUES" in env:
                jobs[m.source] = env
    return jobs


def helm_value_images(values: dict[str, Any]) -> list[str]:
    """``repository:tag`` of every ``image: {repository, tag}`` mapping in Helm values."""
    found = []
    for _, node in _walk(values):
        if isinstance(node, dict) and isinstance(node.get("image"), dict) and "repository" in node["image"]:
            found.append(f"{node['image']['repository']}:{node['image']['tag']}")
    if isinstance(values.get("image"), dict):
        found.append(f"{values['image']['repository']}:{values['image']['tag']}")
    return found


MANIFESTS = rendered_manifests()


# -- the catalogue itself ----------------------------------------------------------------------------------


def test_deploy_defaults_are_the_catalogue() -> None:
    assert deploy_image_tags() == DEFAULT_IMAGE_TAGS
    assert set(DEFAULT_IMAGE_TAGS) == {
        "helm_installer", "strimzi_chart_version", "kafka_version", "flink_operator_chart_version",
        "kafka_connect", "schema_registry", "doris_operator_chart_version", "doris_fe", "doris_be", "flink_jobs",
    }  # fmt: skip


def test_every_entry_names_its_upstream_source() -> None:
    for section in ("versions", "images", "charts"):
        for name, entry in CATALOGUE[section].items():
            assert len(str(entry.get("source", ""))) > 20, f"{CATALOGUE_PATH}: {section}.{name} has no source"
    for plugin in CATALOGUE["kafka_connect"]["plugins"]:
        assert len(str(plugin.get("source", ""))) > 20, f"{CATALOGUE_PATH}: plugin {plugin['name']} has no source"
    for jar in CATALOGUE["flink_jars"]:
        assert len(str(jar.get("source", ""))) > 20, f"{CATALOGUE_PATH}: flink jar {jar['name']} has no source"


def test_one_set_of_versions() -> None:
    """Issue 12 point 11: compose and the deploy DAG ran Doris 2.1.9/2.1.10, CP 7.7.1/7.9.0, Kafka 3.9.1/4.1.0.
    Every image of a product carries the catalogue's single version of it."""
    versions = {name: str(entry["version"]) for name, entry in CATALOGUE["versions"].items()}
    tag = {name: str(entry["image"]).rsplit(":", 1)[1] for name, entry in CATALOGUE["images"].items()}
    assert tag["doris_fe"] == f"fe-{versions['doris']}" and tag["doris_be"] == f"be-{versions['doris']}"
    assert tag["kafka"] == versions["kafka"] == DEFAULT_IMAGE_TAGS["kafka_version"]
    assert tag["cp_kafka_connect"] == tag["schema_registry"] == versions["confluent_platform"]
    assert tag["kafka_connect"].startswith(f"{versions['confluent_platform']}-")
    assert tag["flink_base"].startswith(f"{versions['flink']}-") and tag["flink_jobs"] == versions["flink"]
    assert tag["flink_operator"] == str(CATALOGUE["charts"]["flink_operator"]["version"])
    assert tag["doris_operator"] == f"operator-{CATALOGUE['charts']['doris_operator']['version']}"
    # No second tag of the same image (variant prefixes like fe-/be-/operator- are different images).
    seen: dict[tuple[str, str], str] = {}
    for name, entry in CATALOGUE["images"].items():
        repository, image_tag = str(entry["image"]).rsplit(":", 1)
        variant = re.sub(r"[0-9][0-9A-Za-z.+_-]*$", "", image_tag)
        assert (repository, variant) not in seen, f"{name} and {seen[(repository, variant)]}: two tags of {repository}"
        seen[(repository, variant)] = name


def test_a_duplicate_deploy_key_is_refused(tmp_path: Path) -> None:
    data = load_catalogue()
    data["images"]["postgres"]["deploy_key"] = "doris_fe"
    with pytest.raises(ConfigError, match="deploy_key 'doris_fe' is defined twice"):
        deploy_image_tags(data)


def test_a_broken_catalogue_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "artifacts.yaml"
    broken.write_text("images: [unclosed\n")
    with pytest.raises(ConfigError, match=re.escape(str(broken))):
        load_catalogue(broken)
    broken.write_text("images: {}\n")
    with pytest.raises(ConfigError, match="schema_version 1 expected"):
        load_catalogue(broken)


# -- docker-compose.yaml ---------------------------------------------------------------------------------------


def test_every_compose_image_is_in_the_catalogue() -> None:
    known = catalogue_images()
    unknown = {service: image for service, image in compose_images().items() if image not in known}
    assert not unknown, f"{COMPOSE_FILE}: images not in {CATALOGUE_PATH}: {unknown}"


def test_the_compose_check_sees_drift(tmp_path: Path) -> None:
    """The check above on the compose file as it was before issue 12 (Doris 2.1.9, CP 7.7.1, Kafka 3.9.1)."""
    old = COMPOSE_FILE.read_text()
    for current, previous in (
        ("apache/doris:fe-2.1.11", "apache/doris:fe-2.1.9"),
        ("apache/kafka:4.1.0", "apache/kafka:3.9.1"),
        ("confluentinc/cp-schema-registry:7.9.0", "confluentinc/cp-schema-registry:7.7.1"),
    ):
        assert current in old
        old = old.replace(current, previous)
    drifted = tmp_path / "docker-compose.yaml"
    drifted.write_text(old)
    unknown = {image for image in compose_images(drifted).values() if image not in catalogue_images()}
    assert unknown == {"apache/doris:fe-2.1.9", "apache/kafka:3.9.1", "confluentinc/cp-schema-registry:7.7.1"}


def test_compose_runs_the_built_connect_image_with_the_catalogue_plugin_path() -> None:
    service = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["kafka-connect"]
    entry = CATALOGUE["images"]["kafka_connect"]
    assert service["image"] == entry["image"]
    assert (PROJECT_ROOT / service["build"]).resolve() == (PROJECT_ROOT / entry["built_from"]).parent.resolve()
    assert service["environment"]["CONNECT_PLUGIN_PATH"] == CATALOGUE["kafka_connect"]["plugin_path"]


# -- Dockerfiles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_dockerfile_base_image_is_in_the_catalogue(dockerfile: Path) -> None:
    images = dockerfile_from_images(dockerfile)
    assert images, f"{dockerfile}: no FROM line"
    unknown = [image for image in images if image not in catalogue_images()]
    assert not unknown, f"{dockerfile}: FROM {unknown} not in {CATALOGUE_PATH}"


def test_the_built_images_start_from_their_catalogue_base() -> None:
    images = CATALOGUE["images"]
    assert dockerfile_from_images(CONNECT_DOCKERFILE)[-1] == images["cp_kafka_connect"]["image"]
    assert dockerfile_from_images(FLINK_DOCKERFILE) == [images["flink_base"]["image"]]
    assert images["kafka_connect"]["built_from"] == str(CONNECT_DOCKERFILE.relative_to(PROJECT_ROOT))
    assert images["flink_jobs"]["built_from"] == str(FLINK_DOCKERFILE.relative_to(PROJECT_ROOT))


def test_flink_dockerfile_jars_are_the_catalogue_versions() -> None:
    args = dockerfile_args(FLINK_DOCKERFILE)
    for jar in CATALOGUE["flink_jars"]:
        assert args.get(jar["dockerfile_arg"]) == str(jar["version"]), f"{FLINK_DOCKERFILE}: {jar['dockerfile_arg']}"
        group, artifact, version = str(jar["maven"]).split(":")
        assert version == str(jar["version"]) and artifact == jar["name"]
        download = f"/{group.replace('.', '/')}/{artifact}/${{{jar['dockerfile_arg']}}}/"
        assert download in FLINK_DOCKERFILE.read_text(), f"{FLINK_DOCKERFILE}: no download of {jar['maven']}"


def _catalogue_installs(catalogue: dict[str, Any] = CATALOGUE) -> dict[str, set[str]]:
    installs: dict[str, set[str]] = {"confluent_hub": set(), "maven": set(), "source_build": set()}
    for plugin in catalogue["kafka_connect"]["plugins"]:
        ((kind, value),) = plugin["install"].items()
        installs[kind].add(f"{value['tag']}@{value['commit']}" if kind == "source_build" else str(value))
        if kind != "source_build":
            assert str(plugin["version"]) in str(value), f"{CATALOGUE_PATH}: {plugin['name']} install/version differ"
    return installs


def _dockerfile_installs(path: Path) -> dict[str, set[str]]:
    """The plugin installs of the Connect Dockerfile, from its ARGs, keeping only ARGs a RUN actually uses."""
    text = path.read_text()
    args = dockerfile_args(path)
    run_uses = re.compile(r'RUN[^\n]*(?:\\\n[^\n]*)*')
    runs = "\n".join(m.group(0) for m in run_uses.finditer(text))
    used = {name: value for name, value in args.items() if f'"${{{name}}}"' in runs}
    return {
        "confluent_hub": {v for v in used.values() if re.fullmatch(r"[\w.-]+/[\w.-]+:[\w.-]+", v)},
        "maven": {v for v in used.values() if v.count(":") >= 3},
        "source_build": {f"{args['ICEBERG_TAG']}@{args['ICEBERG_COMMIT']}"},
    }


def test_the_connect_image_installs_exactly_the_catalogue_plugins() -> None:
    assert _dockerfile_installs(CONNECT_DOCKERFILE) == _catalogue_installs()


def test_the_plugin_check_sees_a_plugin_missing_from_the_build(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(CONNECT_DOCKERFILE.read_text().replace(' "${DEBEZIUM_MYSQL}"', ""))
    missing = _catalogue_installs()["maven"] - _dockerfile_installs(dockerfile)["maven"]
    assert missing == {"io.debezium:debezium-connector-mysql:3.2.6.Final:plugin:tar.gz"}


# -- manifests (rendered with the deploy DAG's defaults) -------------------------------------------------------


def test_every_manifest_image_is_in_the_catalogue() -> None:
    images = container_images(MANIFESTS)
    assert images, "no container image found in the manifests"
    for source, env in helm_jobs(MANIFESTS).items():
        for image in helm_value_images(yaml.safe_load(env["HELM_VALUES"])):
            images[f"{source}:HELM_VALUES"] = image
    unknown = {where: image for where, image in images.items() if image not in catalogue_images()}
    assert not unknown, f"images not in {CATALOGUE_PATH}: {unknown}"


def test_every_chart_is_the_catalogue_chart() -> None:
    charts = {
        f"{c['repo']}|{c['chart']}" if "repo" in c else str(c["chart"]): c for c in CATALOGUE["charts"].values()
    }
    jobs = helm_jobs(MANIFESTS)
    assert len(jobs) == len(CATALOGUE["charts"]) == 3
    for source, env in jobs.items():
        key = f"{env['CHART_REPO']}|{env['CHART']}" if env.get("CHART_REPO") else env["CHART"]
        assert key in charts, f"{source}: chart {key} not in {CATALOGUE_PATH}"
        assert env["CHART_VERSION"] == str(charts[key]["version"]), f"{source}: CHART_VERSION"


def test_the_flink_operator_image_is_a_published_release_tag() -> None:
    """Point 5: ghcr.io/apache/flink-kubernetes-operator has only `main` and short-SHA tags; release version tags
    are on Docker Hub (the operator's helm.md). The Helm values must ask for the catalogue's image."""
    [env] = [e for e in helm_jobs(MANIFESTS).values() if e["CHART"] == "flink-kubernetes-operator"]
    [image] = helm_value_images(yaml.safe_load(env["HELM_VALUES"]))
    assert image == CATALOGUE["images"]["flink_operator"]["image"] == "apache/flink-kubernetes-operator:1.13.0"
    assert not image.startswith("ghcr.io/")


def _connect_container() -> dict[str, Any]:
    [deployment] = [m for m in MANIFESTS if m.kind == "Deployment" and m.name == "kafka-connect"]
    [container] = deployment.body["spec"]["template"]["spec"]["containers"]
    return container


def test_connect_workers_run_the_built_image_with_the_catalogue_plugin_path() -> None:
    container = _connect_container()
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == CATALOGUE["images"]["kafka_connect"]["image"]
    assert env["CONNECT_PLUGIN_PATH"] == CATALOGUE["kafka_connect"]["plugin_path"]
    assert CATALOGUE["kafka_connect"]["plugin_dir"] in env["CONNECT_PLUGIN_PATH"].split(",")


def test_the_jmx_agent_path_is_the_one_the_base_image_installs() -> None:
    """Point 2: cp-base-new installs jmx_prometheus_javaagent-<version>.jar; an unversioned path makes the JVM
    refuse to start (the workers crash-loop)."""
    agent = CATALOGUE["kafka_connect"]["jmx_exporter_agent"]
    path = jmx_exporter_agent_path()
    assert path == f"/usr/share/java/cp-base-new/jmx_prometheus_javaagent-{agent['version']}.jar"
    env = {e["name"]: e.get("value") for e in _connect_container()["env"]}
    javaagents = re.findall(r"-javaagent:([^=\s]+)", env["KAFKA_OPTS"])
    assert javaagents == [path], f"30-kafka-connect.yaml KAFKA_OPTS loads {javaagents}, the image has {path}"
    # The image build checks the same file exists (so a base-image bump that moves it fails the build).
    assert dockerfile_args(CONNECT_DOCKERFILE)["JMX_EXPORTER_AGENT"] == path
    assert 'test -f "${JMX_EXPORTER_AGENT}"' in CONNECT_DOCKERFILE.read_text()


# -- connector specs against the image -------------------------------------------------------------------------


def test_every_connector_spec_loads_on_the_connect_image() -> None:
    """Each spec's connector, transform and converter classes are provided by the image build (or the base)."""
    image = connect_image()
    classes = {c.cls for c in image.connectors}
    for spec in load_specs(CONNECTORS_DIR):
        assert spec.connector_class in classes, f"{spec.location}: {spec.connector_class} is not in the image"
        config = spec.config
        keys = [k for k in ("key.converter", "value.converter", "header.converter") if k in config]
        keys += [f"transforms.{a.strip()}.type" for a in config.get("transforms", "").split(",") if a.strip()]
        for key in keys:
            assert image.has_class(config[key]), f"{spec.location}: {key}={config[key]} is not in the image"


# -- the Maven install script, run for real against a file:// repository ---------------------------------------


def _fake_repository(root: Path, coordinates: str, payload: Path, *, sha1: str | None = None) -> None:
    group, artifact, version, *rest = coordinates.split(":")
    classifier, kind = (rest if len(rest) == 2 else ["", rest[0]])
    target = root / group.replace(".", "/") / artifact / version
    target.mkdir(parents=True)
    name = f"{artifact}-{version}{'-' + classifier if classifier else ''}.{kind}"
    shutil.copy(payload, target / name)
    digest = subprocess.run(["sha1sum", str(target / name)], capture_output=True, text=True, check=True)
    (target / f"{name}.sha1").write_text(sha1 or digest.stdout.split()[0])


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl, as the image build does")
def test_the_install_script_unpacks_a_verified_archive_and_refuses_a_bad_checksum(tmp_path: Path) -> None:
    plugin_src = tmp_path / "src" / "kafka-connect-http"
    plugin_src.mkdir(parents=True)
    (plugin_src / "plugin.jar").write_text("jar")
    archive = tmp_path / "plugin.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(plugin_src, arcname="kafka-connect-http")
    coordinates = "com.github.castorm:kafka-connect-http:0.8.11:plugin:tar.gz"
    good, bad = tmp_path / "good", tmp_path / "bad"
    _fake_repository(good, coordinates, archive)
    _fake_repository(bad, coordinates, archive, sha1="0" * 40)
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()

    def run(repository: Path) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "PLUGIN_DIR": str(plugin_dir), "MAVEN_CENTRAL": repository.as_uri()}
        return subprocess.run(["sh", str(INSTALL_SCRIPT), coordinates], env=env, capture_output=True, text=True)

    ok = run(good)
    assert ok.returncode == 0, ok.stderr
    assert (plugin_dir / "kafka-connect-http" / "plugin.jar").read_text() == "jar"
    shutil.rmtree(plugin_dir / "kafka-connect-http")
    refused = run(bad)
    assert refused.returncode != 0 and "FAILED" in refused.stdout + refused.stderr
    assert not (plugin_dir / "kafka-connect-http").exists()


def test_the_flink_version_is_one_everywhere() -> None:
    """PyFlink in the jobs' requirements, the flink-python jar the FlinkDeployments start, and the image tags."""
    version = str(CATALOGUE["versions"]["flink"]["version"])
    pins = re.findall(r"^apache-flink==(\S+)$", (INCLUDE_DIR / "flink" / "requirements.txt").read_text(), re.MULTILINE)
    assert pins == [version]
    deployments = [m for m in MANIFESTS if m.kind == "FlinkDeployment"]
    assert deployments
    for m in deployments:
        assert m.body["spec"]["job"]["jarURI"] == f"local:///opt/flink/opt/flink-python-{version}.jar", m.source
        assert m.body["spec"]["flinkVersion"] == "v" + "_".join(version.split(".")[:2]), m.source
        assert m.body["spec"]["image"] == CATALOGUE["images"]["flink_jobs"]["image"], m.source
