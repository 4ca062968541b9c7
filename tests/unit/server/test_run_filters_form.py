"""The dashboard's runs filter form is built from TRACE_FILTERS: every filter is a field, and a value typed in it
filters the list (on the runs page and in the compare page's run picker)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glassbox.analysis.filter_spec import TRACE_FILTERS
from glassbox.server.app import create_app
from glassbox.server.web import router as web

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from runs_builder import make_run

# One value per filter that picks run 1 or run 2 of _runs() (a filter added to the spec needs a line here).
TYPED = {
    "project": ("lab", {2}),
    "workflow": ("summarize", {2}),
    "intent": ("explain", {2}),
    "domain": ("legal", {2}),
    "status": ("failed", {2}),
    "since": ("1d", {1}),
    "until": ("2d", {2}),
    "min_score": ("0.5", {1}),
    "max_score": ("0.5", {2}),
    "flagged": ("true", {1}),
    "tag": ("prod", {1}),
    "metadata": ("tier=free", {2}),
    "text": ("refund", {1}),
    "user_id": ("u2", {2}),
    "session_id": ("s1", {1}),
    "environment": ("staging", {2}),
    "release": ("r1", {1}),
    "experiment": ("e2", {2}),
    "variant": ("a", {1}),
    "service": ("worker", {2}),
}


class Fields(HTMLParser):
    """The fields of one form (by id): name -> value (an input's value, a select's selected option)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select = form_id, False, None
        self.fields: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif self.inside and tag == "input" and a.get("type") != "hidden":
            self.fields.setdefault(a["name"] or "", []).append(a.get("value") or "")
        elif self.inside and tag == "select":
            self.select = a["name"]
            self.fields.setdefault(self.select or "", [])
        elif self.inside and tag == "option" and self.select and "selected" in a:
            self.fields[self.select].append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def fields(html: str, form_id: str) -> dict[str, list[str]]:
    parser = Fields(form_id)
    parser.feed(html)
    return parser.fields


def listed(html: str, table_id: str) -> set[int]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return {int(tid, 16) for tid in re.findall(r'href="/runs/([0-9a-f]{32})"', body)}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    now = datetime.now(UTC).replace(tzinfo=None)
    one = make_run(1, ago=timedelta(hours=1), quality=0.9, flagged=True, tags=["prod"], now=now)
    one.metadata, one.input = {"tier": "gold"}, "refund please"
    two = make_run(
        2,
        ago=timedelta(days=3),
        workflow="summarize",
        intent="explain",
        domain="legal",
        status="failed",
        project="lab",
        now=now,
    )
    two.metadata, two.input = {"tier": "free"}, "summary"
    two.scores = make_run(2, quality=0.3).scores
    for t, n, exp, variant, service, env in (
        (one, 1, "e1", "a", "api", "prod"),
        (two, 2, "e2", "b", "worker", "staging"),
    ):
        t.user_id, t.session_id, t.release = f"u{n}", f"s{n}", f"r{n}"
        t.experiment, t.variant, t.service, t.environment = exp, variant, service, env
    url = f"sqlite:///{tmp_path_factory.mktemp('form')}/g.db"
    app = create_app(url, routers=[web], jobs=False, calibration=False)
    app.state.store.write_traces([one, two])
    with TestClient(app) as c:
        yield c


def test_every_filter_of_the_spec_is_a_field_of_the_runs_form_and_the_compare_picker(client):
    params = {f.query_param for f in TRACE_FILTERS}
    page = client.get("/runs").text
    assert set(fields(page, "filters")) == params and listed(page, "runs") == {1, 2}
    assert set(fields(client.get("/compare").text, "picker-filters")) == params
    assert {"experiment", "variant", "service", "release", "meta", "user_id"} <= params
    assert set(TYPED) == set(TRACE_FILTERS.names()), "give the new filter a typed value in TYPED"


@pytest.mark.parametrize("f", TRACE_FILTERS, ids=lambda f: f.name)
def test_a_value_typed_in_a_field_filters_the_list_and_stays_in_the_form(client, f):
    value, expected = TYPED[f.name]
    page = client.get("/runs", params={f.query_param: value})
    assert page.status_code == 200, page.text
    assert listed(page.text, "runs") == expected
    assert fields(page.text, "filters")[f.query_param] == [value]
    picker = client.get("/compare", params={f.query_param: value})
    assert listed(picker.text, "picker") == expected


def test_repeated_values_keep_one_field_each_and_typed_text_is_escaped(client):
    page = client.get("/runs", params=[("tag", "prod"), ("tag", "other")])
    assert fields(page.text, "filters")["tag"] == ["prod", "other"] and listed(page.text, "runs") == set()
    hostile = '"><script>alert(1)</script>'
    page = client.get("/runs", params={"text": hostile, "experiment": hostile})
    assert "<script>alert(1)" not in page.text
    assert fields(page.text, "filters")["text"] == [hostile] == fields(page.text, "filters")["experiment"]
