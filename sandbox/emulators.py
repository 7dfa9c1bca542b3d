"""The two API emulators of the sandbox, and the Airflow connections that point the DAGs at them.

Kafka Connect and Kubernetes cannot run here, so ``./dev demo``, ``./dev ui``, ``./dev up`` and the end-to-end
tests serve emulators of their REST APIs from the sandbox process (threads on free loopback ports):

* :class:`~sandbox.connect_emulator.ConnectEmulator` for ``kafka_connect_default``;
* :class:`~sandbox.k8s_emulator.KubernetesEmulator` for ``kubernetes_default``, with the stand-ins
  for what the operators' Helm-install Jobs would install (``k8s_stand_ins``). The connection names a
  kube-config *file* under the sandbox (``kube_config_path``), so ``kubectl --kubeconfig <file>`` reaches the
  same emulator;
* ``kafka_connect_secrets``: throwaway values, generated per start, for every secret key the connector specs
  reference (the deploy DAG builds the Secret ``kafka-connect-credentials`` from it). They live only in the
  environment of the processes started here.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import yaml

from sandbox.connect_emulator import ConnectEmulator
from sandbox.k8s_emulator import KubernetesEmulator
from sandbox.k8s_stand_ins import job_effects, monitoring_crds

#: Seconds a simulated workload takes to become ready: enough to show progress in the deploy log.
K8S_READY_DELAY = 0.5


class Emulators:
    """Both emulators; ``state_dir`` holds the kube-config file. Use as a context manager or start/stop."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.kubeconfig_path = state_dir / "kubeconfig.yaml"
        self.connect = ConnectEmulator()
        self.kubernetes = KubernetesEmulator(
            delay=K8S_READY_DELAY, on_job_complete=job_effects(), preinstalled=monitoring_crds()
        )
        self.connector_secrets: dict[str, str] = {}

    def __enter__(self) -> Emulators:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from commodity_platform.deploy.secrets import connector_secret_keys

        self.connect.start()
        self.kubernetes.start()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.write_kubeconfig()
        self.connector_secrets = {key: secrets.token_urlsafe(16) for key in sorted(connector_secret_keys())}

    def stop(self) -> None:
        self.kubernetes.stop()
        self.connect.stop()

    def write_kubeconfig(self) -> None:
        """(Re)write the kube-config file of ``kubernetes_default`` (holds only the emulator's dummy token)."""
        self.kubeconfig_path.write_text(yaml.safe_dump(self.kubernetes.kubeconfig(), sort_keys=False))
        self.kubeconfig_path.chmod(0o600)

    def endpoints(self) -> dict[str, str]:
        return {"kafka_connect": self.connect.url, "kubernetes": self.kubernetes.url,
                "kubeconfig": str(self.kubeconfig_path)}

    def connection_env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` for ``kafka_connect_default``, ``kubernetes_default`` and ``kafka_connect_secrets``."""
        connect = {"conn_type": "kafka_connect", "host": "127.0.0.1", "port": self.connect.port, "schema": "http"}
        kubernetes = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(self.kubeconfig_path)}}
        connector_secrets = {"conn_type": "generic", "extra": self.connector_secrets}
        return {
            "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT": json.dumps(connect),
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": json.dumps(kubernetes),
            "AIRFLOW_CONN_KAFKA_CONNECT_SECRETS": json.dumps(connector_secrets),
        }
