"""Kubernetes API retries honour ``Retry-After`` (as the cncf provider's ``generic_api_retry`` does), bounded.

The emulator sheds load as kube-apiserver's max-in-flight / API Priority and Fairness filter does: 429 with a
``Retry-After`` header and a plain-text body.
"""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import Any

import pytest

from commodity_platform.errors import TemporaryError
from commodity_platform.k8s import apply as k8s_apply
from commodity_platform.k8s.apply import retry_after_seconds, with_retries
from commodity_platform.k8s.manifests import Manifest

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}}


def _gaps_after_429(log: list[tuple[float, str, str, bool]]) -> list[float]:
    """Seconds between each refused request and the next request the client sent."""
    return [later[0] - earlier[0] for earlier, later in pairwise(log) if earlier[3]]


def test_a_throttled_apply_waits_what_retry_after_asks_then_succeeds(engine: Any) -> None:
    engine.emulator.throttle(2, retry_after=2)
    result = engine.apply(Manifest(copy.deepcopy(CONFIGMAP), "cfg.yaml#0"))
    assert result.action == "created"
    log = engine.emulator.throttle_log
    assert [refused for *_, refused in log[:3]] == [True, True, False], log
    gaps = _gaps_after_429(log)
    # The exponential fallback would wait 0.5 s then 1 s; the server asked for 2 s each time.
    assert len(gaps) == 2 and all(gap >= 1.95 for gap in gaps), gaps


def test_a_huge_retry_after_is_cut_to_the_bound(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(k8s_apply, "RETRY_AFTER_MAX_SECONDS", 1.0)
    engine.emulator.throttle(1, retry_after=3600)
    assert engine.get("v1", "ConfigMap", "absent") is None  # the retried GET answers 404: not there
    (gap,) = _gaps_after_429(engine.emulator.throttle_log)
    assert 0.95 <= gap < 5, gap


def test_throttling_that_outlasts_the_attempts_is_a_temporary_error(engine: Any) -> None:
    waits: list[float] = []
    resource = engine.resource("v1", "ConfigMap")
    engine.emulator.throttle(100, retry_after=7)
    with pytest.raises(TemporaryError, match="still failing after 5 attempts"):
        with_retries(lambda: resource.get(name="cfg", namespace="data-platform"), sleep=waits.append)
    assert waits == [7.0] * 4  # every wait is the server's, none longer than the bound (30 s)


class _Answer(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers


@pytest.mark.parametrize(
    ("status", "headers", "seconds"),
    [
        (429, {"Retry-After": "3"}, 3.0),
        (429, {"retry-after": "0"}, 0.0),  # header names are case-insensitive
        (503, {"Retry-After": "5"}, 5.0),  # kube-apiserver shutting down
        (429, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),  # an HTTP date: fall back to backoff
        (429, {"Retry-After": "-4"}, None),
        (429, None, None),
        (500, {"Retry-After": "3"}, None),  # only load shedding answers carry a meaningful one
    ],
)
def test_retry_after_is_read_from_load_shedding_answers_only(
    status: int, headers: dict[str, str] | None, seconds: float | None
) -> None:
    assert retry_after_seconds(_Answer(status, headers)) == seconds
