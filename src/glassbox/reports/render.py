"""Reports as Markdown (for git and chat) and JSON (for machines); HTML lives in ``reports.html``."""

from __future__ import annotations

import json
from typing import Any

from glassbox.reports.model import Figure, Report, Table

SEVERITY_MARK = {"critical": "[critical]", "warning": "[warning]", "info": "[info]"}


def fmt(value: Any, kind: str) -> str:
    """One value as a report writes it (``—`` when there is none)."""
    if value is None or value == "":
        return "—"
    if kind == "usd":
        return f"${value:,.4f}" if abs(value) < 100 else f"${value:,.2f}"
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "ms":
        return f"{value * 1000:.0f} µs" if value < 1 else f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.2f} s"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    if kind == "id":
        return str(value)[:12]
    return str(value)


def delta(f: Figure) -> str:
    """The change from the previous period, as a reader wants it: points for shares, % for the rest."""
    if f.delta is None:
        return "—"
    if f.delta == 0:
        return "±0"
    if f.fmt == "pct":
        return f"{100 * f.delta:+.1f} pts"
    if f.delta_pct is not None:
        return f"{f.delta_pct:+.0f} %"
    return f"{f.delta:+g}"


def _cell(value: Any, kind: str) -> str:
    return fmt(value, kind).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table, base_url: str) -> list[str]:
    kinds = t.fmts or ["text"] * len(t.columns)
    out = [f"**{t.title}**", ""] if t.title else []
    out += ["| " + " | ".join(t.columns) + " |", "|" + "|".join("---" for _ in t.columns) + "|"]
    link_at = t.columns.index(t.link) if t.link in t.columns else None
    for row in t.rows:
        cells = [_cell(v, k) for v, k in zip(row, kinds, strict=False)]
        if link_at is not None and row[link_at]:
            cells[link_at] = f"[{cells[link_at]}]({base_url}/runs/{row[link_at]})"
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def markdown(report: Report, base_url: str = "") -> str:
    """The report as Markdown; links to runs are ``{base_url}/runs/<id>`` (relative by default)."""
    lines = [
        f"# {report.title}",
        "",
        f"Period: {report.period.label}. Compared with the period before ({report.period.previous().label}). "
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.",
        "",
        f"**{report.executive_summary()}**",
        "",
    ]
    if report.recommendations:
        lines += ["## Recommendations", ""]
        for r in report.recommendations:
            links = ", ".join(f"[{label}]({base_url}{path})" for label, path in r.links)
            lines.append(f"- {SEVERITY_MARK.get(r.severity, '')} {r.message}" + (f" ({links})" if links else ""))
        lines.append("")
    elif not report.empty:
        lines += ["## Recommendations", "", "No rule found anything to act on in this period.", ""]
    for s in report.sections:
        lines += [f"## {s.title}", ""]
        if s.figures:
            lines += ["| figure | this period | previous | change |", "|---|---|---|---|"]
            lines += [
                f"| {f.label} | {fmt(f.value, f.fmt)} | {fmt(f.previous, f.fmt)} | {delta(f)} |" for f in s.figures
            ]
            lines.append("")
        for t in s.tables:
            lines += _md_table(t, base_url)
        for c in s.charts:  # Markdown has no charts: the series as a compact table
            lines += _md_table(
                Table(
                    ["day", *c.series],
                    [[x, *[v[i] for v in c.series.values()]] for i, x in enumerate(c.x)],
                    ["text", *["num"] * len(c.series)],
                    c.title,
                ),
                base_url,
            )
        lines += [f"_{n}_" if not s.configured else n for n in s.notes]
        if s.notes:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def as_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
