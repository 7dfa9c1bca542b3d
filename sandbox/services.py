"""Private local instances of the services the DAGs talk to, for the demo and the test suite.

Each sandbox lives in its own folder under ``.sandbox/`` in the project: data directories, logs, pid
and config files. Services listen on free loopback ports picked at start, run as child processes of
whoever started them, and are stopped by :meth:`Sandbox.stop` (also registered with ``atexit``). The
system's own MariaDB or Prometheus, if any, are never touched.

* MariaDB stands in for Doris: same MySQL protocol, and the migration runner adapts Doris-only DDL.
* Prometheus Pushgateway receives the data-quality metrics.
* Prometheus scrapes the Pushgateway and evaluates the project's alert rules, extracted from the
  PrometheusRule manifests under ``include/manifests``.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from commodity_platform.connections import DORIS_DATABASE
from commodity_platform.errors import PermanentError
from commodity_platform.paths import DAGS_DIR, MANIFESTS_DIR, PROJECT_ROOT

log = logging.getLogger(__name__)

SANDBOX_HOME = PROJECT_ROOT / ".sandbox"
_SANDBOX_USER = "airflow"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(name: str, *, package: str) -> str:
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if path is None:
        raise PermanentError(f"{name} not found: install the Debian package {package} (make setup does it)")
    return path


def extract_prometheus_rules(manifests_dir: Path, out_dir: Path) -> list[Path]:
    """Write the ``.spec`` of every PrometheusRule manifest as a plain rule file promtool/Prometheus read."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.yml"):
        old.unlink()
    written = []
    for path in sorted(manifests_dir.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule":
                target = out_dir / f"{doc['metadata']['name']}.yml"
                target.write_text(yaml.safe_dump(doc["spec"], sort_keys=False), encoding="utf-8")
                written.append(target)
    return written


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Sandbox:
    """One set of private services under ``.sandbox/<name>``; use as a context manager or start/stop."""

    name: str
    #: Remove the whole folder on stop (per-process test sandboxes); otherwise data survives restarts.
    ephemeral: bool = False
    root: Path = field(init=False)
    mariadb_port: int = 0
    pushgateway_port: int = 0
    prometheus_port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    #: InnoDB buffer pool of the sandbox MariaDB (its size syntax, e.g. "1G"). 1 GiB holds every test's and
    #: the demo's data; a benchmark whose table is larger sizes it to hold its data, as a warehouse would be.
    mariadb_buffer_pool: str = "1G"
    _processes: list[_Process] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.root = SANDBOX_HOME / self.name

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, *, fresh_database: bool = False) -> None:
        """Start all services; ``fresh_database`` wipes the MariaDB data directory first."""
        self.stop_stale()
        self.root.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        self._start_mariadb(fresh=fresh_database)
        self._start_pushgateway()
        self._start_prometheus()
        state = self.root / "sandbox.json"
        state.write_text(json.dumps({"pids": [p.popen.pid for p in self._processes], **self.endpoints()}))
        # The state holds the throwaway sandbox password: readable by its owner only.
        state.chmod(0o600)
        log.info("sandbox %s up: %s", self.name, self.endpoints())

    def stop(self) -> None:
        for proc in reversed(self._processes):
            if proc.popen.poll() is None:
                proc.popen.terminate()
                try:
                    proc.popen.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(timeout=5)
        self._processes.clear()
        state = self.root / "sandbox.json"
        if state.exists():
            state.unlink()
        if self.ephemeral and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    @classmethod
    def sweep_ephemeral(cls, prefix: str) -> None:
        """Stop and remove ``<prefix>-<pid>`` sandboxes whose owning process is gone (a killed test run)."""
        for root in SANDBOX_HOME.glob(f"{prefix}-*"):
            pid = root.name.rsplit("-", 1)[-1]
            if not pid.isdigit() or Path(f"/proc/{pid}").exists():
                continue
            cls(root.name, ephemeral=True).stop_stale()
            # Whatever else still runs from that folder (a killed session's Airflow components and tasks).
            for leftover in processes_mentioning(f"{root}/"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(leftover, signal.SIGKILL)
            shutil.rmtree(root, ignore_errors=True)

    def stop_stale(self) -> None:
        """Kill services a crashed earlier run of this sandbox left behind (pids from its state file)."""
        state = self.root / "sandbox.json"
        if not state.exists():
            return
        for pid in json.loads(state.read_text()).get("pids", []):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        time.sleep(1.0)
        state.unlink()

    def _spawn(self, name: str, argv: list[str]) -> _Process:
        log_path = self.root / f"{name}.log"
        handle = log_path.open("ab")
        popen = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        proc = _Process(name, popen, log_path)
        self._processes.append(proc)
        return proc

    def _wait(self, proc: _Process, ready: Any, *, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                tail = proc.log_path.read_text(errors="replace")[-2000:]
                raise PermanentError(f"{proc.name} exited with {proc.popen.returncode}; log tail:\n{tail}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise PermanentError(f"{proc.name} not ready after {timeout:.0f} s; see {proc.log_path}")

    # -- MariaDB (stand-in for Doris) -------------------------------------------------------------------

    def _start_mariadb(self, *, fresh: bool) -> None:
        import MySQLdb

        mariadbd = require_binary("mariadbd", package="mariadb-server")
        install_db = require_binary("mariadb-install-db", package="mariadb-server")
        base = self.root / "mariadb"
        datadir = base / "data"
        if fresh and datadir.exists():
            shutil.rmtree(datadir)
        base.mkdir(parents=True, exist_ok=True)
        user = getpass.getuser()
        if not (datadir / "mysql").exists():
            subprocess.run(
                [install_db, "--no-defaults", f"--datadir={datadir}", f"--user={user}",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True, capture_output=True,
            )
        self.mariadb_port = free_port()
        socket_path = base / "mysqld.sock"
        proc = self._spawn("mariadb", [
            mariadbd, "--no-defaults", f"--datadir={datadir}", f"--port={self.mariadb_port}",
            "--bind-address=127.0.0.1", f"--socket={socket_path}", f"--pid-file={base / 'mysqld.pid'}",
            f"--user={user}", "--skip-name-resolve", f"--innodb-buffer-pool-size={self.mariadb_buffer_pool}",
            "--innodb-flush-log-at-trx-commit=2", "--max-connections=200", "--character-set-server=utf8mb4",
            "--default-time-zone=+00:00", "--local-infile=1",
            # With split_materialized (MariaDB's "lateral derived" rewrite) on, the optimizer plans bars.sql's
            # level 1 as a per-code split and aggregates it through a temporary table instead of streaming it
            # along the minute index (EXPLAIN "Using temporary"; measured 1.19x against 0.87x the bare scan
            # of a day). tests/ohlc checks the plan.
            "--optimizer-switch=split_materialized=off",
        ])

        def root_conn() -> Any:
            return MySQLdb.connect(unix_socket=str(socket_path), user="root", passwd="")

        self._wait(proc, lambda: root_conn().close() is None)
        conn = root_conn()
        try:
            cur = conn.cursor()
            cur.execute(f"CREATE USER IF NOT EXISTS '{_SANDBOX_USER}'@'127.0.0.1' IDENTIFIED BY %s", [self.password])
            cur.execute(f"ALTER USER '{_SANDBOX_USER}'@'127.0.0.1' IDENTIFIED BY %s", [self.password])
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{_SANDBOX_USER}'@'127.0.0.1'")
        finally:
            conn.close()

    def mysql_connect(self, database: str | None = None, *, local_infile: bool = False) -> Any:
        """A DB-API connection to the sandbox MariaDB as the sandbox user (for tests and the demo), autocommit;
        ``local_infile`` lets it ``LOAD DATA LOCAL INFILE`` (the tick generator's fast loader)."""
        import MySQLdb

        kwargs: dict[str, Any] = {"db": database} if database else {}
        if local_infile:
            kwargs["local_infile"] = 1
        return MySQLdb.connect(host="127.0.0.1", port=self.mariadb_port, user=_SANDBOX_USER,
                               passwd=self.password, autocommit=True, **kwargs)

    def query(self, sql: str, params: Any = None, *, database: str | None = DORIS_DATABASE) -> list[tuple[Any, ...]]:
        """Run one statement on a short-lived connection (autocommit); returns its rows (none for DML/DDL)."""
        conn = self.mysql_connect(database)
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            conn.close()

    def drop_database(self, database: str = DORIS_DATABASE) -> None:
        self.query(f"DROP DATABASE IF EXISTS `{database}`", database=None)

    # -- Pushgateway and Prometheus -----------------------------------------------------------------

    def _start_pushgateway(self) -> None:
        binary = require_binary("prometheus-pushgateway", package="prometheus-pushgateway")
        self.pushgateway_port = free_port()
        proc = self._spawn("pushgateway", [
            binary, f"--web.listen-address=127.0.0.1:{self.pushgateway_port}",
            f"--persistence.file={self.root / 'pushgateway.db'}", "--persistence.interval=5s",
        ])
        self._wait(proc, lambda: httpx.get(f"{self.pushgateway_url}/-/ready", timeout=1).is_success)

    def _start_prometheus(self) -> None:
        binary = require_binary("prometheus", package="prometheus")
        base = self.root / "prometheus"
        rules = extract_prometheus_rules(MANIFESTS_DIR, base / "rules")
        self.prometheus_port = free_port()
        config = {
            "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
            "rule_files": [str(p) for p in rules],
            "scrape_configs": [{
                "job_name": "pushgateway",
                "honor_labels": True,  # keep the job/instance labels the pushers set
                "static_configs": [{"targets": [f"127.0.0.1:{self.pushgateway_port}"]}],
            }],
        }
        (base / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        proc = self._spawn("prometheus", [
            binary, f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}", "--web.enable-lifecycle",
        ])
        self._wait(proc, lambda: httpx.get(f"{self.prometheus_url}/-/ready", timeout=1).is_success)

    @property
    def pushgateway_url(self) -> str:
        return f"http://127.0.0.1:{self.pushgateway_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    # -- what the DAGs see -----------------------------------------------------------------------------

    def endpoints(self) -> dict[str, Any]:
        return {
            "mariadb": f"127.0.0.1:{self.mariadb_port}",
            "pushgateway": self.pushgateway_url,
            "prometheus": self.prometheus_url,
        }

    def connection_env(self, database: str = DORIS_DATABASE) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables pointing the DAGs at this sandbox (JSON form, no URL-encoding).

        ``database`` is ``doris_default``'s schema: the end-to-end tests' Airflow uses its own one.
        """
        doris = {
            "conn_type": "doris", "host": "127.0.0.1", "port": self.mariadb_port,
            "login": _SANDBOX_USER, "password": self.password, "schema": database,
        }
        pushgateway = {"conn_type": "http", "host": "127.0.0.1", "port": self.pushgateway_port, "schema": "http"}
        prometheus = {"conn_type": "http", "host": "127.0.0.1", "port": self.prometheus_port, "schema": "http"}
        return {
            "AIRFLOW_CONN_DORIS_DEFAULT": json.dumps(doris),
            "AIRFLOW_CONN_PUSHGATEWAY_DEFAULT": json.dumps(pushgateway),
            "AIRFLOW_CONN_PROMETHEUS_DEFAULT": json.dumps(prometheus),
        }


def processes_mentioning(text: str, *, cmdline: bool = True, environ: bool = True) -> list[int]:
    """Pids (other than this process) whose command line or environment contains ``text`` (Linux /proc).

    A sandbox's processes all carry its folder: MariaDB's datadir, Prometheus's config, the Pushgateway's
    persistence file in their command lines, Airflow's components and tasks ``AIRFLOW_HOME`` in their
    environment. Used to stop leftovers and by the tests to prove nothing is left.
    """
    needle = text.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        for name, wanted in (("cmdline", cmdline), ("environ", environ)):
            if not wanted:
                continue
            try:
                if needle in (entry / name).read_bytes():
                    found.append(int(entry.name))
                    break
            except OSError:  # gone meanwhile, or another user's process
                continue
    return found


def postgres_binary(name: str) -> str:
    """A PostgreSQL server program: Debian keeps them in ``/usr/lib/postgresql/<major>/bin`` (not on PATH)."""
    installed = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if installed:
        return str(installed[-1])
    return require_binary(name, package="postgresql")


class PrivatePostgres:
    """A private PostgreSQL server: the metadata DB of the sandbox's live Airflow (``./dev ui``, tests/e2e).

    Airflow documents SQLite as for development only, and its backfill creation as unsupported on SQLite
    under concurrent access (apache/airflow#67900, #68699: "database is locked", a half-created backfill):
    a scheduler, a dag-processor, a triggerer, an api-server, their tasks and ``airflow backfill create``
    all write at once. PostgreSQL is the backend Airflow tests first.

    The server listens on no TCP port: only on a Unix socket in a directory of the owner's (mode 0700), with
    ``trust`` for local connections, so no password exists anywhere. Data, socket and log live under
    ``root``; :meth:`stop` shuts it down ("fast": open sessions are rolled back), :meth:`stop_stale` stops
    one that a killed earlier run left (its ``postmaster.pid``).
    """

    DATABASE = "airflow"
    USER = "airflow"
    #: The socket file is named after the port (``.s.PGSQL.<port>``); nothing listens on it over TCP.
    PORT = 5432

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "run"
        self.log_path = root / "postgres.log"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while this object's server runs (its backends are its children)."""
        return self._popen.pid if self._popen is not None and self._popen.poll() is None else None

    @property
    def sqlalchemy_url(self) -> str:
        """``[database] sql_alchemy_conn``: psycopg2 over the Unix socket (``host`` is its directory)."""
        return f"postgresql+psycopg2://{self.USER}@/{self.DATABASE}?host={self.socket_dir}&port={self.PORT}"

    def start(self, *, timeout: float = 60.0) -> None:
        self.stop_stale()
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.chmod(0o700)
        socket_path = self.socket_dir / f".s.PGSQL.{self.PORT}"
        if len(str(socket_path)) > 107:  # sun_path: the server would refuse to start with a cryptic error
            raise PermanentError(f"the PostgreSQL socket path {socket_path} is longer than the 107 bytes a Unix "
                                 "socket allows: move the project to a shorter path")
        account = _server_account()
        if not (self.data_dir / "PG_VERSION").exists():
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir.mkdir(mode=0o700)
            _give_to(account, self.data_dir)
            init = subprocess.run(
                [postgres_binary("initdb"), "--no-sync", "--encoding=UTF8", "--locale=C", f"--username={self.USER}",
                 "--auth-local=trust", "--auth-host=reject", f"--pgdata={self.data_dir}"],
                capture_output=True, text=True, env=_postgres_env(), **_run_as(account),
            )
            if init.returncode != 0:
                raise PermanentError(f"initdb of {self.data_dir} failed: {(init.stdout + init.stderr)[-2000:]}")
        _give_to(account, self.socket_dir)
        handle = self.log_path.open("ab")
        self._popen = subprocess.Popen(
            [postgres_binary("postgres"), "-D", str(self.data_dir), "-k", str(self.socket_dir),
             "-p", str(self.PORT), "-c", "listen_addresses=",
             # Four components with their pools, the LocalExecutor's workers and tasks, CLI commands.
             "-c", "max_connections=300",
             # A sandbox: a crash may lose the last commits, never corrupt the data (fsync stays on).
             "-c", "synchronous_commit=off"],
            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env=_postgres_env(), **_run_as(account),
        )
        handle.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._popen.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise PermanentError(f"postgres exited with {self._popen.returncode}; log tail:\n{tail}")
            try:
                self._create_database()
                return
            except Exception as exc:  # not accepting connections yet
                if time.monotonic() > deadline:
                    raise PermanentError(
                        f"postgres not ready after {timeout:.0f} s ({exc}); see {self.log_path}") from exc
                time.sleep(0.2)

    def _create_database(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host=str(self.socket_dir), port=self.PORT, user=self.USER, dbname="postgres")
        try:
            conn.autocommit = True
            cur = conn.cursor()
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.DATABASE])
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{self.DATABASE}"')
        finally:
            conn.close()

    def stop(self, *, timeout: float = 30.0) -> None:
        if self._popen is not None:
            _stop_postmaster(self._popen.pid, timeout=timeout)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(timeout=5)
            self._popen = None

    def stop_stale(self) -> None:
        """Stop the server a killed earlier run left on this data directory (``postmaster.pid``)."""
        pid_file = self.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            if str(self.data_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                _stop_postmaster(pid, timeout=30.0)


def _server_account() -> Any:
    """The account the server runs as: the caller's own, or, for root (a container, CI), the ``postgres``
    account Debian's package creates, since PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PermanentError("PostgreSQL does not run as root and there is no 'postgres' account: install the "
                             "Debian package postgresql (scripts/setup.sh does), or run as a normal user") from None


def _give_to(account: Any, path: Path) -> None:
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _run_as(account: Any) -> dict[str, Any]:
    """subprocess arguments that start the server programs as ``account`` (nothing for the caller's own)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _postgres_env() -> dict[str, str]:
    """A plain environment for the server: none of the caller's (e.g. an ``AIRFLOW_HOME`` whose leftovers
    LiveAirflow kills by environment before it stops the database)."""
    return {"PATH": os.environ.get("PATH") or "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}


def _stop_postmaster(pid: int, *, timeout: float) -> None:
    """SIGINT: PostgreSQL's "fast" shutdown (rolls back open sessions, checkpoints); SIGQUIT if it hangs."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return
            time.sleep(0.1)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def airflow_env(home: Path) -> dict[str, str]:
    """Environment for an Airflow 3 that uses this project's dags/plugins and a SQLite DB under ``home``.

    SQLite serves ``airflow dags test`` (one process: the demo, the DAG tests); the live Airflow of
    ``./dev ui`` and tests/e2e replaces it with a private PostgreSQL (sandbox.live_airflow).
    """
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # The data-quality reports' base directory (quality.settings.REPORT_BASE_ENV): inside this sandbox.
        "STREAMING_DQ_REPORT_BASE_DIR": str(home.parent / "dq-reports"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
        # The connection form's Test button (and POST /api/v2/connections/test); Airflow's default is Disabled.
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        # plugins: the product package; the project root: the top-level ``sandbox`` package (the demo's and
        # tests' harness code that Airflow's processes import).
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
