"""A real Airflow 3 on the sandbox: api-server, scheduler (LocalExecutor), dag-processor and triggerer.

Used by ``./dev ui`` and by the end-to-end tests (``tests/e2e``), so the tests run the code users run.

Why not ``airflow standalone``: it starts its components with the ``airflow`` found on ``PATH`` (which a
plain shell running ``./dev ui`` does not have), and does not stop them on SIGTERM. Here each component is
a child process started with this venv's ``airflow``, the venv's ``bin`` first on ``PATH``, in a process
group of its own (a terminal's Ctrl-C reaches only the sandbox CLI, which then stops every group in order).

Configuration (``airflow/config_templates/config.yml`` of apache-airflow-core 3.3):

* ``[api] host/port`` a free loopback port, ``[api] base_url`` and ``[core] execution_api_server_url``
  (default ``{base_url}/execution/``, i.e. localhost:8080 when base_url is unset: every task supervisor
  would call a server that is not there and fail after its retries);
* the scheduler and triggerer start log servers (``airflow.utils.serve_logs.core.serve_logs``) on
  ``[logging] worker_log_server_port`` / ``trigger_log_server_port`` (8793/8794) bound to *all*
  interfaces, with no host option. Here every component shares one machine and one log folder, and the
  api-server reads task logs from local files first (``FileTaskHandler``), so both start with
  ``--skip-serve-logs``: nothing listens beyond the api-server on 127.0.0.1;
* ``[core] simple_auth_manager_all_admins`` (SimpleAuthManager, the default auth manager): a local
  sandbox lets everyone in as admin; API clients get a token from ``GET /auth/token`` (the all-admins route
  of ``api_fastapi/auth/managers/simple/routes/login.py``);
* ``[database] sql_alchemy_conn``: a private PostgreSQL (:class:`sandbox.services.PrivatePostgres`), since
  SQLite, Airflow's development default, refuses concurrent writes ("database is locked");
* ``[api_auth] jwt_secret`` and ``[api] secret_key``: random per start, in the environment only, shared by
  all components (tokens signed by the api-server must validate in the execution API).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from commodity_platform.errors import PermanentError
from commodity_platform.paths import PROJECT_ROOT
from sandbox.emulators import Emulators
from sandbox.services import PrivatePostgres, Sandbox, airflow_env, free_port, processes_mentioning

log = logging.getLogger(__name__)

PROJECT_DAG_IDS = (
    "doris_schema_migrate",
    "kafka_connect_register",
    "ohlc_backfill",
    "streaming_data_quality",
    "streaming_platform_deploy",
)
#: Airflow components in start order; stopped in reverse (the scheduler before the api-server its tasks call).
COMPONENTS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
}
TERMINAL_RUN_STATES = {"success", "failed"}


def pin_metadata_db(cfg_path: Path, url: str) -> None:
    """Name the metadata DB in ``$AIRFLOW_HOME/airflow.cfg``, so that an ``airflow`` CLI given only this
    ``AIRFLOW_HOME`` (the README's ``airflow backfill create`` next to ``./dev ui``) reaches the same database
    as the components, not a new SQLite file (Airflow's default). The URL holds no password.

    An existing file (Airflow writes its full default on first use) gets its ``[database] sql_alchemy_conn``
    line replaced; otherwise a file with only that option is written (Airflow fills in the defaults).
    """
    line = f"sql_alchemy_conn = {url}"
    if not cfg_path.exists():
        cfg_path.write_text(f"# Written by sandbox.live_airflow: the live sandbox's metadata DB.\n[database]\n{line}\n")
        return
    out, section, done = [], "", False
    for raw in cfg_path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if section == "[database]" and not done:
                out.append(line)
                done = True
            section = stripped
        elif section == "[database]" and re.match(r"sql_alchemy_conn\s*=", stripped):
            if not done:
                out.append(line)
                done = True
            continue
        out.append(raw)
    if not done:
        out += ([line] if section == "[database]" else ["[database]", line])
    cfg_path.write_text("\n".join(out) + "\n")


def airflow_bin() -> Path:
    """The ``airflow`` of the interpreter running this code (the project's venv)."""
    return Path(sys.executable).with_name("airflow")


@dataclass
class _Component:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


class LiveAirflow:
    """Airflow 3 on ``sandbox`` and ``emulators``, with its own ``AIRFLOW_HOME``; a context manager.

    :param extra_env: more environment for every component (e.g. ``STREAMING_DQ_SCHEDULE``).
    :param doris_database: the warehouse database the DAGs use (``doris_default``'s schema).
    """

    def __init__(self, sandbox: Sandbox, emulators: Emulators, *, home: Path,
                 extra_env: Mapping[str, str] | None = None, doris_database: str | None = None,
                 parallelism: int = 8) -> None:
        self.sandbox = sandbox
        self.emulators = emulators
        self.home = home
        self.extra_env = dict(extra_env or {})
        self.doris_database = doris_database
        self.parallelism = parallelism
        self.metadata_db = PrivatePostgres(home / "postgres")
        self.port = 0
        self.env: dict[str, str] = {}
        self._components: list[_Component] = []
        self._token: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> LiveAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def build_env(self) -> dict[str, str]:
        venv_bin = str(airflow_bin().parent)
        path = os.pathsep.join([venv_bin, os.environ.get("PATH") or "/usr/bin:/bin", "/usr/sbin", "/usr/bin"])
        connections = (self.sandbox.connection_env(database=self.doris_database) if self.doris_database
                       else self.sandbox.connection_env())
        return {
            **os.environ,
            **airflow_env(self.home),
            **connections,
            **self.emulators.connection_env(),
            "PATH": path,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # A private PostgreSQL, not airflow_env's SQLite file: the components write at once (see
            # PrivatePostgres for why SQLite is not fit for that).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db.sqlalchemy_url,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            # New DAG files are picked up within seconds (default 5 min): the sandbox is for editing DAGs.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            **self.extra_env,
        }

    def start(self, *, timeout: float = 240.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.stop_stale()
        self.port = free_port()
        self.metadata_db.start()
        pin_metadata_db(self.home / "airflow.cfg", self.metadata_db.sqlalchemy_url)
        self.env = self.build_env()
        migrate = subprocess.run([str(airflow_bin()), "db", "migrate"], env=self.env, capture_output=True,
                                 text=True)
        if migrate.returncode != 0:
            raise PermanentError(f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
        for name, argv in COMPONENTS.items():
            log_path = self.home / f"{name}.log"
            handle = log_path.open("ab")
            popen = subprocess.Popen([str(airflow_bin()), *argv], env=self.env, stdout=handle,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=PROJECT_ROOT)
            handle.close()
            self._components.append(_Component(name, popen, log_path))
        (self.home / "components.pids").write_text(" ".join(str(c.popen.pid) for c in self._components))
        self.wait_ready(timeout=timeout)

    def stop(self, *, timeout: float = 30.0) -> None:
        """SIGTERM every component's process group (tasks included), SIGKILL what is left after ``timeout``."""
        for component in reversed(self._components):
            _signal_group(component.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for component in reversed(self._components):
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        for component in self._components:
            _signal_group(component.popen.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=5)
        self._components.clear()
        self._kill_leftovers()
        (self.home / "components.pids").unlink(missing_ok=True)
        self.metadata_db.stop()

    def stop_stale(self) -> None:
        """Stop components a killed earlier run with the same home left behind."""
        pids = self.home / "components.pids"
        if pids.exists():
            for pid in pids.read_text().split():
                _signal_group(int(pid), signal.SIGKILL)
            pids.unlink()
        self._kill_leftovers()
        self.metadata_db.stop_stale()

    def _kill_leftovers(self) -> None:
        """Any process still running with this AIRFLOW_HOME (a task that left its group) is killed."""
        for pid in processes_mentioning(f"AIRFLOW_HOME={self.home}\0", environ=True, cmdline=False):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def wait_until_a_component_exits(self) -> str:
        """Block (until Ctrl-C / SIGTERM interrupts) while all components run; says which one exited."""
        while True:
            for component in self._components:
                if component.popen.poll() is not None:
                    tail = component.log_path.read_text(errors="replace")[-2000:]
                    return (f"airflow {component.name} exited with {component.popen.returncode}; "
                            f"log {component.log_path}:\n{tail}")
            time.sleep(1.0)

    def pids(self) -> list[int]:
        return [c.popen.pid for c in self._components]

    def wait_ready(self, *, timeout: float) -> None:
        """Until the api-server answers, all components report healthy and the project's DAGs are parsed."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for component in self._components:
                if component.popen.poll() is not None:
                    tail = component.log_path.read_text(errors="replace")[-3000:]
                    raise PermanentError(f"airflow {component.name} exited with {component.popen.returncode}; "
                                         f"log {component.log_path}:\n{tail}")
            try:
                health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
                unhealthy = [name for name in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                             if (health.get(name) or {}).get("status") != "healthy"]
                if unhealthy:
                    last = f"not healthy yet: {unhealthy}"
                else:
                    errors = self.get("/api/v2/importErrors")["import_errors"]
                    if errors:
                        raise PermanentError("DAG import errors: " + "; ".join(
                            f"{e['filename']}: {e['stack_trace'][-500:]}" for e in errors))
                    parsed = {d["dag_id"] for d in self.get("/api/v2/dags", params={"limit": 100})["dags"]}
                    missing = sorted(set(PROJECT_DAG_IDS) - parsed)
                    if not missing:
                        return
                    last = f"DAGs not parsed yet: {missing}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(1.0)
        raise PermanentError(f"Airflow not ready after {timeout:.0f} s ({last}); logs under {self.home}")

    # -- REST API v2 ----------------------------------------------------------------------------------

    def token(self) -> str:
        """A JWT from the all-admins token route (SimpleAuthManager with ``simple_auth_manager_all_admins``)."""
        if self._token is None:
            response = httpx.get(f"{self.url}/auth/token", timeout=10)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                **kwargs: Any) -> httpx.Response:
        headers = {**(headers or {}), "Authorization": f"Bearer {self.token()}"}
        response = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)
        if response.status_code >= 400:
            raise PermanentError(f"{method} {path} -> {response.status_code}: {response.text[:1000]}")
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, unpause: bool = True) -> str:
        """Trigger a manual run now (``logical_date`` null, as the UI's trigger form does); returns the run id.

        The scheduler starts no run of a paused DAG, and new DAGs are paused: ``unpause`` does what the
        trigger form's "unpause on trigger" does.
        """
        if unpause:
            self.set_paused(dag_id, False)
        body = {"logical_date": None, "conf": dict(conf or {})}
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 300.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                states = {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}
                raise PermanentError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f} s: {states}")
            time.sleep(1.0)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                        params={"limit": 1000})["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, *, map_index: int = -1) -> Any:
        entry = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
                         "return_value", params={"map_index": map_index, "deserialize": True})
        return entry["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, *, map_index: int = -1) -> str:
        body = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                        params={"map_index": map_index, "full_content": True},
                        headers={"Accept": "application/json"})
        content = body.get("content")
        if not isinstance(content, list):
            return str(content)
        # Structured entries: the message in "event", an exception's type, text and frames in "error_detail".
        return "\n".join(
            " ".join([str(c.get("event", "")), *(json.dumps(v, default=str) for k, v in c.items() if k != "event")])
            if isinstance(c, dict) else str(c)
            for c in content
        )

    def airflow_cli(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run an ``airflow`` CLI command against this Airflow (same environment as its components)."""
        return subprocess.run([str(airflow_bin()), *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@contextlib.contextmanager
def sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Turn SIGTERM, SIGHUP and SIGINT into KeyboardInterrupt: ``with`` blocks stop everything as on Ctrl-C.

    Without it the interpreter dies on SIGTERM without unwinding: no ``finally``, no ``atexit``, and every
    child (MariaDB, Prometheus, the Airflow components) keeps running. A second signal during the cleanup
    is ignored so the cleanup finishes.
    """
    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
