"""Reports over HTTP: the list, a report built on demand, the dashboard pages (under a CSP that lets the stored
HTML load nothing), project scoping with keys, and the schedule that writes due reports and tells the webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from runs_builder import make_run

from glassbox.analysis.query import Query
from glassbox.config import load_settings
from glassbox.errors import ConfigError
from glassbox.reports import archive, schedule
from glassbox.reports.build import build
from glassbox.reports.period import period
from glassbox.server import features
from glassbox.server.app import create_app
from glassbox.server.web import router as web
from glassbox.store.keys import create_key


@pytest.fixture
def filled(store):
    from datetime import UTC, datetime

    now = datetime.now(UTC).replace(tzinfo=None)
    store.write_traces(
        [
            make_run(
                i,
                ago=timedelta(hours=2 + i),
                now=now,
                cost=0.01,
                quality=0.8,
                passed=True,
                stages=[("llm", 20.0, "ok")],
                project="p" if i % 2 else "q",
            )
            for i in range(12)
        ]
    )
    return store


def test_build_on_demand_in_every_format(filled):
    with TestClient(create_app(filled, jobs=False)) as c:
        doc = c.get("/api/v1/reports/build/weekly?days=7").json()
        assert doc["schema"] == "glassbox.report.v1" and doc["runs"] == 12
        md = c.get("/api/v1/reports/build/cost?days=7&format=md")
        assert md.status_code == 200 and md.text.startswith("# Cost report")
        page = c.get("/api/v1/reports/build/quality?days=7&format=html")
        assert "default-src 'none'" in page.headers["content-security-policy"] and "<h1>Quality report" in page.text
        assert c.get("/api/v1/reports/build/weekly?days=7&since=3d").status_code == 400
        assert c.get("/api/v1/reports/build/nope").status_code == 422


def test_a_project_key_sees_its_own_reports_and_figures(filled, tmp_path):
    for project in ("p", "q"):
        archive.write(build("cost", Query(filled), period(days=7), project=project), "html", tmp_path, store=filled)
    secret, _ = create_key(filled, project="p", scope="read")
    with TestClient(create_app(filled, auth_required=True, jobs=False, routers=[web, *features.page_routers()])) as c:
        h = {"Authorization": f"Bearer {secret}"}
        listed = c.get("/api/v1/reports", headers=h).json()
        assert [r["project"] for r in listed] == ["p"]
        assert c.get("/api/v1/reports/build/weekly?days=7", headers=h).json()["runs"] == 6
        assert c.get("/api/v1/reports/build/weekly?days=7&project=q", headers=h).status_code == 403
        assert c.get("/api/v1/reports").status_code == 401
        c.cookies.set("glassbox_key", secret)
        page = c.get(f"/reports/{listed[0]['id']}", headers=h)
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
        other = next(r for r in archive.listed(filled) if r.project == "q")
        assert c.get(f"/reports/{other.id}", headers=h).status_code == 404


def test_dashboard_lists_reports(filled, tmp_path):
    path = archive.write(build("weekly", Query(filled), period(days=7)), "md", tmp_path, store=filled)
    with TestClient(create_app(filled, jobs=False, routers=[web, *features.page_routers()])) as c:
        page = c.get("/reports")
        assert page.status_code == 200 and "Weekly report" in page.text
        rid = archive.listed(filled)[0].id
        body = c.get(f"/reports/{rid}")
        assert body.text == path.read_text()
        assert c.get("/reports/ffffffffffffffff").status_code == 404


def test_the_schedule_writes_due_reports_once_and_tells_the_alert_receivers(filled, tmp_path, monkeypatch):
    from glassbox.monitoring import notifiers

    got: list = []
    monkeypatch.setenv("GLASSBOX_REPORTS_DIR", str(tmp_path / "reports"))
    settings = load_settings()
    delivery = notifiers.Delivery([notifiers.CallbackNotifier()])
    old = notifiers.set_delivery(delivery)
    notifiers.on_alert(got.append, source="report")
    try:
        written = schedule.run_due(filled, settings)
        assert sorted(p.suffix for p in written) == [".html", ".md"]
        assert all(p.parent == tmp_path / "reports" for p in written)
        assert schedule.run_due(filled, settings) == []  # not due again within the week
        assert delivery.flush(5)
        assert [a.source for a in got] == ["report"] and "Weekly report" in got[0].message
        assert str(written[-1]) in got[0].message  # the summary says where the file is
    finally:
        notifiers.set_delivery(old)
        notifiers.remove_callbacks()
    assert schedule.interval("12h") == timedelta(hours=12) and schedule.interval("off") is None
    with pytest.raises(ConfigError, match="reports_schedule"):
        schedule.interval("fortnightly")
