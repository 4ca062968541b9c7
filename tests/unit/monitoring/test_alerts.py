"""Alerts: fire/dedup/resolve/acknowledge on both stores; delivery to a real local webhook receiver with failures,
retries, dead letters, rate limits, repeats and quiet hours; commands; callbacks; budget and calibration alerts."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import glassbox as gb
from glassbox.errors import QueryError
from glassbox.monitoring import alerts, notifiers
from glassbox.store.alerts import AlertNotFound, list_alerts, open_counts
from glassbox.store.store import Store


class Receiver:
    """A real HTTP server on 127.0.0.1 that records JSON bodies; the first `fail` requests answer 500."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def delivery_to(receiver):
    made = []

    def make(**kw):
        kw.setdefault("backoff", 0.01)
        d = notifiers.Delivery([notifiers.WebhookNotifier(receiver.url), notifiers.CallbackNotifier()], **kw)
        notifiers.set_delivery(d)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()
    notifiers.set_delivery(None)
    notifiers.remove_callbacks()


@pytest.fixture
def st(store_url):
    s = Store(store_url)
    yield s
    s.close()


def test_fire_dedups_by_key_counts_and_resolve_reopens(st, delivery_to, receiver):
    d = delivery_to(repeat_interval=3600)
    first = alerts.fire(
        st,
        source="slo",
        rule="availability:page",
        severity="critical",
        message="burning 14.4x",
        dims={"slo": "availability"},
        project="p",
    )
    again = alerts.fire(
        st,
        source="slo",
        rule="availability:page",
        severity="critical",
        message="burning 20x",
        dims={"slo": "availability"},
        project="p",
    )
    assert again.id == first.id and again.count == 2 and again.message == "burning 20x"
    assert again.first_seen_ns == first.first_seen_ns <= again.at_ns
    assert again.key == 'slo:availability:page:project=p:{"slo":"availability"}'
    other = alerts.fire(
        st,
        source="slo",
        rule="availability:page",
        severity="critical",
        message="x",
        dims={"slo": "latency"},
        project="p",
    )
    assert other.id != first.id
    assert d.flush()
    # the repeat within the repeat interval notified no one; the other key did
    assert [b["alert"]["id"] for b in receiver.bodies] == [first.id, other.id]
    done = alerts.resolve(st, first.key)
    assert done.state == "resolved" and alerts.resolve(st, first.key) is None
    reopened = alerts.fire(
        st,
        source="slo",
        rule="availability:page",
        severity="critical",
        message="again",
        dims={"slo": "availability"},
        project="p",
    )
    assert reopened.id != first.id and reopened.count == 1 and reopened.state == "firing"
    assert d.flush()
    assert [b["event"] for b in receiver.bodies] == ["firing", "firing", "resolved", "firing"]
    assert len(list_alerts(st, state="open")) == 2 and len(list_alerts(st, state="resolved")) == 1
    assert open_counts(st) == {"critical": 2}


def test_webhook_body_schema_and_slack_text(st, delivery_to, receiver):
    d = delivery_to()
    a = alerts.fire(
        st,
        source="budget",
        rule="budget_daily_max",
        severity="warning",
        message="spent $12\nof $10",
        trace_id="ab" * 16,
        project="shop",
    )
    assert d.flush()
    (body,) = receiver.bodies
    assert body["schema"] == "glassbox.alert.v1" and body["event"] == "firing"
    assert body["text"] == (":warning: WARNING budget/budget_daily_max: spent $12 of $10 project shop run abababababab")
    assert {k: body["alert"][k] for k in ("id", "source", "rule", "severity", "state", "count", "trace_id")} == {
        "id": a.id,
        "source": "budget",
        "rule": "budget_daily_max",
        "severity": "warning",
        "state": "firing",
        "count": 1,
        "trace_id": "ab" * 16,
    }
    assert body["alert"]["first_seen"].endswith("+00:00") and body["alert"]["last_seen"] == body["alert"]["at"]


def test_failures_are_retried_with_backoff_then_dead_lettered(st, delivery_to, receiver):
    receiver.fail = 2
    d = delivery_to(retries=3)
    alerts.fire(st, source="drift", rule="psi", severity="warning", message="drifted")
    assert d.flush()
    assert receiver.attempts == 3 and len(receiver.bodies) == 1
    h = d.health()
    assert h["dead_letters"] == 0 and h["notifiers"][0]["retries"] == 2 and h["delivered"] >= 1
    receiver.fail, receiver.attempts = 100, 0
    alerts.fire(st, source="drift", rule="psi2", severity="warning", message="drifted more")
    assert d.flush()
    assert receiver.attempts == 4  # 1 + 3 retries
    webhook = d.health()["notifiers"][0]
    assert webhook["dead_letters"] == 1 and "500" in webhook["last_error"]


def test_a_slow_or_dead_receiver_never_blocks_fire(st, delivery_to):
    hold = threading.Event()
    calls = []
    gb.on_alert(lambda a: (hold.wait(5), calls.append(a.rule)))
    d = delivery_to()
    for i in range(3):
        alerts.fire(st, source="canary", rule=f"r{i}", severity="info", message="m")
    assert calls == []  # fire returned while the callback still waits
    hold.set()
    assert d.flush()
    assert calls == ["r0", "r1", "r2"]


def test_rate_limit_and_quiet_hours(st, delivery_to, receiver):
    d = delivery_to(rate_limit=2)
    for i in range(5):
        alerts.fire(st, source="slo", rule=f"rule{i}", severity="warning", message="m")
    assert d.flush()
    assert len(receiver.bodies) == 2 and d.health()["notifiers"][0]["rate_limited"] == 3
    quiet = notifiers.Delivery([notifiers.CallbackNotifier()], quiet_hours="22:00-07:00")
    got = []
    gb.on_alert(got.append)
    a = alerts.make_alert(source="slo", rule="q", severity="warning", message="m")
    night = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
    assert quiet.submit(a, now=night) is False
    crit = alerts.make_alert(source="slo", rule="q2", severity="critical", message="m")
    assert quiet.submit(crit, now=night) is True
    assert (
        quiet.submit(
            alerts.make_alert(source="slo", rule="q3", severity="info", message="m"),
            now=datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
        )
        is True
    )
    quiet.close()
    assert [x.rule for x in got] == ["q2", "q3"] and quiet.health()["quiet_hours_held"] == 1


def test_acknowledged_alerts_count_but_notify_no_one(st, delivery_to, receiver):
    d = delivery_to(repeat_interval=0)
    a = alerts.fire(st, source="slo", rule="r", severity="critical", message="m")
    acked = alerts.acknowledge(st, a.id[:6])
    assert acked.state == "acknowledged" and acked.acknowledged
    again = alerts.fire(st, source="slo", rule="r", severity="critical", message="m")
    assert again.id == a.id and again.count == 2 and again.state == "acknowledged"
    assert d.flush()
    assert len(receiver.bodies) == 1
    with pytest.raises(AlertNotFound, match="does not exist"):
        alerts.acknowledge(st, "ffffffffff")


def test_bad_input_is_a_precise_error(st):
    with pytest.raises(QueryError, match="unknown severity 'urgent'"):
        alerts.fire(st, source="slo", rule="r", severity="urgent", message="m")
    with pytest.raises(QueryError, match="unknown alert state"):
        list_alerts(st, state="open-ish")
    assert list_alerts(st) == []  # nothing half-written


def test_command_notifier_gets_the_body_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    script = f"import sys, os; open({str(out)!r}, 'w').write(os.environ['GLASSBOX_ALERT_SEVERITY'] + sys.stdin.read())"
    d = notifiers.Delivery([notifiers.CommandNotifier([sys.executable, "-c", script])])
    d.submit(alerts.make_alert(source="slo", rule="r", severity="critical", message="hello"), "firing")
    assert d.flush()
    d.close()
    text = out.read_text()
    assert text.startswith("critical") and json.loads(text[len("critical") :])["alert"]["message"] == "hello"


def test_callbacks_filter_by_source_and_severity():
    got = []
    gb.on_alert(lambda a: got.append(("any", a.rule, a.event)))
    gb.on_alert(lambda a: got.append(("slo", a.rule, a.event)), source="slo", min_severity="critical")
    d = notifiers.Delivery([notifiers.CallbackNotifier()])
    try:
        d.submit(alerts.make_alert(source="slo", rule="page", severity="critical", message="m"))
        d.submit(alerts.make_alert(source="slo", rule="ticket", severity="warning", message="m"))
        d.submit(alerts.make_alert(source="drift", rule="psi", severity="critical", message="m"))
        assert d.flush()
    finally:
        d.close()
        notifiers.remove_callbacks()
    assert sorted(got) == [
        ("any", "page", "firing"),
        ("any", "psi", "firing"),
        ("any", "ticket", "firing"),
        ("slo", "page", "firing"),
    ]


def test_budget_alerts_are_stored_deduplicated_and_delivered(store_url, delivery_to, receiver):
    d = delivery_to()
    gb.configure(store=store_url, budget_max_usd=0.0001, trail_dir=None)
    for _ in range(3):
        with pytest.raises(gb.BudgetExceeded), gb.trace("q"):
            gb.llm({"model": "gpt-4o", "usage": {"prompt_tokens": 1000, "completion_tokens": 500}})
            with gb.stage("next"):
                pass
    gb.flush()
    assert d.flush()
    (stored,) = list_alerts(Store(store_url), source="budget")
    assert stored.rule == "budget_trace_max" and stored.count == 3
    assert stored.key == "budget:budget_trace_max:project=default"
    assert [b["alert"]["rule"] for b in receiver.bodies] == ["budget_trace_max"]  # repeats held back


def test_calibration_alerts_go_through_fire(store_url, delivery_to, receiver):
    d = delivery_to()
    gb.configure(store=store_url, trail_dir=None, calibration_alerts_file=None)
    for _ in range(3):
        with gb.trace("q", workflow="qa"):
            gb.score("quality", 0.5, max=1.0, dimensions={"grounding": 0.1}, source="llm_judge")
    gb.flush()
    assert d.flush()
    (a,) = list_alerts(Store(store_url), source="calibration")
    assert a.key == "calibration:repeated_principle_failure:project=default:grounding"
    assert receiver.bodies[0]["alert"]["id"] == a.id


def test_test_fire_reaches_the_configured_webhook_and_dead_letters_show_in_health(tmp_path, monkeypatch, receiver):
    from typer.testing import CliRunner

    from glassbox.cli.app import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "glassbox.toml").write_text(f'[alerts]\nwebhooks = ["{receiver.url}"]\nretries = 1\n')
    notifiers.set_delivery(None)
    try:
        out = CliRunner().invoke(app, ["alerts", "test-fire", "--severity", "critical", "--message", "hello"])
        assert out.exit_code == 0, out.output
        assert "delivered" in out.stdout and receiver.bodies[0]["event"] == "test"
        assert receiver.bodies[0]["text"] == ":rotating_light: [TEST] CRITICAL test/test_fire: hello"
        receiver.fail, receiver.attempts = 100, 0
        failed = CliRunner().invoke(app, ["alerts", "test-fire"])
        assert failed.exit_code == 1 and "FAILED" in failed.stdout
        gb.configure(store=None, trail_dir=None)
        assert gb.health()["alerts"]["dead_letters"] == 1
    finally:
        old = notifiers.set_delivery(None)
        if old is not None:
            old.close()
