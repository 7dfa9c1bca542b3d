"""Server-side apply of manifests through the ``kubernetes`` DynamicClient.

Why server-side apply with one named field manager: the API server merges our intent with what controllers
and operators write (status, defaulted fields, operator-managed annotations), and a re-apply of unchanged
manifests is a true no-op, so a re-run of the DAG reports 0 changed objects. Change detection compares the
object before and after the apply: its ``resourceVersion`` moved *and* its content other than ``status`` and
server bookkeeping differs (the API server only writes when the merged object differs; status writes by
controllers in between are not ours). ``force`` takes ownership of fields another manager (e.g.
``kubectl``) set by hand: the manifests in git are the source of truth.

The DynamicClient is built from the ``ApiClient`` of the cncf.kubernetes provider's ``KubernetesHook``
(connection ``kubernetes_default``), so authentication follows the Airflow connection.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import difflib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    DynamicApiError,
    NotFoundError,
    ResourceNotFoundError,
)
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from commodity_platform.errors import ConfigError, PermanentError, PlatformError, TemporaryError
from commodity_platform.k8s.manifests import Manifest
from commodity_platform.redaction import mask_document
from commodity_platform.validation import truncate_text

log = logging.getLogger(__name__)

FIELD_MANAGER = "commodity-platform-deploy"
# A Job whose pod template changed cannot be patched (the field is immutable); with this annotation the
# engine deletes and re-creates it, which is what an upgrade of a Helm-install Job needs.
RECREATE_ANNOTATION = "platform.commodity.io/recreate-on-immutable-change"
RETRY_ATTEMPTS = 5

#: Custom resource kinds whose CustomResourceDefinitions the operator charts installed by *this* deploy bring
#: (Strimzi in phase 1, the Flink Kubernetes Operator in phase 2, the Doris operator in phase 4): (group, kind)
#: -> CRD name. A dry run cannot validate such an object server-side before its chart has run, so it is
#: reported as not validated; any other kind the cluster does not serve is refused. Checked against the
#: upstream CRDs (tests/deploy: group, kind and name of each entry) and against the phases' ``requires_crds``.
DEPLOY_INSTALLED_KINDS: dict[tuple[str, str], str] = {
    ("kafka.strimzi.io", "Kafka"): "kafkas.kafka.strimzi.io",
    ("kafka.strimzi.io", "KafkaNodePool"): "kafkanodepools.kafka.strimzi.io",
    ("kafka.strimzi.io", "KafkaTopic"): "kafkatopics.kafka.strimzi.io",
    ("kafka.strimzi.io", "KafkaConnect"): "kafkaconnects.kafka.strimzi.io",
    ("kafka.strimzi.io", "KafkaConnector"): "kafkaconnectors.kafka.strimzi.io",
    ("flink.apache.org", "FlinkDeployment"): "flinkdeployments.flink.apache.org",
    ("flink.apache.org", "FlinkSessionJob"): "flinksessionjobs.flink.apache.org",
    ("doris.selectdb.com", "DorisCluster"): "dorisclusters.doris.selectdb.com",
}


def api_group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; the core group ``v1`` -> ``""``."""
    return api_version.split("/", 1)[0] if "/" in api_version else ""

T = TypeVar("T")


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """5xx, 409 (conflict from a concurrent writer), 429 and connection errors are worth retrying."""
    if isinstance(exc, (Urllib3HTTPError, ConnectionError, TimeoutError)):
        return True
    status = _status_of(exc)
    return status is not None and (status >= 500 or status in (409, 429))


#: The longest wait a ``Retry-After`` can ask for; a larger value is cut to this (the task's own retries and its
#: execution_timeout cover longer outages, and a hostile or broken proxy must not park a worker for hours).
RETRY_AFTER_MAX_SECONDS = 30.0


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The ``Retry-After`` (delay-seconds) of a 429 or 503 answer, or None (absent, an HTTP date, garbage).

    kube-apiserver sets it when it sheds load: 429 from max-in-flight / API Priority and Fairness
    (k8s.io/apiserver pkg/server/filters ``tooManyRequests``: ``Retry-After`` + "Too many requests, please try
    again later.") and 503 while shutting down. The cncf.kubernetes provider honours it the same way
    (``kubernetes_helper_functions.WaitRetryAfterOrExponential``, integer seconds, used by ``generic_api_retry``).
    """
    if exc is None or _status_of(exc) not in (429, 503):
        return None
    headers = getattr(exc, "headers", None) or {}
    # urllib3's HTTPHeaderDict is case-insensitive; a plain dict (tests, other clients) may not be.
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    try:
        seconds = float(int(str(value).strip())) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class WaitRetryAfterOrExponential(wait_base):
    """Wait what the server's ``Retry-After`` asks (at most :data:`RETRY_AFTER_MAX_SECONDS`), else back off
    exponentially."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = retry_after_seconds(exc)
        if asked is None:
            return float(self.fallback(retry_state))
        return min(asked, RETRY_AFTER_MAX_SECONDS)


def _log_attempt(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "Kubernetes API call failed (%s), attempt %d/%d; retrying in %.1f s",
        _first_line(exc),
        state.attempt_number,
        RETRY_ATTEMPTS,
        wait,
    )


def _first_line(exc: BaseException | None) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300] if exc is not None else ""


def with_retries(func: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run one API call with retries on transient errors (``Retry-After`` honoured, else exponential backoff);
    permanent ones raise at once."""
    retrying = retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(RETRY_ATTEMPTS),
        wait=WaitRetryAfterOrExponential(wait_exponential(multiplier=0.5, max=10)),
        before_sleep=_log_attempt,
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(func)()
    except Exception as exc:
        if is_transient(exc):
            raise TemporaryError(f"Kubernetes API still failing after {RETRY_ATTEMPTS} attempts: {exc}") from exc
        raise


@dataclass
class ObjectResult:
    """What the apply did to one object."""

    ref: str
    namespace: str | None
    action: str  # created | configured | unchanged | would-create | would-configure | would-skip
    source: str
    diff: str = ""
    body: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        return self.action in ("created", "configured", "would-create", "would-configure")


def _clean(obj: dict[str, Any] | None) -> dict[str, Any]:
    """Drop server-owned bookkeeping so a diff shows only meaningful differences."""
    if not obj:
        return {}
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = dict(out.get("metadata") or {})
    for key in ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"):
        meta.pop(key, None)
    annotations = dict(meta.get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


_SECRET_FIELDS = ("data", "stringData")


def _is_secret(obj: dict[str, Any] | None) -> bool:
    return bool(obj) and obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def redact_secrets(
    live: dict[str, Any] | None, desired: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Secret values replaced by markers that only say whether a key is unchanged, changed, added or removed.

    Why markers and not hashes: a hash of a short password can be brute-forced; key names and "changed" are
    all an operator needs from a diff or a log. Non-Secret objects are returned as they are.
    """
    if not (_is_secret(desired) or _is_secret(live)):
        return live, desired
    live_out = copy.deepcopy(live) if live else live
    desired_out = copy.deepcopy(desired)
    for name in _SECRET_FIELDS:
        old = (live or {}).get(name) or {}
        new = desired.get(name) or {}
        if live_out is not None and name in live_out:
            live_out[name] = {k: "<redacted>" if new.get(k) == v else "<redacted: old value>" for k, v in old.items()}
        if name in desired_out:
            desired_out[name] = {
                k: "<redacted>" if old.get(k) == v else "<redacted: new value>" for k, v in (new or {}).items()
            }
    return live_out, desired_out


def scrub(text: str, body: dict[str, Any]) -> str:
    """``text`` with every value of a Secret body (base64 and decoded) replaced by ``***``."""
    if not _is_secret(body):
        return text
    values: set[str] = set()
    for name in _SECRET_FIELDS:
        for value in (body.get(name) or {}).values():
            values.add(str(value))
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                values.add(base64.b64decode(str(value), validate=True).decode("utf-8"))
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def unified_diff(live: dict[str, Any] | None, desired: dict[str, Any], ref: str) -> str:
    """A YAML diff for the log: Secret values as markers, every other secret-like value (a ConfigMap key
    ``clientSecret``, an env var ``DB_PASSWORD``, a PEM block) masked, and the whole cut to a bounded size."""
    secret = _is_secret(desired) or _is_secret(live)
    live, desired = redact_secrets(live, desired)
    # Secrets are redacted to markers already (changed/new per key); everything else is masked by key/value.
    mask = (lambda doc: doc) if secret else mask_document
    before = yaml.safe_dump(mask(_clean(live)), sort_keys=True).splitlines() if live else []
    after = yaml.safe_dump(mask(_clean(desired)), sort_keys=True).splitlines()
    diff = "\n".join(difflib.unified_diff(before, after, fromfile=f"live/{ref}", tofile=f"desired/{ref}", lineterm=""))
    return truncate_text(diff)


class ApplyEngine:
    """Applies manifests to one namespace with server-side apply and answers object look-ups.

    :param api_client: a ``kubernetes.client.ApiClient`` (from ``KubernetesHook.api_client``).
    :param namespace: namespace forced onto every namespaced object (the DAG's ``namespace`` param wins over
        what a manifest says, so the whole platform can be deployed to a scratch namespace).
    :param dry_run: apply with ``dryRun=All`` and report a diff instead of changing anything.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        namespace: str,
        field_manager: str = FIELD_MANAGER,
        dry_run: bool = False,
        force_conflicts: bool = True,
    ) -> None:
        self.namespace = namespace
        self.field_manager = field_manager
        self.dry_run = dry_run
        self.force_conflicts = force_conflicts
        self._applied_crds: dict[tuple[str, str], str] = {}
        # A private discovery cache file: the default one is shared by every process talking to the same
        # host and is rewritten concurrently by parallel tasks.
        fd, self._cache_file = tempfile.mkstemp(prefix="k8s-discovery-", suffix=".json")
        os.close(fd)
        os.unlink(self._cache_file)
        self.client = with_retries(lambda: DynamicClient(api_client, cache_file=self._cache_file))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self._cache_file)

    # ------------------------------------------------------------------ look-ups
    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource for a kind; discovery is refreshed once when the kind is unknown (new CRDs)."""
        return with_retries(lambda: self.client.resources.get(api_version=api_version, kind=kind))

    def is_served(self, api_version: str, kind: str) -> bool:
        try:
            self.resource(api_version, kind)
        except ResourceNotFoundError:
            return False
        return True

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        resource = self.resource(api_version, kind)
        ns = (namespace or self.namespace) if resource.namespaced else None
        try:
            return with_retries(lambda: resource.get(name=name, namespace=ns).to_dict())
        except NotFoundError:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        try:
            resource = self.resource(api_version, kind)
        except ResourceNotFoundError:
            return []
        ns = (namespace or self.namespace) if resource.namespaced else None
        result = with_retries(
            lambda: resource.get(namespace=ns, label_selector=label_selector, field_selector=field_selector)
        )
        return [item.to_dict() if hasattr(item, "to_dict") else dict(item) for item in result.items]

    # ------------------------------------------------------------------ apply
    def _crd_installed_by_this_deploy(self, manifest: Manifest) -> str | None:
        """The CRD name defining ``manifest``'s kind when this deploy installs it (an operator chart's CRDs, or a
        CustomResourceDefinition this engine applied earlier), else None."""
        key = (api_group(manifest.api_version), manifest.kind)
        return DEPLOY_INSTALLED_KINDS.get(key) or self._applied_crds.get(key)

    def _remember_crd(self, manifest: Manifest) -> None:
        if manifest.kind == "CustomResourceDefinition":
            spec = manifest.body.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                self._applied_crds[(str(spec["group"]), str(kind))] = manifest.name

    def _body_for(self, manifest: Manifest, resource: Any) -> dict[str, Any]:
        body = yaml.safe_load(yaml.safe_dump(manifest.body))  # a deep copy of plain types
        if resource.namespaced:
            body["metadata"]["namespace"] = self.namespace
        else:
            body["metadata"].pop("namespace", None)
        return body

    def apply(self, manifest: Manifest) -> ObjectResult:
        """Server-side apply one object (or dry-run it), returning what changed."""
        try:
            resource = self.resource(manifest.api_version, manifest.kind)
        except ResourceNotFoundError as exc:
            crd = self._crd_installed_by_this_deploy(manifest)
            if self.dry_run and crd:
                # Its CRD is installed earlier in this deploy (by an operator chart); the API server cannot
                # dry-run a kind it does not serve yet.
                return ObjectResult(
                    manifest.ref,
                    self.namespace,
                    "would-create",
                    manifest.source,
                    diff=f"(kind {manifest.api_version}/{manifest.kind} not served yet: its CRD {crd} is installed "
                    "by this deploy; not validated server-side)",
                )
            if self.dry_run:
                raise ConfigError(
                    f"{manifest.source}: {manifest.ref}: kind {manifest.api_version}/{manifest.kind} is neither "
                    "served by the cluster nor defined by a CRD this deploy installs; check apiVersion and kind"
                ) from exc
            raise PermanentError(
                f"{manifest.source}: {manifest.api_version}/{manifest.kind} is not served by the cluster "
                "(is its CustomResourceDefinition / operator installed?)"
            ) from exc
        self._remember_crd(manifest)
        body = self._body_for(manifest, resource)
        ns = body["metadata"].get("namespace")
        name = body["metadata"]["name"]
        live = self._get_live(resource, name, ns)
        try:
            applied = self._server_side_apply(resource, body, name, ns)
        except DynamicApiError as exc:
            if (
                exc.status == 422
                and live is not None
                and (body["metadata"].get("annotations") or {}).get(RECREATE_ANNOTATION) == "true"
            ):
                applied = self._recreate(resource, body, name, ns, manifest)
            else:
                raise self._permanent(manifest, exc, body) from exc
        except TemporaryError as exc:
            if _is_secret(body):  # the API server's message could quote the rejected object
                raise TemporaryError(scrub(str(exc), body)) from None
            raise
        return self._result(manifest, live, applied, ns)

    def _get_live(self, resource: Any, name: str, ns: str | None) -> dict[str, Any] | None:
        try:
            return with_retries(lambda: resource.get(name=name, namespace=ns).to_dict())
        except NotFoundError:
            return None

    def _server_side_apply(self, resource: Any, body: dict[str, Any], name: str, ns: str | None) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            result = self.client.server_side_apply(
                resource,
                body=body,
                name=name,
                namespace=ns,
                field_manager=self.field_manager,
                force_conflicts=self.force_conflicts,
                dry_run="All" if self.dry_run else None,
            )
            return result.to_dict()

        return with_retries(call)

    def _recreate(
        self, resource: Any, body: dict[str, Any], name: str, ns: str | None, manifest: Manifest
    ) -> dict[str, Any]:
        if self.dry_run:
            return body
        log.info("%s: immutable fields changed; deleting and re-creating it (%s)", manifest.ref, manifest.source)
        with_retries(lambda: resource.delete(name=name, namespace=ns, propagation_policy="Background"))
        deadline = time.monotonic() + 120
        while self._get_live(resource, name, ns) is not None:
            if time.monotonic() > deadline:
                raise TemporaryError(f"{manifest.ref} was deleted for re-creation but is still present")
            time.sleep(0.5)
        return self._server_side_apply(resource, body, name, ns)

    def _permanent(self, manifest: Manifest, exc: DynamicApiError, body: dict[str, Any]) -> PlatformError:
        message = scrub(exc.summary() if hasattr(exc, "summary") else str(exc), body)
        if exc.status and 400 <= exc.status < 500:
            return ConfigError(f"{manifest.source}: {manifest.ref} rejected by the API server: {message}")
        return TemporaryError(f"{manifest.source}: {manifest.ref}: {message}")

    def _result(
        self, manifest: Manifest, live: dict[str, Any] | None, applied: dict[str, Any], ns: str | None
    ) -> ObjectResult:
        if self.dry_run:
            diff = unified_diff(live, applied, manifest.ref)
            if live is None:
                action = "would-create"
            elif _clean(live) != _clean(applied):
                action = "would-configure"
            else:
                action, diff = "unchanged", ""
            return ObjectResult(
                manifest.ref, ns, action, manifest.source, diff=diff, body=redact_secrets(None, applied)[1]
            )
        # Compare the object without status and server bookkeeping: a controller updating status (and so the
        # resourceVersion) between our read and our apply must not count as a change made by this deploy.
        if live is None:
            action = "created"
        elif live["metadata"].get("resourceVersion") != applied["metadata"].get("resourceVersion") and (
            _clean(live) != _clean(applied)
        ):
            action = "configured"
        else:
            action = "unchanged"
        return ObjectResult(manifest.ref, ns, action, manifest.source, body=redact_secrets(None, applied)[1])

    def apply_all(self, manifests: Iterable[Manifest]) -> list[ObjectResult]:
        results = []
        for manifest in manifests:
            result = self.apply(manifest)
            log.info("%s %s (%s)", result.ref, result.action, result.source)
            if result.diff:
                log.info("diff for %s:\n%s", result.ref, result.diff)
            results.append(result)
        return results

    def ensure_namespace(self) -> ObjectResult:
        """The target namespace is applied by every phase (idempotent) so phases stay independent."""
        return self.apply(
            Manifest(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        "name": self.namespace,
                        "labels": {"app.kubernetes.io/part-of": "commodity-platform"},
                    },
                },
                "<namespace>",
            )
        )


__all__ = [
    "FIELD_MANAGER",
    "RECREATE_ANNOTATION",
    "ApplyEngine",
    "ObjectResult",
    "is_transient",
    "redact_secrets",
    "retry_after_seconds",
    "scrub",
    "unified_diff",
    "with_retries",
]
