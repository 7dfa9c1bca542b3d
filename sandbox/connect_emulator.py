"""A Kafka Connect REST emulator served over real HTTP on loopback (Starlette + uvicorn in a thread).

It follows the documented Connect REST API closely enough to exercise a client end to end:

* ``GET /`` worker info; ``GET /connector-plugins?connectorsOnly=true``;
  ``PUT /connector-plugins/{class}/config/validate`` -> ``{name, error_count, groups, configs:[{definition,
  value:{name, value, recommended_values, errors, visible}}]}``.
* **The plugins are the Connect image build's**, not a hand-kept list: by default the emulator serves the
  connector classes of ``include/contracts/artifacts.yaml`` (``kafka_connect``: what
  ``include/kafka-connect/Dockerfile`` installs plus what cp-kafka-connect itself has on the plugin path), so
  a connector whose plugin the image lacks fails here as on a real worker. Apache Kafka 3.9
  (``Plugins.connectorClass``): an unknown ``connector.class`` raises ``ConnectException("Failed to find any
  class that implements Connector and which name matches <class>, available connectors are: PluginDesc{...}")``,
  which ``ConnectExceptionMapper`` answers with 500 (not a ``WebApplicationException``), on validate and on
  create/update alike (both go through ``AbstractHerder.validateConnectorConfig``). A transform or converter
  class the image lacks is a validation error on its key, as ConfigDef reports a missing CLASS:
  ``Invalid value <class> for configuration <key>: Class <class> could not be found.``
* ``GET /connectors`` (``?expand=status&expand=info``), ``GET /connectors/{name}``, ``.../config``,
  ``.../status`` -> ``{name, connector:{state, worker_id, trace?},
  tasks:[{id, state, worker_id, trace?}], type}``.
* ``PUT /connectors/{name}/config`` 201 created / 200 updated (400 when invalid);
  ``POST /connectors`` with ``initial_state`` 201 (409 when it exists);
  ``PUT .../pause`` 202, ``.../resume`` 202, ``.../stop`` 204; ``DELETE`` 204;
  ``POST .../restart?includeTasks=true&onlyFailed=true`` 202 with the status (204 for a plain restart).
* Errors are ``{"error_code": n, "message": "..."}``; unknown connector 404.

Asynchrony is modelled deterministically, never by wall-clock time: after a state-changing call the
connector shows a transitional status for ``settle_reads`` status reads, then settles. Test controls:
:meth:`begin_rebalance` (next N requests get 409), :meth:`inject_error` (5xx), :meth:`fail_task`
(the next N starts of a task FAIL with a trace), :meth:`crash_task`, :meth:`drift_config`,
:meth:`seed_connector`. Every request is logged for counting.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from commodity_platform.artifacts import ConnectImage, connect_image

REBALANCE_MESSAGE = (
    "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent "
    "config change)"
)


@dataclass(frozen=True)
class Plugin:
    cls: str
    type: str  # "source" | "sink"
    version: str
    required: tuple[str, ...] = ()
    max_tasks: int | None = None  # some connectors create fewer tasks than tasks.max
    location: str = "classpath"  # where the worker found it (PluginDesc.location)


# What the emulator checks per connector class (required keys, task cap). Which classes exist is NOT decided
# here: that comes from the image build (image_plugins); a class without an entry validates common keys only.
_REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "com.github.castorm.kafka.connect.http.HttpSourceConnector": ("kafka.topic", "http.request.url"),
    "io.debezium.connector.postgresql.PostgresConnector": (
        "database.hostname",
        "database.user",
        "database.dbname",
        "topic.prefix",
    ),
    "io.debezium.connector.mysql.MySqlConnector": (
        "database.hostname",
        "database.user",
        "database.server.id",
        "topic.prefix",
        "schema.history.internal.kafka.topic",
    ),
    "org.apache.iceberg.connect.IcebergSinkConnector": ("iceberg.catalog.type",),
    "org.apache.doris.kafka.connector.DorisSinkConnector": (
        "doris.urls",
        "doris.user",
        "doris.password",
        "doris.database",
    ),
    "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector": ("connection.url",),
    "io.confluent.connect.s3.S3SinkConnector": ("s3.bucket.name", "format.class", "storage.class", "flush.size"),
    "io.confluent.connect.jdbc.JdbcSinkConnector": ("connection.url",),
    "io.confluent.connect.jdbc.JdbcSourceConnector": ("connection.url",),
    "org.apache.kafka.connect.file.FileStreamSinkConnector": ("file",),
}
# Connectors that create fewer tasks than tasks.max (one binlog reader / replication slot / offset cursor).
_MAX_TASKS: dict[str, int] = {
    "com.github.castorm.kafka.connect.http.HttpSourceConnector": 1,
    "io.debezium.connector.postgresql.PostgresConnector": 1,
    "io.debezium.connector.mysql.MySqlConnector": 1,
}


def image_plugins(image: ConnectImage | None = None) -> tuple[Plugin, ...]:
    """The connector plugins a worker of the Connect image loads (default: the repository's image build)."""
    image = connect_image() if image is None else image
    return tuple(
        Plugin(c.cls, c.type, c.version, _REQUIRED_KEYS.get(c.cls, ()), _MAX_TASKS.get(c.cls), f"plugin {c.plugin}")
        for c in image.connectors
    )


# Kafka's FileStream demo connectors: cp-kafka-connect has them in /usr/share/filestream-connectors, which the
# platform's plugin.path leaves out (docs.confluent.io/platform/current/connect/filestream_connector.html).
# Tests that need a connector without any external system add them explicitly (a worker whose plugin.path
# lists that directory); the platform's specs must not use them.
FILESTREAM_PLUGINS: tuple[Plugin, ...] = (
    Plugin("org.apache.kafka.connect.file.FileStreamSinkConnector", "sink", "7.9.0-ccs", ("file",)),
    Plugin("org.apache.kafka.connect.file.FileStreamSourceConnector", "source", "7.9.0-ccs", (), max_tasks=1),
)

_COMMON_KEYS = ("name", "connector.class", "tasks.max", "key.converter", "value.converter")


@dataclass
class _Task:
    id: int
    state: str
    worker_id: str
    trace: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "state": self.state, "worker_id": self.worker_id}
        if self.trace:
            body["trace"] = self.trace
        return body


@dataclass
class _Connector:
    name: str
    config: dict[str, str]
    type: str
    target: str = "STARTED"  # STARTED | PAUSED | STOPPED, as Connect's target states
    state: str = "UNASSIGNED"
    worker_id: str = "connect-0.connect.data-platform.svc:8083"
    trace: str | None = None
    tasks: list[_Task] = field(default_factory=list)
    pending_reads: int = 0
    pending: str | None = None  # None | "all" | "failed" | "target"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int


class ConnectEmulator:
    """Kafka Connect REST emulator; use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        plugins: tuple[Plugin, ...] | None = None,
        *,
        image: ConnectImage | None = None,
        workers: int = 3,
        settle_reads: int = 1,
        auth: tuple[str, str] | None = None,
    ) -> None:
        # The Connect image build (catalogue) decides which connector, transform and converter classes exist.
        self.image = connect_image() if image is None else image
        self.plugins = {p.cls: p for p in (image_plugins(self.image) if plugins is None else plugins)}
        self.workers = [f"connect-{i}.connect.data-platform.svc:8083" for i in range(workers)]
        self.settle_reads = settle_reads
        self.auth = auth
        self.connectors: dict[str, _Connector] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._rebalance_left = 0
        self._rebalance_method: str | None = None
        self._injected: list[dict[str, Any]] = []
        self._fail_starts: dict[tuple[str, int], int] = {}
        self._field_errors: dict[tuple[str, str], str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "PUT", "POST", "DELETE"])]
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectEmulator:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="connect-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:  # startup handshake only; no test logic depends on timing
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Kafka Connect emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ConnectEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ----------------------------------------------------------------------------------

    def begin_rebalance(self, requests: int, *, method: str | None = None) -> None:
        """The next ``requests`` requests (of ``method``, if given) to ``/connectors`` endpoints answer 409.
        Status reads are served from the status topic by real workers and stay available."""
        with self._lock:
            self._rebalance_left = requests
            self._rebalance_method = method

    def inject_error(
        self,
        status: int,
        *,
        count: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        message: str = "Request timed out",
    ) -> None:
        with self._lock:
            self._injected.append(
                {
                    "status": status,
                    "count": count,
                    "method": method,
                    "path": path_contains,
                    "message": message,
                }
            )

    def fail_task(self, name: str, task_id: int, *, times: int) -> None:
        """The next ``times`` starts of task ``task_id`` of ``name`` end FAILED with a trace."""
        with self._lock:
            self._fail_starts[(name, task_id)] = times

    def crash_task(self, name: str, task_id: int) -> None:
        """A running task dies now (out of band), as after a poison record or a lost database."""
        with self._lock:
            task = self.connectors[name].tasks[task_id]
            task.state = "FAILED"
            task.trace = _trace(name, task_id)

    def drift_config(self, name: str, key: str, value: str | None) -> None:
        """Someone edited the connector by hand (no request is logged)."""
        with self._lock:
            config = self.connectors[name].config
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value

    def set_target(self, name: str, target: str) -> None:
        """Out-of-band pause/resume/stop (e.g. an operator's curl), already settled."""
        with self._lock:
            conn = self.connectors[name]
            conn.target = target
            self._settle(conn, "target")

    def reject_field(self, connector_class: str, key: str, message: str) -> None:
        """Validation of ``connector_class`` reports ``message`` for ``key``."""
        with self._lock:
            self._field_errors[(connector_class, key)] = message

    def seed_connector(self, name: str, config: Mapping[str, str], *, target: str = "STARTED") -> None:
        """Create a settled connector directly (not through the API, no request logged)."""
        with self._lock:
            plugin = self._plugin(config.get("connector.class", ""))
            conn = _Connector(
                name=name,
                config={**config, "name": name},
                type=plugin.type if plugin else "unknown",
                target=target,
            )
            self.connectors[name] = conn
            self._settle(conn, "all")

    def requests(self, method: str | None = None, *, path_contains: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method)
                and (path_contains is None or path_contains in r.path)
            ]

    def writes(self) -> list[LoggedRequest]:
        """Requests that change the cluster (validation is a PUT but read-only, so it is excluded)."""
        return [r for r in self.requests() if r.method != "GET" and not r.path.endswith("/config/validate")]

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    def status_of(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._status_body(self.connectors[name])

    # -- model ------------------------------------------------------------------------------------------

    def _plugin(self, connector_class: str) -> Plugin | None:
        for plugin in self.plugins.values():
            simple = plugin.cls.rsplit(".", 1)[-1]
            if connector_class in (plugin.cls, simple, simple.removesuffix("Connector")):
                return plugin
        return None

    def _worker(self, name: str, index: int) -> str:
        return self.workers[(sum(map(ord, name)) + index) % len(self.workers)]

    def _start_task(self, conn: _Connector, task_id: int, running_state: str) -> _Task:
        left = self._fail_starts.get((conn.name, task_id), 0)
        if left > 0:
            self._fail_starts[(conn.name, task_id)] = left - 1
            return _Task(task_id, "FAILED", self._worker(conn.name, task_id + 1), _trace(conn.name, task_id))
        return _Task(task_id, running_state, self._worker(conn.name, task_id + 1))

    def _schedule(self, conn: _Connector, what: str) -> None:
        """Begin an asynchronous change; it becomes visible after ``settle_reads`` status reads."""
        order = {"target": 0, "failed": 1, "all": 2}
        if conn.pending is None or order[what] > order[conn.pending]:
            conn.pending = what
        conn.pending_reads = self.settle_reads
        if self.settle_reads == 0:
            self._settle(conn, conn.pending)

    def _settle(self, conn: _Connector, what: str | None) -> None:
        conn.pending, conn.pending_reads = None, 0
        if conn.target == "STOPPED":
            conn.state, conn.trace, conn.tasks = "STOPPED", None, []
            return
        running_state = "RUNNING" if conn.target == "STARTED" else "PAUSED"
        conn.state, conn.trace = running_state, None
        conn.worker_id = self._worker(conn.name, 0)
        plugin = self._plugin(conn.config.get("connector.class", ""))
        wanted = int(conn.config.get("tasks.max", "1"))
        count = min(wanted, plugin.max_tasks) if plugin and plugin.max_tasks else wanted
        if what == "all" or not conn.tasks:
            conn.tasks = [self._start_task(conn, i, running_state) for i in range(count)]
        elif what == "failed":
            conn.tasks = [
                self._start_task(conn, t.id, running_state) if t.state == "FAILED" else t for t in conn.tasks
            ]
            for t in conn.tasks:
                if t.state != "FAILED":
                    t.state = running_state
        else:
            for t in conn.tasks:
                if t.state != "FAILED":  # Connect leaves failed tasks FAILED on pause/resume
                    t.state = running_state

    def _read_status(self, conn: _Connector) -> dict[str, Any]:
        """A status read; transitional while a change is pending, settled afterwards."""
        if conn.pending is not None:
            if conn.pending_reads > 0:
                conn.pending_reads -= 1
                return self._transitional_body(conn)
            self._settle(conn, conn.pending)
        return self._status_body(conn)

    def _transitional_body(self, conn: _Connector) -> dict[str, Any]:
        if conn.pending == "all":
            tasks: list[dict[str, Any]] = []  # task configs not yet generated / assigned
            state = "UNASSIGNED" if conn.state in ("UNASSIGNED", "STOPPED") else conn.state
            body = {
                "name": conn.name,
                "connector": {"state": state, "worker_id": self._worker(conn.name, 0)},
                "tasks": tasks,
                "type": conn.type,
            }
            return body
        body = self._status_body(conn)
        for task in body["tasks"]:
            if conn.pending == "failed" and task["state"] == "FAILED":
                task["state"] = "RESTARTING"
                task.pop("trace", None)
        return body

    def _status_body(self, conn: _Connector) -> dict[str, Any]:
        connector: dict[str, Any] = {"state": conn.state, "worker_id": conn.worker_id}
        if conn.trace:
            connector["trace"] = conn.trace
        return {
            "name": conn.name,
            "connector": connector,
            "tasks": [t.as_dict() for t in conn.tasks],
            "type": conn.type,
        }

    def _info_body(self, conn: _Connector) -> dict[str, Any]:
        return {
            "name": conn.name,
            "config": dict(conn.config),
            "tasks": [{"connector": conn.name, "task": t.id} for t in conn.tasks],
            "type": conn.type,
        }

    @staticmethod
    def _class_keys(config: Mapping[str, Any]) -> list[str]:
        """Keys whose value is a transform, predicate or converter class the worker must load."""
        keys = [k for k in ("key.converter", "value.converter", "header.converter") if config.get(k)]
        for prefix, listing in (("transforms", config.get("transforms")), ("predicates", config.get("predicates"))):
            for alias in str(listing or "").split(","):
                key = f"{prefix}.{alias.strip()}.type"
                if alias.strip() and config.get(key):
                    keys.append(key)
        return keys

    def _validate(self, connector_class: str, config: Mapping[str, Any]) -> dict[str, Any]:
        plugin = self._plugin(connector_class)
        assert plugin is not None
        errors: dict[str, list[str]] = {}
        for key in plugin.required:
            if not str(config.get(key, "")).strip():
                errors.setdefault(key, []).append(
                    f'Missing required configuration "{key}" which has no default value.'
                )
        tasks_max = str(config.get("tasks.max", "1"))
        if not tasks_max.isdigit() or int(tasks_max) < 1:
            errors.setdefault("tasks.max", []).append(
                f"Invalid value {tasks_max} for configuration tasks.max: Value must be at least 1"
            )
        for key in self._class_keys(config):
            class_name = str(config[key]).strip()
            if not self.image.has_class(class_name):
                # ConfigDef's CLASS parsing, as the worker reports a transform/converter its plugins lack.
                errors.setdefault(key, []).append(
                    f"Invalid value {class_name} for configuration {key}: Class {class_name} could not be found."
                )
        for (cls, key), message in self._field_errors.items():
            if cls == plugin.cls:
                errors.setdefault(key, []).append(message)
        keys = list(dict.fromkeys([*_COMMON_KEYS, *plugin.required, *config, *errors]))
        configs = []
        for order, key in enumerate(keys):
            group = (
                "Common"
                if key in _COMMON_KEYS
                else (
                    "Transforms"
                    if key.startswith("transforms")
                    else "Error Handling"
                    if key.startswith("errors.")
                    else plugin.cls.rsplit(".", 1)[-1]
                )
            )
            configs.append(
                {
                    "definition": {
                        "name": key,
                        "type": "STRING",
                        "required": key in plugin.required,
                        "default_value": None,
                        "importance": "HIGH",
                        "documentation": f"{key}.",
                        "group": group,
                        "width": "NONE",
                        "display_name": key,
                        "dependents": [],
                        "order": order,
                    },
                    "value": {
                        "name": key,
                        "value": None if config.get(key) is None else str(config.get(key)),
                        "recommended_values": [],
                        "errors": errors.get(key, []),
                        "visible": True,
                    },
                }
            )
        return {
            "name": plugin.cls,
            "error_count": sum(len(v) for v in errors.values()),
            "groups": ["Common", "Transforms", "Predicates", "Error Handling", plugin.cls.rsplit(".", 1)[-1]],
            "configs": configs,
        }

    # -- HTTP ------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            response = self._dispatch(request, body)
            self.log.append(
                LoggedRequest(request.method, request.url.path, request.url.query, response.status_code)
            )
            return response

    def _dispatch(self, request: Request, raw_body: bytes) -> Response:
        method, path = request.method, request.url.path
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            if request.headers.get("authorization") != expected:
                return _error(401, "User cannot access the resource.")
        for rule in self._injected:
            if (
                rule["count"] > 0
                and (rule["method"] in (None, method))
                and (rule["path"] is None or rule["path"] in path)
            ):
                rule["count"] -= 1
                return _error(rule["status"], rule["message"])
        is_status_read = method == "GET" and path.endswith("/status")
        if (
            self._rebalance_left > 0
            and path.startswith("/connectors")
            and not is_status_read
            and self._rebalance_method in (None, method)
        ):
            self._rebalance_left -= 1
            return _error(409, REBALANCE_MESSAGE)

        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            return _error(400, "Unrecognized JSON body")

        if path == "/" and method == "GET":
            return JSONResponse(
                {"version": "3.9.0", "commit": "a60e31147e6b01ee", "kafka_cluster_id": "cp-kafka-cluster-id"}
            )
        if path == "/connector-plugins" and method == "GET":
            return JSONResponse(
                [{"class": p.cls, "type": p.type, "version": p.version} for p in self.plugins.values()]
            )
        match = re.fullmatch(r"/connector-plugins/([^/]+)/config/validate", path)
        if match and method == "PUT":
            return self._validate_endpoint(match.group(1), body)
        if path == "/connectors" and method == "GET":
            expand = request.query_params.getlist("expand")
            if not expand:
                return JSONResponse(sorted(self.connectors))
            out: dict[str, Any] = {}
            for name, conn in sorted(self.connectors.items()):
                entry: dict[str, Any] = {}
                if "status" in expand:
                    entry["status"] = self._read_status(conn)
                if "info" in expand:
                    entry["info"] = self._info_body(conn)
                out[name] = entry
            return JSONResponse(out)
        if path == "/connectors" and method == "POST":
            return self._create(body)
        match = re.fullmatch(r"/connectors/([^/]+)(/[a-z]+)?", path)
        if not match:
            return _error(404, "HTTP 404 Not Found")
        name, action = match.group(1), match.group(2) or ""
        if action == "/config" and method == "PUT":
            return self._put_config(name, body)
        conn = self.connectors.get(name)
        if conn is None:
            return _error(404, f"Connector {name} not found")
        if action == "" and method == "GET":
            return JSONResponse(self._info_body(conn))
        if action == "" and method == "DELETE":
            del self.connectors[name]
            return Response(status_code=204)
        if action == "/config" and method == "GET":
            return JSONResponse(dict(conn.config))
        if action == "/status" and method == "GET":
            return JSONResponse(self._read_status(conn))
        if action in ("/pause", "/resume", "/stop") and method == "PUT":
            conn.target = {"/pause": "PAUSED", "/resume": "STARTED", "/stop": "STOPPED"}[action]
            self._schedule(conn, "all" if not conn.tasks and conn.target != "STOPPED" else "target")
            return Response(status_code=204 if action == "/stop" else 202)
        if action == "/restart" and method == "POST":
            include_tasks = request.query_params.get("includeTasks", "false") == "true"
            only_failed = request.query_params.get("onlyFailed", "false") == "true"
            if not include_tasks and not only_failed:
                self._schedule(conn, "target")
                return Response(status_code=204)
            self._schedule(conn, "failed" if only_failed else "all")
            return JSONResponse(self._transitional_body(conn), status_code=202)
        return _error(405, "HTTP 405 Method Not Allowed")

    def _validate_endpoint(self, plugin_name: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, "Request body must be a JSON object of connector configs")
        included = str(body.get("connector.class", ""))
        norm = lambda s: s.removesuffix("Connector")  # noqa: E731 - mirrors Connect's normalisation
        if included and not norm(included).endswith(norm(plugin_name)):
            return _error(
                400, f"Included connector type {included} does not match request type {plugin_name}"
            )
        if self._plugin(plugin_name) is None:
            return self._unknown_connector(plugin_name)
        return JSONResponse(self._validate(plugin_name, body))

    def _unknown_connector(self, connector_class: str) -> Response:
        """Connect 3.9's answer for a class no plugin provides (Plugins.connectorClass -> ConnectException -> 500)."""
        available = ", ".join(
            f"PluginDesc{{klass=class {p.cls}, name='{p.cls}', version='{p.version}', encodedVersion={p.version}, "
            f"type={p.type}, typeName='{p.type}', location='{p.location}'}}"
            for p in self.plugins.values()
        )
        return _error(
            500,
            f"Failed to find any class that implements Connector and which name matches {connector_class}, "
            f"available connectors are: {available}",
        )

    def _check_config(self, name: str, config: Any) -> Response | None:
        if not isinstance(config, dict):
            return _error(400, "Connector config must be a JSON object")
        if config.get("name", name) != name:
            return _error(
                400,
                f"Connector name configuration ({config['name']}) doesn't match connector "
                f"name in the URL ({name})",
            )
        connector_class = str(config.get("connector.class", ""))
        if not connector_class:
            return _error(400, f"Connector config {config} contains no connector type")
        if self._plugin(connector_class) is None:
            return self._unknown_connector(connector_class)
        result = self._validate(connector_class, config)
        if result["error_count"]:
            lines = [f"{c['value']['name']}: {e}" for c in result["configs"] for e in c["value"]["errors"]]
            return _error(
                400,
                f"Connector configuration is invalid and contains the following "
                f"{result['error_count']} error(s):\n" + "\n".join(lines),
            )
        return None

    def _put_config(self, name: str, config: Any) -> Response:
        problem = self._check_config(name, config)
        if problem is not None:
            return problem
        config = {str(k): str(v) for k, v in config.items()} | {"name": name}
        conn = self.connectors.get(name)
        created = conn is None
        if conn is None:
            plugin = self._plugin(config["connector.class"])
            conn = _Connector(name=name, config=config, type=plugin.type if plugin else "unknown")
            self.connectors[name] = conn
        else:
            conn.config = config
        # A config write restarts the connector and regenerates its tasks, even if nothing changed.
        if conn.target != "STOPPED":
            self._schedule(conn, "all")
        return JSONResponse(self._info_body(conn), status_code=201 if created else 200)

    def _create(self, body: Any) -> Response:
        if not isinstance(body, dict) or "name" not in body or "config" not in body:
            return _error(400, "Request body must contain name and config")
        name = str(body["name"])
        if name in self.connectors:
            return _error(409, f"Connector {name} already exists")
        problem = self._check_config(name, body["config"])
        if problem is not None:
            return problem
        initial = str(body.get("initial_state", "RUNNING")).upper()
        target = {"RUNNING": "STARTED", "PAUSED": "PAUSED", "STOPPED": "STOPPED"}.get(initial)
        if target is None:
            return _error(400, f"Invalid initial state {initial}")
        config = {str(k): str(v) for k, v in body["config"].items()} | {"name": name}
        plugin = self._plugin(config["connector.class"])
        conn = _Connector(name=name, config=config, type=plugin.type if plugin else "unknown", target=target)
        self.connectors[name] = conn
        if target == "STOPPED":
            self._settle(conn, "all")
        else:
            self._schedule(conn, "all")
        return JSONResponse(self._info_body(conn), status_code=201)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": status, "message": message}, status_code=status)


def _trace(name: str, task_id: int) -> str:
    return (
        f"org.apache.kafka.connect.errors.ConnectException: Task {name}-{task_id} failed: "
        "Connection to downstream refused\n"
        "\tat org.apache.kafka.connect.runtime.WorkerSinkTask.execute(WorkerSinkTask.java:243)\n"
        "\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:204)\n"
    )
