"""A small Kubernetes API server emulator over real HTTP, for tests and benchmarks.

Why not ``kmock`` (PyPI, 0.8)? Its ``KubernetesEmulator`` stores objects and serves list/watch, but it has no
server-side apply (field managers, ``force``, conflicts), no ``dryRun=All``, no change detection through
``resourceVersion``/``generation`` and no workload controllers, which is exactly what the deploy engine must be
tested against. This emulator implements the subset of the API the engine and the ``kubernetes`` client's
``DynamicClient`` use:

* discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>``; custom resources appear
  in discovery once their CustomResourceDefinition is stored (and become ``Established``);
* GET / LIST (label and field selectors) / WATCH (chunked, ``resourceVersion`` + ``timeoutSeconds``) / POST /
  DELETE, merge-patch and ``PUT``/``PATCH`` on the ``status`` subresource;
* server-side apply (``PATCH`` with ``application/apply-patch+yaml``): per-manager applied configuration, fields
  removed from a manager's configuration are removed from the object, conflicts with another manager's value
  give 409 unless ``force=true``, ``dryRun=All`` computes without storing, a no-op apply keeps the
  ``resourceVersion``; ``generation`` moves only when something outside ``metadata``/``status`` changes; a Job's
  pod template is immutable (422), as in a real cluster;
* simulated controllers: Deployments, StatefulSets, Jobs, Strimzi Kafka/KafkaTopic/KafkaConnect, DorisCluster
  and FlinkDeployment become ready ``delay`` seconds after their last spec change (replicas one after the other,
  with Pods carrying the template's labels). Names listed in ``stuck`` never become ready: their Pods wait in
  ``ImagePullBackOff`` and a Warning Event is recorded, so the diagnosis path can be tested.

It is intentionally single-namespace-agnostic, unauthenticated and in-memory.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class ResourceType:
    """One served resource: what discovery advertises and how URLs map to it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False),
    ResourceType("", "v1", "Pod", "pods", True),
    ResourceType("", "v1", "Service", "services", True),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, has_status=False),
    ResourceType("", "v1", "Secret", "secrets", True, has_status=False),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, has_status=False),
    ResourceType("", "v1", "Event", "events", True, has_status=False),
    ResourceType("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    ResourceType("apps", "v1", "Deployment", "deployments", True),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", True),
    ResourceType("batch", "v1", "Job", "jobs", True),
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True, has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, has_status=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, has_status=False),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, has_status=False
    ),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
)

# Fields the API server owns; they never take part in apply merges or change detection.
_SERVER_METADATA = ("resourceVersion", "generation", "uid", "creationTimestamp", "managedFields")


class ApiError(Exception):
    """An error answered as a Kubernetes ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def status(self) -> JsonDict:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _leaf_paths(obj: Any, prefix: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], Any]]:
    """Yield (path, value) for every leaf; lists are atomic leaves (the emulator does not merge by key)."""
    if isinstance(obj, dict) and obj:
        for key, value in obj.items():
            yield from _leaf_paths(value, (*prefix, key))
    else:
        yield prefix, obj


def _get_path(obj: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return False, None
        obj = obj[key]
    return True, obj


def _delete_path(obj: JsonDict, path: tuple[str, ...]) -> None:
    parents: list[tuple[JsonDict, str]] = []
    cur: Any = obj
    for key in path[:-1]:
        if not isinstance(cur, dict) or key not in cur:
            return
        parents.append((cur, key))
        cur = cur[key]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    # Drop maps left empty by the removal, as the API server does for owned-only structs.
    for parent, key in reversed(parents):
        if parent[key] == {}:
            del parent[key]
        else:
            break


def deep_merge(base: JsonDict, patch: JsonDict) -> JsonDict:
    """JSON merge patch (RFC 7386) semantics: maps merge, ``None`` deletes, everything else replaces."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _comparable(obj: JsonDict) -> JsonDict:
    """The object without server-owned metadata, for change detection."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    return out


def _spec_part(obj: JsonDict) -> JsonDict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _match_labels(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _match_fields(obj: JsonDict, selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        if "=" not in term:
            continue
        key, value = term.replace("==", "=").split("=", 1)
        found, actual = _get_path(obj, tuple(key.strip().split(".")))
        if not found or str(actual) != value.strip():
            return False
    return True


@dataclass
class _Stored:
    rtype: ResourceType
    obj: JsonDict
    applied: dict[str, JsonDict] = field(default_factory=dict)  # field manager -> its applied configuration
    spec_changed_at: float = field(default_factory=time.monotonic)


@dataclass
class _Event:
    rv: int
    type: str
    rtype: ResourceType
    obj: JsonDict


class KubernetesEmulator:
    """An in-memory Kubernetes API served on ``127.0.0.1:<free port>``.

    :param delay: seconds after a spec change until a simulated workload is fully ready.
    :param delays: per-object-name override of ``delay``.
    :param stuck: object names that never become ready.
    :param on_job_complete: Job name -> objects the emulator creates when that Job succeeds (stands in for what
        a Helm-install Job would install: operator CRDs and Deployments).
    :param preinstalled: objects present from the start (e.g. the prometheus-operator CRDs of a cluster).
    :param tick: controller loop period in seconds.
    """

    def __init__(
        self,
        *,
        delay: float = 0.3,
        delays: dict[str, float] | None = None,
        stuck: Iterable[str] = (),
        on_job_complete: dict[str, list[JsonDict]] | None = None,
        preinstalled: Iterable[JsonDict] = (),
        tick: float = 0.02,
    ) -> None:
        self.delay = delay
        self.delays = dict(delays or {})
        self.stuck = set(stuck)
        self.on_job_complete = dict(on_job_complete or {})
        self.tick = tick
        self._types: dict[tuple[str, str, str], ResourceType] = {}  # (group, version, plural)
        for rtype in BUILTIN_TYPES:
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._objects: dict[tuple[str, str, str, str], _Stored] = {}  # (group, plural, namespace, name)
        self._events: list[_Event] = []
        self._rv = 1000
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.request_log: list[tuple[str, str]] = []  # (method, path?query) of every mutating request
        # Load shedding (see throttle): requests still to refuse with 429, the Retry-After sent, and a log of
        # (time.monotonic(), method, path, answered 429) of every request while throttling was armed.
        self._throttle_left = 0
        self._throttle_retry_after = "1"
        self.throttle_log: list[tuple[float, str, str, bool]] = []
        for obj in preinstalled:
            self.put_object(obj)

    # ------------------------------------------------------------------ faults
    def throttle(self, requests: int, *, retry_after: int | str = 1) -> None:
        """Refuse the next ``requests`` requests as an overloaded kube-apiserver does: HTTP 429 with a
        ``Retry-After`` header and the plain-text body "Too many requests, please try again later."
        (k8s.io/apiserver pkg/server/filters, ``tooManyRequests`` of max-in-flight and API Priority and Fairness).
        Every request from now on is logged in :attr:`throttle_log` with its time, so a test can measure the
        client's wait."""
        with self._cond:
            self._throttle_left = requests
            self._throttle_retry_after = str(retry_after)
            self.throttle_log.clear()

    def _throttled(self, method: str, path: str) -> str | None:
        """The Retry-After to answer this request with, or None to serve it."""
        with self._cond:
            refuse = self._throttle_left > 0
            if refuse:
                self._throttle_left -= 1
            if refuse or self.throttle_log:
                self.throttle_log.append((time.monotonic(), method, path, refuse))
            return self._throttle_retry_after if refuse else None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        # Settle pre-installed objects (CRDs Established, ...) before the first client can observe them.
        with self._cond:
            for stored in list(self._objects.values()):
                self._reconcile(stored)
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        serve = threading.Thread(target=self._server.serve_forever, name="k8s-emulator-http", daemon=True)
        ctrl = threading.Thread(target=self._controller_loop, name="k8s-emulator-controllers", daemon=True)
        self._threads = [serve, ctrl]
        for thread in self._threads:
            thread.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> KubernetesEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def kubeconfig(self) -> JsonDict:
        """A kubeconfig pointing at this emulator (token auth; the emulator accepts any token)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator-token"}}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
            "current-context": "emulator",
        }

    def airflow_connection_uri_json(self) -> str:
        """JSON for ``AIRFLOW_CONN_KUBERNETES_DEFAULT`` (the KubernetesHook reads extra ``kube_config``)."""
        return json.dumps({"conn_type": "kubernetes", "extra": {"kube_config": self.kubeconfig()}})

    # ------------------------------------------------------------------ inspection helpers for tests
    def get_object(self, api_version: str, kind: str, name: str, namespace: str = "") -> JsonDict | None:
        with self._cond:
            for stored in self._objects.values():
                meta = stored.obj["metadata"]
                if (
                    stored.rtype.kind == kind
                    and stored.rtype.api_version == api_version
                    and meta["name"] == name
                    and meta.get("namespace", "") == (namespace if stored.rtype.namespaced else "")
                ):
                    return copy.deepcopy(stored.obj)
        return None

    def objects(self, kind: str | None = None) -> list[JsonDict]:
        with self._cond:
            return [copy.deepcopy(s.obj) for s in self._objects.values() if kind is None or s.rtype.kind == kind]

    def current_resource_version(self) -> int:
        with self._cond:
            return self._rv

    def put_object(self, obj: JsonDict) -> JsonDict:
        """Create or replace an object directly (as a controller or a pre-existing cluster would)."""
        with self._cond:
            rtype = self._type_for(obj["apiVersion"], obj["kind"])
            return self._store(rtype, copy.deepcopy(obj), manager=None)

    # ------------------------------------------------------------------ type registry
    def _type_for(self, api_version: str, kind: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        for rtype in self._types.values():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        raise ApiError(404, "NotFound", f"no kind {kind!r} is registered for version {api_version!r}")

    def _register_crd(self, crd: JsonDict) -> None:
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            rtype = ResourceType(
                spec["group"],
                version["name"],
                names["kind"],
                names["plural"],
                spec.get("scope", "Namespaced") == "Namespaced",
                has_status="status" in (version.get("subresources") or {}),
            )
            self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    # ------------------------------------------------------------------ storage core (hold self._cond)
    def _key(self, rtype: ResourceType, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (rtype.group, rtype.plural, namespace if rtype.namespaced else "", name)

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _emit(self, etype: str, rtype: ResourceType, obj: JsonDict) -> None:
        self._events.append(_Event(int(obj["metadata"]["resourceVersion"]), etype, rtype, copy.deepcopy(obj)))
        self._cond.notify_all()

    def _store(self, rtype: ResourceType, obj: JsonDict, *, manager: str | None) -> JsonDict:
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if rtype.namespaced else ""
        if rtype.namespaced:
            meta["namespace"] = namespace or "default"
            namespace = meta["namespace"]
        key = self._key(rtype, namespace, meta["name"])
        existing = self._objects.get(key)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if existing is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta["generation"] = 1
            meta["resourceVersion"] = str(self._next_rv())
            stored = _Stored(rtype, obj)
            self._objects[key] = stored
            if rtype.kind == "CustomResourceDefinition":
                self._register_crd(obj)
            self._emit("ADDED", rtype, obj)
            return obj
        old = existing.obj
        if _comparable(old) == _comparable(obj):
            return old
        for k in ("uid", "creationTimestamp"):
            meta[k] = old["metadata"].get(k)
        meta["generation"] = old["metadata"].get("generation", 1)
        if _spec_part(old) != _spec_part(obj):
            meta["generation"] += 1
            existing.spec_changed_at = time.monotonic()
        meta["resourceVersion"] = str(self._next_rv())
        existing.obj = obj
        if rtype.kind == "CustomResourceDefinition":
            self._register_crd(obj)
        self._emit("MODIFIED", rtype, obj)
        return obj

    def _apply(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        body: JsonDict,
        *,
        manager: str,
        force: bool,
        dry_run: bool,
    ) -> tuple[int, JsonDict]:
        if body.get("kind") != rtype.kind or body.get("apiVersion") != rtype.api_version:
            raise ApiError(
                400,
                "BadRequest",
                f"apply body is {body.get('apiVersion')}/{body.get('kind')}, URL is {rtype.api_version}/{rtype.kind}",
            )
        if body.get("metadata", {}).get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        applied = copy.deepcopy(body)
        applied.pop("status", None)  # status is a subresource; apply to the main resource ignores it
        for key in _SERVER_METADATA:
            applied.get("metadata", {}).pop(key, None)
        key = self._key(rtype, namespace, name)
        existing = self._objects.get(key)
        if existing is None:
            new = copy.deepcopy(applied)
            if rtype.namespaced:
                new["metadata"]["namespace"] = namespace
            code = 201
        else:
            # Conflicts: a leaf this manager sets that another manager applied with a different value.
            if not force:
                for other, cfg in existing.applied.items():
                    if other == manager:
                        continue
                    for path, value in _leaf_paths(applied):
                        found, theirs = _get_path(cfg, path)
                        if found and theirs != value:
                            raise ApiError(
                                409,
                                "Conflict",
                                f'Apply failed with 1 conflict: conflict with "{other}": .{".".join(path)}',
                            )
            new = copy.deepcopy(existing.obj)
            new.pop("status", None)
            previous = existing.applied.get(manager, {})
            # Fields this manager applied before and no longer applies are removed.
            new_paths = {p for p, _ in _leaf_paths(applied)}
            for path, _ in _leaf_paths(previous):
                if path and path not in new_paths and path[0] != "status":
                    _delete_path(new, path)
            new = deep_merge(new, applied)
            if "status" in existing.obj:
                new["status"] = copy.deepcopy(existing.obj["status"])
            if rtype.kind == "Job" and new.get("spec", {}).get("template") != existing.obj.get("spec", {}).get(
                "template"
            ):
                raise ApiError(
                    422,
                    "Invalid",
                    f'Job.batch "{name}" is invalid: spec.template: Invalid value: field is immutable',
                )
            code = 200
        managed = [
            m
            for m in (existing.obj["metadata"].get("managedFields", []) if existing else [])
            if m["manager"] != manager
        ]
        managed.append(
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": rtype.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": {},
            }
        )
        if existing is not None and _comparable(existing.obj) == _comparable(new):
            # A no-op apply: nothing is written, so resourceVersion and generation stay as they are.
            if not dry_run:
                existing.applied[manager] = applied
            return 200, copy.deepcopy(existing.obj)
        if dry_run:
            preview = copy.deepcopy(new)
            preview["metadata"]["managedFields"] = managed
            if existing is not None:
                for k in ("uid", "creationTimestamp", "resourceVersion", "generation"):
                    if k in existing.obj["metadata"]:
                        preview["metadata"][k] = existing.obj["metadata"][k]
                if _spec_part(existing.obj) != _spec_part(new):
                    preview["metadata"]["generation"] = existing.obj["metadata"].get("generation", 1) + 1
            else:
                preview["metadata"]["generation"] = 1
            return code, preview
        new.setdefault("metadata", {})["managedFields"] = managed
        result = self._store(rtype, new, manager=manager)
        self._objects[self._key(rtype, namespace, name)].applied[manager] = applied
        return code, copy.deepcopy(result)

    # ------------------------------------------------------------------ controllers
    def _controller_loop(self) -> None:
        while not self._stop.wait(self.tick):
            with self._cond:
                for stored in list(self._objects.values()):
                    try:
                        self._reconcile(stored)
                    except Exception:  # a broken simulation must not kill the server thread
                        continue

    def _delay_for(self, name: str) -> float:
        return self.delays.get(name, self.delay)

    def _progress(self, stored: _Stored, total: int) -> int:
        """How many of ``total`` replicas are ready, replicas becoming ready evenly over the delay."""
        name = stored.obj["metadata"]["name"]
        if name in self.stuck:
            return max(0, total - 1) if total > 1 else 0
        elapsed = time.monotonic() - stored.spec_changed_at
        delay = self._delay_for(name)
        if delay <= 0 or total <= 0:
            return total
        return min(total, int(elapsed / (delay / total)))

    def _set_status(self, stored: _Stored, status: JsonDict) -> None:
        if stored.obj.get("status") == status:
            return
        obj = copy.deepcopy(stored.obj)
        obj["status"] = status
        self._store(stored.rtype, obj, manager=None)

    def _ensure_pods(self, owner: _Stored, names: list[str], labels: dict[str, str], ready_count: int) -> None:
        meta = owner.obj["metadata"]
        namespace = meta.get("namespace", "default")
        stuck = meta["name"] in self.stuck
        pod_type = self._types[("", "v1", "pods")]
        for index, pod_name in enumerate(names):
            ready = index < ready_count
            image = "emulated:latest"
            containers = (
                owner.obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
                if owner.rtype.kind in ("Deployment", "StatefulSet", "Job")
                else None
            )
            if containers:
                image = containers[0].get("image", image)
            if ready:
                # A fixed timestamp: a status that changes on every tick would look like churn to watchers.
                state: JsonDict = {"running": {"startedAt": meta.get("creationTimestamp", "")}}
            elif stuck:
                state = {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{image}"',
                    }
                }
            else:
                state = {"waiting": {"reason": "ContainerCreating"}}
            pod_key = self._key(pod_type, namespace, pod_name)
            existing = self._objects.get(pod_key)
            status = {
                "phase": "Running" if ready else "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        **(
                            {}
                            if ready
                            else {"reason": "ContainersNotReady", "message": "containers with unready status: [main]"}
                        ),
                    },
                ],
                "containerStatuses": [
                    {"name": "main", "image": image, "ready": ready, "restartCount": 0, "state": state}
                ],
            }
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": namespace, "labels": dict(labels)},
                "spec": {"containers": [{"name": "main", "image": image}]},
                "status": status,
            }
            if (
                existing is None
                or existing.obj.get("status") != status
                or existing.obj["metadata"].get("labels") != labels
            ):
                self._store(pod_type, pod, manager=None)
            if stuck and not ready:
                self._record_event(namespace, "Pod", pod_name, "BackOff", f'Back-off pulling image "{image}"')

    def _record_event(self, namespace: str, kind: str, name: str, reason: str, message: str) -> None:
        event_type = self._types[("", "v1", "events")]
        event_name = f"{name}.{reason.lower()}"
        if self._key(event_type, namespace, event_name) in self._objects:
            return
        self._store(
            event_type,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": event_name, "namespace": namespace},
                "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
                "reason": reason,
                "message": message,
                "type": "Warning",
                "count": 1,
                "lastTimestamp": _now(),
            },
            manager=None,
        )

    def _reconcile(self, stored: _Stored) -> None:
        kind = stored.rtype.kind
        obj = stored.obj
        meta = obj["metadata"]
        name = meta["name"]
        generation = meta.get("generation", 1)
        spec = obj.get("spec", {})
        if kind == "CustomResourceDefinition":
            self._set_status(
                stored,
                {
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                    ],
                    "acceptedNames": spec.get("names", {}),
                },
            )
        elif kind in ("Deployment", "StatefulSet"):
            replicas = spec.get("replicas", 1)
            ready = self._progress(stored, replicas)
            labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
            pod_names = [f"{name}-{i}" for i in range(replicas)]
            self._ensure_pods(stored, pod_names, labels, ready)
            status: JsonDict = {
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
            }
            if kind == "StatefulSet":
                status["currentReplicas"] = replicas
                status["currentRevision"] = status["updateRevision"] = f"{name}-{generation}"
            else:
                status["conditions"] = [
                    {"type": "Available", "status": "True" if ready == replicas else "False"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ]
            self._set_status(stored, status)
        elif kind == "Job":
            done = self._progress(stored, 1) == 1
            labels = {"job-name": name, **spec.get("template", {}).get("metadata", {}).get("labels", {})}
            self._ensure_pods(stored, [f"{name}-run"], labels, 1 if done else 0)
            if done:
                if obj.get("status", {}).get("succeeded") != 1:
                    self._set_status(
                        stored,
                        {
                            "succeeded": 1,
                            "conditions": [
                                {"type": "SuccessCriteriaMet", "status": "True"},
                                {"type": "Complete", "status": "True"},
                            ],
                        },
                    )
                    for effect in self.on_job_complete.get(name, []):
                        effect = copy.deepcopy(effect)
                        rtype = self._type_for(effect["apiVersion"], effect["kind"])
                        if rtype.namespaced:
                            effect.setdefault("metadata", {})["namespace"] = meta.get("namespace")
                        self._store(rtype, effect, manager=None)
            else:
                self._set_status(stored, {"active": 1})
        elif kind == "Kafka" and stored.rtype.group == "kafka.strimzi.io":
            self._reconcile_strimzi_kafka(stored)
        elif kind in ("KafkaTopic", "KafkaConnect", "KafkaConnector") and stored.rtype.group == "kafka.strimzi.io":
            done = self._progress(stored, 1) == 1
            self._set_status(stored, _strimzi_status(generation, done))
        elif kind == "KafkaNodePool":
            replicas = spec.get("replicas", 0)
            self._set_status(
                stored,
                {
                    "observedGeneration": generation,
                    "replicas": replicas,
                    "nodeIds": list(range(replicas)),
                    "roles": spec.get("roles", []),
                },
            )
        elif kind == "DorisCluster":
            status = {}
            for comp, key in (("fe", "feSpec"), ("be", "beSpec")):
                if key not in spec:
                    continue
                replicas = spec[key].get("replicas", 3)
                ready = self._progress(stored, replicas)
                pods = [f"{name}-{comp}-{i}" for i in range(replicas)]
                self._ensure_pods(
                    stored,
                    pods,
                    {"app.doris.ownerreference/name": f"{name}-{comp}", "app.kubernetes.io/component": comp},
                    ready,
                )
                status[f"{comp}Status"] = {
                    "accessService": f"{name}-{comp}-service",
                    "componentCondition": {
                        "phase": "available" if ready == replicas else "initializing",
                        "reason": "",
                        "message": "",
                        "lastTransitionTime": "",
                        "subResourceName": f"{name}-{comp}",
                    },
                    "runningInstances": pods[:ready],
                    "creatingInstances": pods[ready:],
                }
            self._set_status(stored, status)
        elif kind == "FlinkDeployment":
            done = self._progress(stored, 1) == 1
            self._ensure_pods(
                stored, [f"{name}-jobmanager-0"], {"app": name, "component": "jobmanager"}, 1 if done else 0
            )
            self._set_status(
                stored,
                {
                    "observedGeneration": generation,
                    "lifecycleState": "STABLE" if done else "DEPLOYED",
                    "jobManagerDeploymentStatus": "READY" if done else "DEPLOYING",
                    "jobStatus": {"state": "RUNNING" if done else "RECONCILING", "jobName": name},
                },
            )

    def _reconcile_strimzi_kafka(self, stored: _Stored) -> None:
        meta = stored.obj["metadata"]
        name, namespace = meta["name"], meta.get("namespace", "default")
        pools = [
            s
            for s in self._objects.values()
            if s.rtype.kind == "KafkaNodePool"
            and s.obj["metadata"].get("namespace") == namespace
            and s.obj["metadata"].get("labels", {}).get("strimzi.io/cluster") == name
        ]
        pod_names: list[str] = []
        for pool in pools:
            pool_name = pool.obj["metadata"]["name"]
            pod_names += [f"{name}-{pool_name}-{i}" for i in range(pool.obj.get("spec", {}).get("replicas", 0))]
        ready = self._progress(stored, len(pod_names))
        self._ensure_pods(stored, pod_names, {"strimzi.io/cluster": name, "strimzi.io/kind": "Kafka"}, ready)
        done = bool(pod_names) and ready == len(pod_names)
        self._set_status(stored, _strimzi_status(meta.get("generation", 1), done))

    # ------------------------------------------------------------------ HTTP-facing operations
    def discovery(self, path: str) -> JsonDict | None:
        parts = [p for p in path.split("/") if p]
        with self._cond:
            if parts == ["version"]:
                return {"major": "1", "minor": "33", "gitVersion": "v1.33.0-emulator", "platform": "linux/amd64"}
            if parts == ["api"]:
                return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            if parts == ["apis"]:
                groups: dict[str, list[str]] = {}
                for rtype in self._types.values():
                    if rtype.group:
                        groups.setdefault(rtype.group, [])
                        if rtype.version not in groups[rtype.group]:
                            groups[rtype.group].append(rtype.version)
                return {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {
                            "name": g,
                            "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in versions],
                            "preferredVersion": {"groupVersion": f"{g}/{versions[0]}", "version": versions[0]},
                        }
                        for g, versions in groups.items()
                    ],
                }
            if parts in (["api", "v1"],) or (len(parts) == 3 and parts[0] == "apis"):
                group, version = ("", "v1") if parts[0] == "api" else (parts[1], parts[2])
                resources = []
                for rtype in self._types.values():
                    if rtype.group == group and rtype.version == version:
                        entry = {
                            "name": rtype.plural,
                            "singularName": rtype.kind.lower(),
                            "namespaced": rtype.namespaced,
                            "kind": rtype.kind,
                            "verbs": _VERBS,
                        }
                        resources.append(entry)
                        if rtype.has_status:
                            resources.append(
                                {**entry, "name": f"{rtype.plural}/status", "verbs": ["get", "patch", "update"]}
                            )
                if not resources:
                    return None
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": f"{group}/{version}" if group else version,
                    "resources": resources,
                }
        return None

    def resolve(self, path: str) -> tuple[ResourceType, str, str | None, str | None]:
        """Map a resource URL to (type, namespace, name, subresource)."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
        with self._cond:
            rtype = self._types.get((group, version, rest[0]))
        if rtype is None:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource {path}")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return rtype, namespace, name, sub

    def list_objects(
        self, rtype: ResourceType, namespace: str, label_selector: str | None, field_selector: str | None
    ) -> tuple[int, list[JsonDict]]:
        with self._cond:
            items = [
                copy.deepcopy(s.obj)
                for s in self._objects.values()
                if s.rtype.group == rtype.group
                and s.rtype.plural == rtype.plural
                and (not namespace or s.obj["metadata"].get("namespace") == namespace)
                and _match_labels(s.obj["metadata"].get("labels") or {}, label_selector)
                and _match_fields(s.obj, field_selector)
            ]
            return self._rv, items

    def get(self, rtype: ResourceType, namespace: str, name: str) -> JsonDict:
        with self._cond:
            stored = self._objects.get(self._key(rtype, namespace, name))
            if stored is None:
                raise ApiError(404, "NotFound", f'{rtype.plural}.{rtype.group or "core"} "{name}" not found')
            return copy.deepcopy(stored.obj)

    def create(self, rtype: ResourceType, namespace: str, body: JsonDict, dry_run: bool) -> JsonDict:
        with self._cond:
            name = body.get("metadata", {}).get("name")
            if not name:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            if self._key(rtype, namespace, name) in self._objects:
                raise ApiError(409, "AlreadyExists", f'{rtype.plural} "{name}" already exists')
            if rtype.namespaced:
                body.setdefault("metadata", {})["namespace"] = namespace
            if dry_run:
                return body
            return copy.deepcopy(self._store(rtype, body, manager=None))

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        sub: str | None,
        body: JsonDict,
        content_type: str,
        params: dict[str, str],
    ) -> tuple[int, JsonDict]:
        dry_run = params.get("dryRun") == "All"
        with self._cond:
            if "apply-patch" in content_type:
                manager = params.get("fieldManager")
                if not manager:
                    raise ApiError(400, "BadRequest", "PATCH with apply-patch requires fieldManager")
                if sub is not None:
                    raise ApiError(400, "BadRequest", "this emulator applies to the main resource only")
                return self._apply(
                    rtype,
                    namespace,
                    name,
                    body,
                    manager=manager,
                    force=params.get("force", "false").lower() == "true",
                    dry_run=dry_run,
                )
            current = self.get(rtype, namespace, name)
            if sub == "status":
                new = copy.deepcopy(current)
                new["status"] = deep_merge(current.get("status", {}), body.get("status", {}))
            else:
                new = deep_merge(current, body)
            if dry_run:
                return 200, new
            return 200, copy.deepcopy(self._store(rtype, new, manager=None))

    def replace_status(self, rtype: ResourceType, namespace: str, name: str, body: JsonDict) -> JsonDict:
        with self._cond:
            current = self.get(rtype, namespace, name)
            current["status"] = body.get("status", {})
            return copy.deepcopy(self._store(rtype, current, manager=None))

    def delete(self, rtype: ResourceType, namespace: str, name: str) -> JsonDict:
        with self._cond:
            key = self._key(rtype, namespace, name)
            stored = self._objects.pop(key, None)
            if stored is None:
                raise ApiError(404, "NotFound", f'{rtype.plural} "{name}" not found')
            obj = copy.deepcopy(stored.obj)
            obj["metadata"]["resourceVersion"] = str(self._next_rv())
            self._emit("DELETED", rtype, obj)
            return obj

    def watch(
        self,
        rtype: ResourceType,
        namespace: str,
        label_selector: str | None,
        field_selector: str | None,
        since_rv: int | None,
        timeout: float,
        emit: Callable[[JsonDict], None],
    ) -> None:
        """Stream events after ``since_rv`` (or synthetic ADDED for current objects) until ``timeout``."""
        deadline = time.monotonic() + timeout

        def matches(ev: _Event) -> bool:
            meta = ev.obj["metadata"]
            return (
                ev.rtype.group == rtype.group
                and ev.rtype.plural == rtype.plural
                and (not namespace or meta.get("namespace") == namespace)
                and _match_labels(meta.get("labels") or {}, label_selector)
                and _match_fields(ev.obj, field_selector)
            )

        with self._cond:
            if since_rv is None:
                # No resourceVersion: like the API server, start with ADDED for every current object.
                items = [s.obj for s in self._objects.values() if matches(_Event(0, "ADDED", s.rtype, s.obj))]
                pending = [{"type": "ADDED", "object": copy.deepcopy(o)} for o in items]
                since_rv = self._rv
            else:
                pending = []
        for event in pending:
            emit(event)
        position = 0
        while not self._stop.is_set():
            with self._cond:
                # Events are appended in rv order: skip quickly to the first one after since_rv.
                while position < len(self._events) and self._events[position].rv <= since_rv:
                    position += 1
                batch = self._events[position:]
                position = len(self._events)
                if not batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    self._cond.wait(min(remaining, 0.5))
                    continue
            for ev in batch:
                since_rv = ev.rv
                if matches(ev):
                    emit({"type": ev.type, "object": copy.deepcopy(ev.obj)})
            if time.monotonic() >= deadline:
                return


def _strimzi_status(generation: int, ready: bool) -> JsonDict:
    condition = (
        {"type": "Ready", "status": "True", "lastTransitionTime": ""}
        if ready
        else {"type": "NotReady", "status": "True", "reason": "Creating", "message": "Reconciliation in progress"}
    )
    return {"observedGeneration": generation, "conditions": [condition]}


def _make_handler(emulator: KubernetesEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One buffered write per response and no Nagle: otherwise every response waits out a delayed ACK.
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:  # silence stderr access logs
            return

        def _send(self, code: int, payload: JsonDict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _body(self) -> JsonDict:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not raw:
                return {}
            try:
                # apply-patch+yaml bodies may be YAML; JSON is a subset of YAML.
                loaded = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ApiError(400, "BadRequest", f"invalid body: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ApiError(400, "BadRequest", "body must be an object")
            return loaded

        def _too_many_requests(self, retry_after: str) -> None:
            data = b"Too many requests, please try again later.\n"
            self.send_response(HTTPStatus.TOO_MANY_REQUESTS)
            self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            retry_after = emulator._throttled(method, self.path)
            if retry_after is not None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))  # keep the connection usable
                self._too_many_requests(retry_after)
                return
            try:
                if method == "GET":
                    disc = emulator.discovery(parts.path)
                    if disc is not None:
                        self._send(200, disc)
                        return
                rtype, namespace, name, sub = emulator.resolve(parts.path)
                if method == "GET" and name is None:
                    if params.get("watch") in ("true", "1"):
                        self._watch(rtype, namespace, params)
                        return
                    rv, items = emulator.list_objects(
                        rtype, namespace, params.get("labelSelector"), params.get("fieldSelector")
                    )
                    self._send(
                        200,
                        {
                            "kind": f"{rtype.kind}List",
                            "apiVersion": rtype.api_version,
                            "metadata": {"resourceVersion": str(rv)},
                            "items": items,
                        },
                    )
                    return
                if method != "GET":
                    emulator.request_log.append((method, self.path))
                if method == "GET":
                    self._send(200, emulator.get(rtype, namespace, name or ""))
                elif method == "POST":
                    self._send(201, emulator.create(rtype, namespace, self._body(), params.get("dryRun") == "All"))
                elif method == "PATCH":
                    code, obj = emulator.patch(
                        rtype,
                        namespace,
                        name or "",
                        sub,
                        self._body(),
                        self.headers.get("Content-Type", ""),
                        params,
                    )
                    self._send(code, obj)
                elif method == "PUT" and sub == "status":
                    self._send(200, emulator.replace_status(rtype, namespace, name or "", self._body()))
                elif method == "DELETE":
                    self._body()
                    self._send(200, emulator.delete(rtype, namespace, name or ""))
                else:
                    raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
            except ApiError as exc:
                self._send(exc.code, exc.status())
            except Exception as exc:  # answer like an API server rather than dropping the connection
                self._send(500, ApiError(500, "InternalError", repr(exc)).status())

        def _watch(self, rtype: ResourceType, namespace: str, params: dict[str, str]) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def emit(event: JsonDict) -> None:
                line = (json.dumps(event) + "\n").encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()

            rv = params.get("resourceVersion")
            try:
                emulator.watch(
                    rtype,
                    namespace,
                    params.get("labelSelector"),
                    params.get("fieldSelector"),
                    int(rv) if rv not in (None, "", "0") else None,
                    float(params.get("timeoutSeconds", 30)),
                    emit,
                )
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler
