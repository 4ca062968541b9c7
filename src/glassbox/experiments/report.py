"""Experiment reports in Markdown, HTML and JSON: the recommendation, its confidence, every metric, guardrails.

``experiment_report(store, name, fmt)`` is the one entry point (the reports feature reuses it).
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

from glassbox.errors import QueryError
from glassbox.experiments.analysis import Analysis, MetricResult, analyze

if TYPE_CHECKING:
    from glassbox.store.store import Store

FORMATS = ("markdown", "html", "json")
_HEADLINES = {
    "ship": "Ship **{winner}**",
    "keep_control": "Keep the control (**{winner}**)",
    "blocked": "Do not ship: a guardrail blocks the win",
    "inconclusive": "No significant difference yet",
    "invalid": "Invalid: sample ratio mismatch",
    "no_data": "No data yet",
}


def headline(a: Analysis) -> str:
    v = a.verdict
    text = _HEADLINES[v["decision"]].format(winner=v.get("winner"))
    if v.get("confidence") is not None:
        conf = v["confidence"]
        text += " (confidence > 99.9%)" if conf > 0.999 else f" (confidence {conf:.1%})"
    return text


def _num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{x:+.1%}"


def _row(r: MetricResult) -> list[str]:
    t = r.test or {}
    rel = (r.relative or {}).get("estimate")
    ci = f"[{_num(t.get('ci_low'))}, {_num(t.get('ci_high'))}]" if t else "-"
    status = {"better": "better", "worse": "WORSE", "none": "n.s."}[r.direction] if t else (r.note or "-")
    return [
        r.label,
        r.variant,
        _num(r.value_control),
        _num(r.value_variant),
        _num(t.get("estimate")),
        ci,
        _pct(rel),
        _num(t.get("p_value"), 3),
        _num(r.adjusted_p, 3),
        status,
    ]


_COLUMNS = [
    "metric",
    "variant",
    "control",
    "variant value",
    "difference",
    "CI",
    "relative",
    "p",
    "adjusted p",
    "result",
]


def to_markdown(a: Analysis) -> str:
    s = a.settings
    lines = [f"# Experiment {a.experiment}", "", f"Recommendation: {headline(a)}", ""]
    lines += [f"- {reason}" for reason in a.verdict.get("reasons", [])]
    lines += ["", "## Allocation", "", "| variant | weight | units | share | runs |", "|---|---|---|---|---|"]
    for v in a.variants:
        share = "-" if v["share"] is None else f"{v['share']:.1%}"
        lines.append(f"| {v['key']} | {v['weight']:.0%} | {v['units']} | {share} | {v['runs']} |")
    srm = a.srm
    lines += [
        "",
        f"Sample ratio check: χ² = {srm['statistic']:.3g}, p = {srm['p_value']:.3g} — "
        + ("**MISMATCH** (p < 0.001): results are not trustworthy" if srm["alarm"] else "OK"),
        "",
    ]
    for title, rows in (("Metrics", a.results), ("Guardrails", a.guardrails)):
        if not rows:
            continue
        lines += [f"## {title}", "", "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(_row(r)) + " |" for r in rows]
        lines.append("")
    method = "always-valid confidence sequences" if s["sequential"] else "fixed-horizon tests"
    lines.append(
        f"_{method}, alpha = {s['alpha']:g}, {s['correction']} correction across metrics"
        + (", CUPED" if s["cuped"] else "")
        + ", one observation per run._"
    )
    if a.power.get("power") is not None:
        lines.append(
            f"_Power to detect a {a.power['relative_mde']:.0%} relative change in {a.power['metric']} at "
            f"this sample size: {a.power['power']:.0%}._"
        )
    return "\n".join(lines) + "\n"


def to_html(a: Analysis) -> str:
    e = html.escape
    v = a.verdict
    parts = [
        f'<section class="experiment-report"><h1>Experiment {e(a.experiment)}</h1>',
        f'<p class="verdict verdict-{e(v["decision"])}"><strong>{e(headline(a).replace("**", ""))}</strong></p>',
        "<ul>" + "".join(f"<li>{e(r)}</li>" for r in v.get("reasons", [])) + "</ul>",
        "<h2>Allocation</h2><table><tr><th>variant</th><th>weight</th><th>units</th><th>share</th><th>runs</th></tr>",
    ]
    for x in a.variants:
        share = "-" if x["share"] is None else f"{x['share']:.1%}"
        parts.append(
            f"<tr><td>{e(x['key'])}</td><td>{x['weight']:.0%}</td><td>{x['units']}</td><td>{share}</td>"
            f"<td>{x['runs']}</td></tr>"
        )
    parts.append("</table>")
    srm = a.srm
    parts.append(
        f'<p class="srm {"alarm" if srm["alarm"] else "ok"}">Sample ratio check: p = {srm["p_value"]:.3g}'
        f" — {'MISMATCH' if srm['alarm'] else 'OK'}</p>"
    )
    for title, rows in (("Metrics", a.results), ("Guardrails", a.guardrails)):
        if not rows:
            continue
        parts.append(f"<h2>{title}</h2><table><tr>" + "".join(f"<th>{e(c)}</th>" for c in _COLUMNS) + "</tr>")
        for r in rows:
            cells = _row(r)
            parts.append(f'<tr class="{e(r.direction)}">' + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts) + "\n"


def to_json(a: Analysis) -> str:
    d = a.to_dict()
    d["headline"] = headline(a).replace("**", "")
    return json.dumps(d, indent=2, default=str, allow_nan=False) + "\n"


def render(a: Analysis, fmt: str) -> str:
    if fmt in ("markdown", "md"):
        return to_markdown(a)
    if fmt == "html":
        return to_html(a)
    if fmt == "json":
        return to_json(a)
    raise QueryError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


def experiment_report(store: Store, name: str, fmt: str = "markdown", **options: Any) -> str:
    """The report of one experiment as Markdown, HTML or JSON (``options`` go to ``analyze``)."""
    if fmt not in (*FORMATS, "md"):
        raise QueryError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    return render(analyze(store, name, **options), fmt)
