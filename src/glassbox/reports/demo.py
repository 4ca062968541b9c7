"""``glassbox demo``'s report: a weekly report of the demo's runs, written as HTML (and Markdown) beside the store."""

from __future__ import annotations

from typing import Any


def section(result: Any, console: Any, store: str | None) -> None:
    from rich.text import Text

    from glassbox.analysis.query import Query
    from glassbox.config import load_settings
    from glassbox.reports import archive
    from glassbox.reports.build import build
    from glassbox.reports.period import period
    from glassbox.store.store import Store

    if not result.store:
        return
    st = Store(result.store)
    try:
        rep = build("weekly", Query(st), period(days=7), project="demo")
        folder = load_settings().reports_dir
        html = archive.write(rep, "html", folder, store=st)
        archive.write(rep, "md", folder, store=st)
    finally:
        st.close()
    console.print(
        Text.assemble(
            ("Report: ", "bold"),
            f"weekly report of the demo written to {html} "
            f"({len(rep.recommendations)} recommendations; open it in a browser, or "
            f"`glassbox report weekly --format md`)",
        )
    )
