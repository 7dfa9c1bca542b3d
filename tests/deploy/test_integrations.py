"""Phases 5 and 8 hand over to other packages through a small contract; the result is XCom-safe."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from commodity_platform.deploy.integrations import _summarise, run_connectors_phase, run_use_cases_phase
from commodity_platform.errors import ConfigError


class Report:
    def as_dict(self) -> dict[str, Any]:
        return {"created": ["a", "b"], "dry_run": True, "token": "s3cr3t", "detail": {"n": 1, "big": "x" * 500}}


def test_summary_keeps_small_scalars_and_drops_secrets() -> None:
    assert _summarise(Report()) == {"created": 2, "dry_run": True, "detail": {"n": 1}}
    assert _summarise(None) == {}


def test_actions_call_the_other_packages_with_dry_run(fake_integrations: Any) -> None:
    assert run_connectors_phase(dry_run=True) == {"created": 3, "updated": 0, "unchanged": 0}
    assert run_use_cases_phase(dry_run=False) == {"applied": 4, "pending": 0}
    assert fake_integrations["connectors"].calls == [{"dry_run": True}]
    assert fake_integrations["use-cases"].calls == [{"dry_run": False}]


def test_missing_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "commodity_platform.doris.migrations", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r"commodity_platform\.doris\.migrations\.run_migrations"):
        run_use_cases_phase(dry_run=True)
