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

from commodity_platform.connections import KUBERNETES_CONN_ID
from commodity_platform.errors import ConfigError

_HOW_TO_FIX = (
    "set the connection's extra to one of kube_config_path (a kube-config file), kube_config (its content) "
    "or in_cluster=true"
)


#: HTTP connections kept per host: readiness watches run one thread per object, and a pool smaller than that
#: makes urllib3 discard and reopen connections ("Connection pool is full") on every watch.
CONNECTION_POOL_MAXSIZE = 32


def client_configuration() -> Any:
    """The ``kubernetes.client.Configuration`` every Kubernetes client of the deploy starts from.

    urllib3's default retry policy (``Retry(3)``) sleeps whatever ``Retry-After`` a 429/503 answer to a GET asks,
    with no upper bound, below ``k8s.apply.with_retries``. Status-based retries are left to ``with_retries``
    alone (one place, the wait bounded by ``RETRY_AFTER_MAX_SECONDS``); urllib3 still retries connection errors.
    """
    from kubernetes.client import Configuration
    from urllib3.util.retry import Retry

    configuration = Configuration()
    configuration.connection_pool_maxsize = CONNECTION_POOL_MAXSIZE
    configuration.retries = Retry(3, respect_retry_after_header=False)
    return configuration


def kubernetes_api_client(conn_id: str = KUBERNETES_CONN_ID) -> Any:
    """``kubernetes.client.ApiClient`` for the Airflow connection ``conn_id``; ConfigError when it has no usable
    kube config."""
    import yaml
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from airflow.sdk.exceptions import AirflowException
    from kubernetes.config.config_exception import ConfigException

    hook = KubernetesHook(conn_id=conn_id, client_configuration=client_configuration())
    try:
        return hook.api_client
    except (ConfigException, yaml.YAMLError, AirflowException) as exc:
        raise ConfigError(
            f"Airflow connection {conn_id!r} gives no usable Kubernetes configuration: {exc} ({_HOW_TO_FIX})"
        ) from exc
