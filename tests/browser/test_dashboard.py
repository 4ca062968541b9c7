"""The dashboard in a real browser against a real server: list, filter, open a run, compare, acknowledge,
hostile trace content rendered as text, login with a key. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import re

import pytest
from live_server import LiveServer

from conftest import XSS
from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.keys import create_key
from glassbox.store.store import Store


@pytest.fixture
def server(demo_store):
    url, run, xss_id = demo_store
    with LiveServer(create_app(url, routers=[web, *features.page_routers()])) as srv:
        srv.run, srv.xss_id, srv.store_url = run, xss_id, url
        yield srv


def test_list_filter_open_a_run_and_compare(server, page):
    page.goto(f"{server.url}/runs")
    rows = page.locator("#runs tbody tr")
    assert rows.count() == 13
    page.fill("input[name=workflow]", "lesson_plan")
    page.click("form#filters button[type=submit]")
    page.wait_for_url(re.compile(r"workflow=lesson_plan"))
    workflows = {c.strip() for c in page.locator("#runs tbody tr td:nth-child(3)").all_inner_texts()}
    assert workflows == {"lesson_plan"}
    page.locator("#runs thead th", has_text="Duration").click()  # sortable: shortest first
    durations = [
        float(v)
        for v in page.locator("#runs tbody tr td:nth-child(7)").evaluate_all("cells => cells.map(c => c.dataset.value)")
    ]
    assert durations == sorted(durations)

    page.locator("#runs tbody tr a.mono").first.click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    stage = page.locator("details.stage", has=page.locator(".decision")).first
    stage.locator("summary").click()
    assert stage.locator(".decision").first.is_visible()
    assert "confidence" in stage.locator(".decision").first.inner_text()
    assert stage.locator(".alts li").count() >= 2  # alternatives, ranked
    assert page.locator("table.nodes").inner_text().count("$") >= 1  # LLM costs by node
    assert page.locator(".waterfall .bar").count() >= 5

    page.click(".compare-form button[type=submit]")
    page.wait_for_url(re.compile(r"/compare\?a=[0-9a-f]{32}&b=[0-9a-f]{32}"))
    assert page.locator("h2", has_text="Stages").is_visible()
    assert page.locator("#quality-delta").inner_text()
    assert page.errors == []


def test_overview_charts_render_offline(server, page):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{server.url}/overview?range=7d")
    page.wait_for_function("document.body.dataset.charts === 'ready'", timeout=20_000)
    assert page.locator(".chart .main-svg").count() >= 5
    assert all(u.startswith(server.url) for u in requested)  # no CDN: everything from the server
    assert "lesson_plan" in page.locator("table").first.inner_text()
    assert page.errors == []


def test_acknowledge_an_alert(server, page):
    page.goto(f"{server.url}/flags")  # the old address leads to the alerts page
    page.wait_for_url(re.compile(r"/alerts$"))
    before = page.locator("tr.state-firing").count()
    assert before >= 1  # the demo raises calibration alerts
    page.locator("tr.state-firing button.ack", has_text="Acknowledge").first.click()
    page.wait_for_url(re.compile(r"/alerts$"))
    assert page.locator("tr.state-firing").count() == before - 1  # firing only, by default
    page.goto(f"{server.url}/alerts?state=any")
    assert "acknowledged" in page.locator("table.alerts").inner_text()


def test_hostile_trace_content_is_shown_as_text_and_never_runs(server, page):
    page.goto(f"{server.url}/runs/{server.xss_id}")
    assert page.locator("#output").inner_text() == XSS
    page.locator("details.stage", has_text="retrieve").locator("summary").click()
    assert XSS in page.locator(".decision").first.inner_text()
    page.goto(f"{server.url}/runs?tag={XSS}")
    assert page.locator("#runs tbody tr").count() == 1
    page.goto(f"{server.url}/runs")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.errors == []


def test_login_with_a_key_and_scopes(demo_store, page):
    url, _, _ = demo_store
    store = Store(url)
    read_key, _ = create_key(store, "demo", "read")
    with LiveServer(create_app(url, auth_required=True, routers=[web, *features.page_routers()])) as srv:
        page.goto(f"{srv.url}/runs")
        page.wait_for_url(re.compile(r"/login"))
        page.fill("input[name=key]", "gbk_wrong_key")
        page.click("form.login button")
        assert "not valid" in page.locator(".error").inner_text()
        page.fill("input[name=key]", read_key)
        page.click("form.login button")
        page.wait_for_url(re.compile(r"/runs"))
        assert page.locator("#runs tbody tr").count() >= 12
        cookie = next(c for c in page.context.cookies() if c["name"] == "glassbox_key")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.goto(f"{srv.url}/flags")
        page.locator("button.ack").first.click()  # a read key cannot acknowledge
        assert "write is needed" in page.content()
