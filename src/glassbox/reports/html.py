"""Reports as one self-contained HTML file: inline CSS, charts drawn by matplotlib and embedded as data: images.

Nothing in the file loads from the network (no script, font or stylesheet URL), so it opens offline, in a
mail client or as a CI artifact. Every value is escaped by Jinja's autoescape (trace content is model output);
charts are SVG inside ``<img>``, where no script can run.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from glassbox.reports.model import Chart, Report
from glassbox.reports.render import delta, fmt

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(fmt=fmt, delta=delta, ident=id)
COLORS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6")


def chart_image(chart: Chart) -> str:
    """The chart as a ``data:image/svg+xml;base64,…`` URI (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(7.5, 2.6), dpi=100)
    ax = fig.subplots()
    x = list(range(len(chart.x)))
    n = max(len(chart.series), 1)
    for i, (name, values) in enumerate(chart.series.items()):
        ys = [float("nan") if v is None else float(v) for v in values]
        if chart.kind == "bar":
            width = 0.8 / n
            ax.bar([xi + (i - (n - 1) / 2) * width for xi in x], ys, width=width, label=name, color=COLORS[i % 5])
        else:
            ax.plot(x, ys, marker="o", markersize=3, label=name, color=COLORS[i % 5])
    step = max(1, len(x) // 10)
    ax.set_xticks(x[::step], [str(v)[5:] if len(str(v)) == 10 else str(v) for v in chart.x[::step]], fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(chart.title, fontsize=10, loc="left")
    if len(chart.series) > 1:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def html(report: Report, base_url: str = "") -> str:
    """The report as a self-contained HTML page; run links are ``{base_url}/runs/<id>`` (relative by default)."""
    charts: dict[int, str] = {}
    for s in report.sections:
        for c in s.charts:
            charts[id(c)] = chart_image(c)
    ctx: dict[str, Any] = {"r": report, "charts": charts, "base": base_url, "previous": report.period.previous()}
    return _env.get_template("report.html").render(**ctx)
