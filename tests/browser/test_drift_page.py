"""The Drift & feedback page in Chromium: the state table, both charts drawn (plotly served locally, CSP on),
hostile field segments shown as text."""

from __future__ import annotations

import sys
from pathlib import Path

from live_server import LiveServer

from conftest import XSS
from glassbox.monitoring import drift
from glassbox.monitoring.drift_demo import PROJECT, seed_runs
from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "monitoring"))


def test_drift_page_draws_its_charts(store_url, page, monkeypatch):
    monkeypatch.setenv("GLASSBOX_DRIFT_INTERVAL", "0")
    st = Store(store_url)
    seed_runs(st)
    from drift_seed import run

    # a release whose name is hostile: its segment must reach the page as text
    st.write_traces([run(2, confidence=0.5, quality=0.5, release=XSS, project=PROJECT) for _ in range(5)])
    drift.check(st, ("confidence", "quality_score"), project=PROJECT, by="release")
    drift.check(st, ("confidence", "quality_score"), project=PROJECT, by="release")
    st.close()
    with LiveServer(create_app(store_url, routers=[web, *features.page_routers()])) as srv:
        page.goto(f"{srv.url}/drift")
        page.wait_for_selector("body[data-drift-charts=ready]", timeout=20_000)
        assert page.locator("#chart-drift .main-svg").count() >= 1
        assert page.locator("#chart-feedback .main-svg").count() >= 1
        rows = page.locator("table.drift tr.drift-row")
        assert rows.count() >= 2
        assert "critical" in page.locator("table.drift").inner_text()
        assert "W" in page.locator("table.feedback").inner_text()
        page.click("table.drift a:text('confidence')")
        page.wait_for_url("**/drift?field=confidence")
        page.goto(f"{srv.url}/drift")
        assert "release=" + XSS in page.locator("table.drift").inner_text()  # shown as text ...
        assert page.evaluate("window.__pwned") is None  # ... never run
        assert page.errors == []  # type: ignore[attr-defined]
