"""Airflow hook for the Kafka Connect REST API, on httpx.

Why a custom hook: no Airflow provider ships a Kafka Connect client (the Apache Kafka provider covers
producers/consumers only), and the generic HTTP provider is not installed here and would not classify
Connect's 409-during-rebalance as transient. Its connection type ``kafka_connect`` is registered with Airflow
by the project's provider info (``commodity_platform/provider_info.py``), so the connection form offers it
with its extra fields and the UI's Test button calls :meth:`KafkaConnectHook.test_connection`.

Error policy (Kafka Connect semantics):

* ``409 Conflict`` - the cluster is rebalancing or the leader is changing; **retry** with backoff.
* ``5xx`` and transport errors (connect/read timeouts, resets) - **retry** with backoff.
* ``404`` - :class:`ConnectorNotFound` at once (callers use it to detect a missing connector).
* other ``4xx`` - :class:`~commodity_platform.errors.PermanentError` at once; retrying cannot help.

Every error quotes Connect's own ``message`` field. Credentials (basic auth from the connection) are
passed to httpx and never formatted into messages or logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from airflow.sdk import BaseHook
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    stop_never,
    wait_exponential,
)

from commodity_platform.connections import KAFKA_CONNECT_CONN_ID
from commodity_platform.errors import PermanentError, TemporaryError
from commodity_platform.kafka_connect.params import REGISTER_PARAMS

log = logging.getLogger(__name__)

#: Status codes that mean "try again later" in Kafka Connect.
RETRYABLE_STATUS = frozenset({409, 500, 502, 503, 504})


class KafkaConnectError(PermanentError):
    """Connect answered with a non-retryable error; ``status`` and ``connect_message`` are kept."""

    def __init__(self, message: str, *, status: int, connect_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.connect_message = connect_message


class ConnectorNotFound(KafkaConnectError):
    """404: the connector (or plugin) does not exist."""


class ConnectorAlreadyExists(KafkaConnectError):
    """409 on ``POST /connectors``: not a rebalance, the name is taken; retrying cannot help."""


#: Default total time one run may spend retrying Kafka Connect requests (the DAG's ``retry_budget_seconds``).
DEFAULT_RETRY_BUDGET_SECONDS = float(REGISTER_PARAMS["retry_budget_seconds"].default)


@dataclass(frozen=True)
class RetryBudget:
    """A deadline shared by every request of one run (wall clock, so mapped tasks in other processes and
    Airflow's own task retries share it too): once it has passed, a failing request is not retried."""

    deadline: float  # time.time() value

    @classmethod
    def starting_now(cls, seconds: float) -> RetryBudget:
        return cls(time.time() + seconds)

    def remaining(self) -> float:
        return self.deadline - time.time()


class RetryBudgetExhausted(PermanentError):
    """The run's retry budget is spent: more retries (including Airflow's) would exceed what was allowed."""


class KafkaConnectTemporaryError(TemporaryError):
    """A 409/5xx/transport failure that outlived the hook's own retries; Airflow's retries take over."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _connect_message(response: httpx.Response) -> str:
    """Connect's error body is ``{"error_code": n, "message": "..."}``; fall back to the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.text.strip()[:500]


def _verify(value: Any) -> bool | str:
    """The ``verify`` extra as httpx wants it: a bool, or a CA bundle path. Connection extras edited in
    the UI often hold the strings "false"/"true"; treating "false" as a truthy path would be a surprise."""
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value if isinstance(value, str) else bool(value)


class KafkaConnectHook(BaseHook):
    """Talk to a Kafka Connect cluster's REST API.

    :param kafka_connect_conn_id: Airflow connection (type ``kafka_connect``; any type works): host
        (optionally with scheme),
        port, schema (``http``/``https``), login/password for basic auth, extras ``timeout`` (seconds),
        ``verify`` (TLS verification, bool or CA bundle path) and ``base_path`` (URL prefix behind a proxy).
    :param retries: attempts per request for transient failures (409, 5xx, transport errors); ``None``
        leaves the bound to ``budget`` alone (required then): retries go on until its deadline.
    :param backoff_seconds: first backoff wait; doubles per attempt up to ``max_backoff_seconds``.
    :param timeout: per-request timeout in seconds; overrides the connection's ``timeout`` extra.
    """

    conn_name_attr = "kafka_connect_conn_id"
    default_conn_name = KAFKA_CONNECT_CONN_ID
    conn_type = "kafka_connect"
    hook_name = "Kafka Connect"

    def __init__(
        self,
        *,
        kafka_connect_conn_id: str = default_conn_name,
        retries: int | None = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        timeout: float | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        super().__init__()
        if retries is None and budget is None:
            raise ValueError("retries=None needs a budget: something must bound the retries")
        if retries is not None and retries < 1:
            raise ValueError("retries must be >= 1")
        self.kafka_connect_conn_id = kafka_connect_conn_id
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.timeout = timeout
        #: Total retry time shared by all requests of the run (None: only ``retries`` bounds them).
        self.budget = budget
        self._client: httpx.Client | None = None
        #: Requests actually sent (including retries), by HTTP method; used by the benchmark and logs.
        self.request_counts: dict[str, int] = {}

    # -- connection -----------------------------------------------------------------------------

    def get_conn(self) -> httpx.Client:
        """Return a pooled ``httpx.Client`` bound to the connection's base URL (created once)."""
        if self._client is None:
            conn = self.get_connection(self.kafka_connect_conn_id)
            extra = conn.extra_dejson
            host = (conn.host or "").strip()
            if not host:
                raise PermanentError(f"connection {self.kafka_connect_conn_id!r}: host is empty")
            if "://" in host:
                base_url = host.rstrip("/")
            else:
                scheme = conn.schema or "http"
                port = f":{conn.port}" if conn.port else ""
                base_url = f"{scheme}://{host}{port}"
            base_path = str(extra.get("base_path", "")).strip("/")
            if base_path:
                base_url = f"{base_url}/{base_path}"
            auth = httpx.BasicAuth(conn.login, conn.password or "") if conn.login else None
            timeout = self.timeout if self.timeout is not None else float(extra.get("timeout", 30.0))
            self._client = httpx.Client(
                base_url=base_url,
                auth=auth,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                verify=_verify(extra.get("verify", True)),
                headers={"Accept": "application/json"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> KafkaConnectHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- request core -----------------------------------------------------------------------------

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Kafka Connect request failed (attempt %d/%s), retrying in %.1fs: %s",
            state.attempt_number,
            self.retries if self.retries is not None else "until the retry budget is spent",
            wait,
            exc,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one request with retries on transient failures; raise on any error status.

        With a :class:`RetryBudget`, no retry starts whose wait would end after the budget's deadline, and a
        transient failure after the deadline raises :class:`RetryBudgetExhausted` (permanent: no more retries).
        """
        stop = stop_after_attempt(self.retries) if self.retries is not None else stop_never
        if self.budget is not None:
            remaining = self.budget.remaining()
            if remaining <= 0:
                raise RetryBudgetExhausted(f"{method} {path}: the run's retry budget is spent; not sending")
            stop = stop | stop_before_delay(remaining)
        retrying = Retrying(
            stop=stop,
            wait=wait_exponential(
                multiplier=self.backoff_seconds, min=self.backoff_seconds, max=self.max_backoff_seconds
            ),
            retry=retry_if_exception_type(KafkaConnectTemporaryError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._send_once, method, path, params=params, json=json)
        except KafkaConnectTemporaryError as exc:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            stopped_by_budget = self.retries is None or attempts < self.retries
            if self.budget is not None and (stopped_by_budget or self.budget.remaining() <= 0):
                raise RetryBudgetExhausted(f"{exc} (the run's retry budget is spent)") from exc
            raise

    def _send_once(self, method: str, path: str, *, params: Any = None, json: Any = None) -> httpx.Response:
        client = self.get_conn()
        self.request_counts[method] = self.request_counts.get(method, 0) + 1
        try:
            response = client.request(method, path, params=params, json=json)
        except httpx.TransportError as exc:
            # The exception text names host/port only; auth lives in headers, never in the message.
            raise KafkaConnectTemporaryError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return response
        message = _connect_message(response)
        text = f"{method} {path} -> HTTP {response.status_code}: {message}"
        if response.status_code == 409 and "already exists" in message.lower():
            raise ConnectorAlreadyExists(text, status=409, connect_message=message)
        if response.status_code in RETRYABLE_STATUS:
            raise KafkaConnectTemporaryError(text, status=response.status_code)
        if response.status_code == 404:
            raise ConnectorNotFound(text, status=404, connect_message=message)
        raise KafkaConnectError(text, status=response.status_code, connect_message=message)

    # -- API ----------------------------------------------------------------------------------------

    @staticmethod
    def _name(name: str) -> str:
        return quote(name, safe="")

    def server_info(self) -> dict[str, Any]:
        """``GET /``: worker version, commit and Kafka cluster id."""
        return self.request("GET", "/").json()

    def test_connection(self) -> tuple[bool, str]:
        """Used by the Airflow UI "Test" button: one ``GET /`` (no retries: the user is waiting), reporting
        the worker's version, or the URL tried and what went wrong (never the credentials)."""
        where = f"connection {self.kafka_connect_conn_id!r}"
        try:
            client = self.get_conn()
            where = str(client.base_url.copy_with(username=None, password=None)).rstrip("/")
            info = self._send_once("GET", "/").json()
        except Exception as exc:  # the UI wants a message, not a traceback
            return False, f"cannot reach Kafka Connect at {where}: {exc}"
        version, cluster = info.get("version", "?"), info.get("kafka_cluster_id", "?")
        return True, f"Kafka Connect {version} (cluster {cluster}) at {where}"

    def list_connectors_expanded(self) -> dict[str, dict[str, Any]]:
        """``GET /connectors?expand=status&expand=info``: every connector's config and status at once.

        One request instead of two per connector keeps the no-change reconcile path cheap.
        """
        params = [("expand", "status"), ("expand", "info")]
        return self.request("GET", "/connectors", params=params).json()

    def list_connector_names(self) -> list[str]:
        return self.request("GET", "/connectors").json()

    def list_connector_plugins(self) -> list[dict[str, Any]]:
        """``GET /connector-plugins?connectorsOnly=true``: installed connector classes."""
        return self.request("GET", "/connector-plugins", params={"connectorsOnly": "true"}).json()

    def validate_config(self, connector_class: str, config: Mapping[str, str]) -> dict[str, Any]:
        """``PUT /connector-plugins/{class}/config/validate``: read-only; returns per-field errors."""
        path = f"/connector-plugins/{self._name(connector_class)}/config/validate"
        return self.request("PUT", path, json=dict(config)).json()

    def get_connector(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}``: ``{name, config, tasks, type}``; raises ConnectorNotFound."""
        return self.request("GET", f"/connectors/{self._name(name)}").json()

    def get_status(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}/status``: ``{name, connector:{state,...}, tasks:[...], type}``."""
        return self.request("GET", f"/connectors/{self._name(name)}/status").json()

    def put_config(self, name: str, config: Mapping[str, str]) -> bool:
        """``PUT /connectors/{name}/config``: create or update. Returns True when created (201)."""
        response = self.request("PUT", f"/connectors/{self._name(name)}/config", json=dict(config))
        return response.status_code == 201

    def create_connector(self, name: str, config: Mapping[str, str], *, initial_state: str) -> None:
        """``POST /connectors`` with ``initial_state`` (Connect 3.7+, KIP-980).

        Used for a *new* connector whose desired state is paused/stopped, so it never runs, not even
        briefly, between creation and the pause/stop call.
        """
        body = {"name": name, "config": dict(config), "initial_state": initial_state}
        self.request("POST", "/connectors", json=body)

    def pause(self, name: str) -> None:
        self.request("PUT", f"/connectors/{self._name(name)}/pause")

    def resume(self, name: str) -> None:
        self.request("PUT", f"/connectors/{self._name(name)}/resume")

    def stop(self, name: str) -> None:
        self.request("PUT", f"/connectors/{self._name(name)}/stop")

    def restart(self, name: str, *, include_tasks: bool = True, only_failed: bool = True) -> None:
        """``POST /connectors/{name}/restart``; with ``onlyFailed`` healthy tasks keep running."""
        params = {"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()}
        self.request("POST", f"/connectors/{self._name(name)}/restart", params=params)

    def delete(self, name: str) -> None:
        self.request("DELETE", f"/connectors/{self._name(name)}")
