"""``./dev ui`` and ``./dev up`` as a user runs them: from a plain shell (no venv on PATH), listening on
loopback only, and stopped completely by SIGTERM (nothing of their sandbox left running)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from commodity_platform.paths import PROJECT_ROOT
from sandbox.services import SANDBOX_HOME, processes_mentioning

pytestmark = pytest.mark.sandbox

# What `env -i HOME=$HOME PATH=/usr/bin:/bin bash -c './dev ui'` gives: no venv, no PYTHONPATH, no AIRFLOW_*.
PLAIN_SHELL_ENV = {"HOME": os.environ.get("HOME", "/root"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


class DevCommand:
    """``./dev <command> --name <name>`` in its own session, its output in a file, read line by line."""

    def __init__(self, command: str, name: str) -> None:
        self.root = SANDBOX_HOME / name
        self.output = SANDBOX_HOME / f"{name}.out"
        handle = self.output.open("wb")
        self.proc = subprocess.Popen(["./dev", command, "--name", name], cwd=PROJECT_ROOT,
                                     env=PLAIN_SHELL_ENV, stdout=handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        handle.close()

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern: str, *, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.text())
            if match:
                return match
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} after {timeout:.0f} s:\n{self.text()[-3000:]}"
            time.sleep(0.5)

    def sigterm_and_wait(self, *, timeout: float = 90.0) -> int:
        self.proc.send_signal(signal.SIGTERM)  # ./dev execs the sandbox CLI: this is its pid
        return self.proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for pid in processes_mentioning(str(self.root)):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
        self.output.unlink(missing_ok=True)


@pytest.fixture
def dev_command() -> Iterator[type[DevCommand]]:
    started: list[DevCommand] = []

    def start(command: str) -> DevCommand:
        cmd = DevCommand(command, f"pytest-{command}-{os.getpid()}")
        started.append(cmd)
        return cmd

    yield start  # type: ignore[misc]
    for cmd in started:
        cmd.cleanup()


def _listening(pids: list[int]) -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets in LISTEN state that these processes hold (/proc/net/tcp{,6})."""
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.glob("*") if fd_dir.exists() else []:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = TCP_LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((str(ipaddress.ip_address(raw)), int(port_hex, 16)))
    return found


def test_dev_ui_from_a_plain_shell_runs_tasks_listens_on_loopback_and_stops_on_sigterm(dev_command) -> None:
    ui = dev_command("ui")
    url = ui.wait_for(r"Airflow UI: (http://127\.0\.0\.1:\d+)", timeout=420).group(1)
    # A task ran before the URL was printed: the task supervisors reach the execution API.
    assert "doris_schema_migrate: success" in ui.text()
    health = httpx.get(f"{url}/api/v2/monitor/health", timeout=10).json()
    assert {health[c]["status"] for c in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {"healthy"}
    token = httpx.get(f"{url}/auth/token", timeout=10).json()["access_token"]
    dags = httpx.get(f"{url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert {d["dag_id"]: d["is_paused"] for d in dags["dags"]} == {
        "doris_schema_migrate": False, "kafka_connect_register": False, "ohlc_backfill": False,
        "streaming_data_quality": False, "streaming_platform_deploy": False}

    pids = processes_mentioning(str(ui.root))
    assert len(pids) >= 7, pids  # MariaDB, Pushgateway, Prometheus, four Airflow components (and children)
    listening = _listening([ui.proc.pid, *pids])
    assert listening and all(ipaddress.ip_address(addr).is_loopback for addr, _ in listening), listening
    assert not {port for _, port in listening} & {8793, 8794, 8080}, listening

    assert ui.sigterm_and_wait() == 0, ui.text()[-3000:]
    left = processes_mentioning(str(ui.root))
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in left]


def test_dev_up_serves_every_connection_and_stops_on_sigterm(dev_command) -> None:
    up = dev_command("up")
    up.wait_for(r"# services: .*Ctrl-C stops them", timeout=240)
    exports = dict(re.findall(r"^export (AIRFLOW_CONN_\w+)='(.*)'$", up.text(), flags=re.M))
    assert {"AIRFLOW_CONN_DORIS_DEFAULT", "AIRFLOW_CONN_PUSHGATEWAY_DEFAULT", "AIRFLOW_CONN_KUBERNETES_DEFAULT",
            "AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT", "AIRFLOW_CONN_KAFKA_CONNECT_SECRETS"} <= set(exports)
    connect = json.loads(exports["AIRFLOW_CONN_KAFKA_CONNECT_DEFAULT"])
    assert httpx.get(f"http://127.0.0.1:{connect['port']}/connectors", timeout=10).json() == []
    kubeconfig = json.loads(exports["AIRFLOW_CONN_KUBERNETES_DEFAULT"])["extra"]["kube_config_path"]
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    assert api.list_namespace().items is not None
    pids = processes_mentioning(str(up.root))
    assert len(pids) >= 3, pids

    assert up.sigterm_and_wait() == 0, up.text()[-3000:]
    left = processes_mentioning(str(up.root))
    assert left == [], [Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in left]
