"""The run page as a newcomer reads it: stage badges, LLM call cards, µs durations, the review box,
and the compare page's run picker (same filters as Runs)."""

from __future__ import annotations

import re

import pytest
from live_server import LiveServer

from glassbox.server.app import create_app
from glassbox.server.web import _fmt_cost, _fmt_ms
from glassbox.server.web import router as web
from glassbox.store.keys import create_key
from glassbox.store.store import Store


@pytest.fixture
def server(demo_store):
    url, run, _ = demo_store
    with LiveServer(create_app(url, routers=[web])) as srv:
        srv.run = run
        yield srv


def _llm_run(run):
    return next(t for t in run.traces if t.status == "complete" and any(s.kind == "llm" for s in t.spans))


def test_stage_badges_and_llm_call_cards(server, page):
    t = _llm_run(server.run)
    page.goto(f"{server.url}/runs/{t.trace_id}")
    rows = page.locator("#waterfall details.stage")
    assert page.locator("#waterfall .sbadge.dec").count() >= 1  # decisions visible without expanding
    llm_badges = page.locator("#waterfall .sbadge.llm")
    calls = [s for s in t.spans if s.model]
    assert llm_badges.count() == len(calls)
    assert calls[0].model in llm_badges.first.inner_text() and "tok" in llm_badges.first.inner_text()

    llm_row = rows.filter(has=page.locator(".sbadge.llm")).first
    llm_row.locator("summary").click()
    card = llm_row.locator(".llm-card")
    assert card.is_visible()
    text = card.inner_text()
    assert "input" in text and "output" in text and "priced" in text
    assert "not captured" in text  # the demo records no prompt text, and says so plainly
    assert "(saving needs a write key" not in page.locator("form.review").inner_text()  # an open server saves
    assert page.errors == []


def test_failed_stage_shows_its_error_badge(server, page):
    failed = next(t for t in server.run.traces if t.status == "failed")
    page.goto(f"{server.url}/runs/{failed.trace_id}")
    err = page.locator("#waterfall .sbadge.err")
    assert err.count() >= 1
    assert failed.error["type"] in err.first.inner_text()


def test_durations_under_a_millisecond_read_in_microseconds():
    assert _fmt_ms(0.18) == "180 µs" and _fmt_ms(0.0) == "0 µs"
    assert _fmt_ms(12.4) == "12 ms" and _fmt_ms(2500) == "2.50 s"
    # Compare deltas are negative: a 34 ms gain reads "-34 ms", not "-33748 µs".
    assert _fmt_ms(-33.748) == "-34 ms" and _fmt_ms(-0.5) == "-500 µs" and _fmt_ms(-2500) == "-2.50 s"


def test_costs_keep_their_sign_and_small_digits():
    assert _fmt_cost(-0.0000123) == "-$0.000012" and _fmt_cost(0.01234) == "$0.0123"
    assert _fmt_cost(-12.5) == "-$12.50" and _fmt_cost(0.0) == "$0.0000" and _fmt_cost(None) == "—"


def test_review_box_names_the_write_key_only_when_the_viewer_lacks_one(demo_store, page):
    url, run, _ = demo_store
    st = Store(url)
    read_secret, _ = create_key(st, project="demo", scope="read")
    with LiveServer(create_app(url, auth_required=True, routers=[web])) as srv:
        page.goto(f"{srv.url}/login")
        page.fill("input[name=key]", read_secret)
        page.click("form button[type=submit]")
        page.goto(f"{srv.url}/runs/{run.traces[0].trace_id}")
        assert "saving needs a write key" in page.locator("form.review").inner_text()


def test_compare_picker_filters_like_runs_and_completes_the_pair(server, page):
    a = _llm_run(server.run)
    page.goto(f"{server.url}/runs/{a.trace_id}")
    page.click("#find-run")
    page.wait_for_url(re.compile(rf"/compare\?a={a.trace_id}$"))
    assert page.locator("#picker tbody tr").count() >= 10
    page.fill("#picker-filters input[name=workflow]", "summarize")
    page.click("#picker-filters button[type=submit]")
    page.wait_for_url(re.compile(r"workflow=summarize"))
    workflows = {c.strip() for c in page.locator("#picker tbody tr td:nth-child(3)").all_inner_texts()}
    assert workflows == {"summarize"}
    target = page.locator("#picker tbody tr a.pick").first
    target.click()
    page.wait_for_url(re.compile(rf"/compare\?a={a.trace_id}&b=[0-9a-f]{{32}}"))
    assert page.locator("h2", has_text="Stages").is_visible()
    assert page.errors == []
