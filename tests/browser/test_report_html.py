"""A weekly report's HTML file, opened from disk in Chromium with the network cut off: it renders whole
(charts included), asks nothing of any host, and runs no script from trace content."""

from __future__ import annotations

from glassbox.analysis.query import Query
from glassbox.reports import archive
from glassbox.reports.build import build
from glassbox.reports.period import period
from glassbox.store.store import Store


def test_weekly_report_html_renders_offline(demo_store, page, tmp_path):
    url, _run, _ = demo_store
    st = Store(url)
    rep = build("weekly", Query(st), period(days=14))
    path = archive.write(rep, "html", tmp_path, store=st)
    st.close()
    asked: list[str] = []

    def offline(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(path.as_uri())
    assert page.locator("h1").inner_text() == "Weekly report"
    assert page.locator("#executive-summary").inner_text().startswith("Weekly report, ")
    assert page.locator("ul.recs li").count() == len(rep.recommendations) >= 1
    charts = page.locator("img.chart")
    assert charts.count() >= 2
    assert all(w > 100 for w in charts.evaluate_all("imgs => imgs.map(i => i.naturalWidth)"))  # charts decoded
    assert "window.__pwned" in page.locator("body").inner_text()  # the hostile run's text, shown as text
    assert page.evaluate("window.__pwned === undefined")
    assert asked == []
    assert page.errors == []
