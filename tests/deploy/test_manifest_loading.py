"""Manifest loading: errors name the file and the document; placeholders render; stages cover every file."""

from __future__ import annotations

from pathlib import Path

import pytest

from commodity_platform.deploy.execution import plan_phase
from commodity_platform.deploy.params import PhaseOptions
from commodity_platform.deploy.phases import PHASES_BY_NAME
from commodity_platform.errors import ConfigError
from commodity_platform.k8s.manifests import apply_order, load_file, render_text

GOOD = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  namespace: ${dp:namespace}
data:
  grafana: "${datasource} $__rate_interval {{ $labels.x }}"
"""


def test_placeholders_render_and_foreign_templating_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(GOOD)
    [manifest] = load_file(path, {"namespace": "scratch"})
    assert manifest.namespace == "scratch"
    assert manifest.body["data"]["grafana"] == "${datasource} $__rate_interval {{ $labels.x }}"
    assert manifest.source == "a.yaml#0"


def test_malformed_yaml_names_file_and_document(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        GOOD
        + "---\n"
        + GOOD.replace("name: a", "name: b")
        + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n"
    )
    with pytest.raises(ConfigError, match=r"broken\.yaml document 2: malformed YAML"):
        load_file(path, {"namespace": "x"})


def test_missing_fields_and_unknown_placeholders_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")
    with pytest.raises(ConfigError, match=r"m\.yaml document 0: missing required field\(s\) metadata.name"):
        load_file(path, {})
    with pytest.raises(ConfigError, match=r"x\.yaml#3: unknown placeholder \$\{dp:nope\}"):
        render_text("a: ${dp:nope}", {"namespace": "n"}, source="x.yaml#3")


def test_plan_fails_on_malformed_phase_file_before_anything_is_applied(tmp_path: Path) -> None:
    phase_dir = tmp_path / "07-monitoring"
    phase_dir.mkdir()
    (phase_dir / "10-ok.yaml").write_text(GOOD)
    (phase_dir / "20-bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n  metadata: : :\n")
    with pytest.raises(ConfigError, match=r"20-bad\.yaml document 0"):
        plan_phase(PHASES_BY_NAME["monitoring"], PhaseOptions(manifests_root=str(tmp_path)))


def test_stray_files_and_duplicates_are_rejected(tmp_path: Path) -> None:
    phase_dir = tmp_path / "01-kafka"
    phase_dir.mkdir()
    (phase_dir / "notes.yaml").write_text(GOOD)  # matches neither 0*.yaml nor [1-9]*.yaml
    with pytest.raises(ConfigError, match="match no stage pattern"):
        plan_phase(PHASES_BY_NAME["kafka"], PhaseOptions(manifests_root=str(tmp_path)))
    (phase_dir / "notes.yaml").unlink()
    (phase_dir / "10-a.yaml").write_text(GOOD)
    (phase_dir / "20-b.yaml").write_text(GOOD)
    with pytest.raises(ConfigError, match=r"ConfigMap/a is also defined in 10-a\.yaml#0"):
        plan_phase(PHASES_BY_NAME["kafka"], PhaseOptions(manifests_root=str(tmp_path)))


def test_apply_order_puts_prerequisites_first(tmp_path: Path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\n"
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s}\n---\n"
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: c}\n"
    )
    assert [m.kind for m in apply_order(load_file(path, {}))] == [
        "CustomResourceDefinition",
        "ServiceAccount",
        "Deployment",
    ]


def test_flink_jobs_image_is_controlled_by_the_image_tags_param() -> None:
    """The three FlinkDeployments take their image from ``image_tags.flink_jobs`` (default: the Dockerfile's)."""
    import re

    from commodity_platform.deploy.phases import DEFAULT_IMAGE_TAGS
    from commodity_platform.paths import INCLUDE_DIR, MANIFESTS_DIR

    def images(options: PhaseOptions) -> set[str]:
        plans = plan_phase(PHASES_BY_NAME["flink-apps"], options)
        found = [m.body["spec"]["image"] for p in plans for m in p.manifests if m.kind == "FlinkDeployment"]
        assert len(found) == 3
        return set(found)

    default = DEFAULT_IMAGE_TAGS["flink_jobs"]
    assert images(PhaseOptions()) == {default}
    dockerfile = (INCLUDE_DIR / "flink" / "Dockerfile").read_text()
    flink_version = re.search(r"^FROM flink:(\d+\.\d+\.\d+)-", dockerfile, re.MULTILINE).group(1)
    assert default.endswith(f":{flink_version}") and f"docker build -t {default} " in dockerfile
    custom = "registry.example.com/platform/flink-jobs:2025.11.1"
    assert images(PhaseOptions(image_tags={"flink_jobs": custom})) == {custom}
    for path in (MANIFESTS_DIR / "06-flink-apps").glob("*.yaml"):
        text = path.read_text()
        assert "image: commodity-platform/flink-jobs" not in text, f"{path.name}: image must be a placeholder"
