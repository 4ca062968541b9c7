"""The SLO and alerts pages in Chromium: the burn-down chart drawn from plotly served locally (CSP on, no CDN),
the burn-rate table, and the page alert the SLO check fired listed on /alerts."""

from __future__ import annotations

from live_server import LiveServer

from glassbox.monitoring import notifiers
from glassbox.monitoring.demo import PROJECT, _runs
from glassbox.monitoring.slo import SLO, check
from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.store import Store

TOML = f"""
[[slo]]
name = "checkout_availability"
sli = "availability"
objective = 0.995
project = "{PROJECT}"
description = "Checkout runs that do not fail"
"""


def test_slo_page_draws_the_burn_down_and_lists_the_page(store_url, page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GLASSBOX_SLO_CHECK_INTERVAL", "0")
    monkeypatch.setenv("GLASSBOX_DRIFT_INTERVAL", "0")
    (tmp_path / "glassbox.toml").write_text(TOML)
    st = Store(store_url)
    st.write_traces(_runs())
    notifiers.set_delivery(notifiers.Delivery([]))
    try:
        check(st, [SLO("checkout_availability", "availability", 0.995, project=PROJECT)])
    finally:
        notifiers.set_delivery(None)
    st.close()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    with LiveServer(create_app(store_url, routers=[web, *features.page_routers()])) as srv:
        page.goto(f"{srv.url}/slo")
        page.wait_for_selector("body[data-slo-charts=ready]", timeout=20_000)
        assert page.locator("#chart-slo-0 .main-svg").count() >= 1
        row = page.locator("#slo-checkout_availability").inner_text()
        assert "page" in row and "Checkout runs that do not fail" in row
        burn = page.locator("table.burn").first.inner_text()
        assert "14.4x" in burn and "yes" in burn
        assert all(u.startswith(srv.url) for u in requested)  # plotly from the server, no CDN
        page.goto(f"{srv.url}/alerts")
        assert "checkout_availability:page" in page.locator("table.alerts").inner_text()
        assert page.errors == []  # type: ignore[attr-defined]
