"""The Kubernetes client of the deploy DAG, with a connection that cannot work reported as a configuration error.

``KubernetesHook.api_client`` loads the kube config when first used. A connection without a usable config
(no ``kubernetes_default`` outside a cluster, a ``kube_config_path`` to a missing or empty file, malformed
kube-config YAML, two config options at once) raises ``ConfigException("Invalid kube-config file. ...")``,
a YAML error or ``AirflowException`` from the cncf.kubernetes provider (``KubernetesHook.get_conn``). A retry
reads the same connection again and cannot succeed, so it is a :class:`ConfigError`: the task fails once,
naming the connection, instead of burning its retries (issue 13).
"""

from __future__ import annotations

from typing import Any

from commodity_platform.errors import ConfigError

_HOW_TO_FIX = (
    "set the connection's extra to one of kube_config_path (a kube-config file), kube_config (its content) "
    "or in_cluster=true"
)


def kubernetes_api_client(conn_id: str, configuration: Any | None = None) -> Any:
    """``kubernetes.client.ApiClient`` for the Airflow connection ``conn_id``; ConfigError when it has no usable
    kube config."""
    import yaml
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from airflow.sdk.exceptions import AirflowException
    from kubernetes.config.config_exception import ConfigException

    hook = KubernetesHook(conn_id=conn_id, client_configuration=configuration)
    try:
        return hook.api_client
    except (ConfigException, yaml.YAMLError, AirflowException) as exc:
        raise ConfigError(
            f"Airflow connection {conn_id!r} gives no usable Kubernetes configuration: {exc} ({_HOW_TO_FIX})"
        ) from exc
