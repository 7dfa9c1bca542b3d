"""A self-contained HTML report of one run: every check, its expectations, observed values and example rows.

GX Data Docs need a file-backed context and a site build per run (seconds, plus a folder of assets); this
page carries the same content (expectation, observed value, unexpected rows) in one file an operator can
open from the path the publish task logs. Written before the push, so it exists even when the
Pushgateway does not answer.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from commodity_platform.quality.results import CheckResult
from commodity_platform.quality.settings import CHECKS, contained_path, report_base_dir

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;
font-size:.85rem;text-align:left}th{background:#f4f4f4}.pass{color:#1a7f37}.fail,.error,.missing{color:#cf222e}
h2 .badge{font-size:.8rem;padding:.1rem .5rem;border-radius:.5rem;border:1px solid currentColor}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _rows_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>no rows</em></p>"
    columns = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _expectations(details: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for value in details.values():
        if isinstance(value, dict) and "violations" in value and "rows" in value:
            found.append(value)
        elif isinstance(value, list):
            found += [v for v in value if isinstance(v, dict) and "violations" in v and "rows" in v]
    return found


def render_html(run_id: str, results: Iterable[CheckResult], *, instance: str) -> str:
    by_check = {r.check: r for r in results}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Data quality {_e(run_id)}</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>streaming_data_quality</h1><p>run <code>{_e(run_id)}</code>, instance <code>{_e(instance)}"
             f"</code>, written {now}</p>", "<table><tr><th>check</th><th>status</th><th>summary</th></tr>"]
    for check in CHECKS:
        r = by_check.get(check)
        status = r.status if r else "missing"
        summary = _e(r.summary if r else "")
        parts.append(f"<tr><td>{check}</td><td class='{status}'>{status}</td><td>{summary}</td></tr>")
    parts.append("</table>")
    for check in CHECKS:
        r = by_check.get(check)
        if r is None:
            parts.append(f"<h2>{check} <span class='badge missing'>missing</span></h2><p>No result was recorded "
                         "(the check task did not reach the point of saving one; see its log).</p>")
            continue
        window = f" window [{r.window_start}, {r.window_end})" if r.window_start else ""
        parts.append(f"<h2>{check} <span class='badge {r.status}'>{r.status}</span></h2>"
                     f"<p>{_e(r.summary)}</p><p>as of {_e(r.as_of)}{_e(window)}</p>")
        for exp in _expectations(r.details):
            mark = "pass" if exp.get("success") else "fail"
            parts.append(f"<h3>{_e(exp.get('name'))} on <code>{_e(exp.get('table'))}</code>: "
                         f"<span class='{mark}'>{mark}</span>, {exp.get('violations')} violations, "
                         f"{exp.get('elapsed_s')} s</h3>")
            parts.append(_rows_table(exp.get("rows") or []))
        other = {k: v for k, v in r.details.items() if k not in ("expectations", "expectation", "invalid_ticks")}
        if other:
            parts.append(f"<pre>{_e(json.dumps(other, indent=2, default=str))}</pre>")
        if r.samples:
            parts.append(_rows_table([{"metric": s.name, "labels": s.labels, "value": s.value} for s in r.samples]))
    parts.append("</body></html>")
    return "".join(parts)


def write_report(path: Path, run_id: str, results: Iterable[CheckResult], *, instance: str,
                 base: Path | None = None) -> Path:
    """Write the HTML report atomically at ``path``, which must resolve inside ``base``.

    ``base`` defaults to the configured report base directory; the check is repeated here, right before
    writing, because a symlink can appear between validating the Params and publishing.
    """
    path = contained_path(base or report_base_dir(), path, field_name="report_dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_html(run_id, list(results), instance=instance), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a report
    return path
