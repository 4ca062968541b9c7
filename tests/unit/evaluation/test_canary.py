"""Canary checks: promote / hold / rollback along a recorded ramp, hooks over real HTTP and a real command, alerts."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from glassbox.evaluation import canary
from glassbox.evaluation.gate import GateError, list_verdicts

sys.path.insert(0, str(Path(__file__).resolve().parent))
from populations import population


@pytest.fixture
def releases(store):
    store.write_traces(population("v1", 300, seed=11))
    store.write_traces(population("v2", 300, seed=12))
    store.write_traces(population("v3", 300, seed=13, error_rate=0.15, latency=400.0))
    store.write_traces(population("v4", 5, seed=14))
    return store


def test_a_healthy_canary_is_promoted_step_by_step(releases):
    seen = []
    for _ in range(5):
        d = canary.check(releases, "v1", "v2", name="checkout")
        seen.append((d.decision, d.percent, d.next_percent))
    assert seen == [
        ("promote", 5.0, 25.0),
        ("promote", 25.0, 50.0),
        ("promote", 50.0, 100.0),
        ("promote", 100.0, None),
        ("promote", 100.0, None),
    ]
    assert d.complete
    steps = list_verdicts(releases, kind="canary", name="checkout")
    assert [(r["step"], r["percent"], r["verdict"]) for r in reversed(steps)][:4] == [
        (0, 5.0, "promote"),
        (1, 25.0, "promote"),
        (2, 50.0, "promote"),
        (3, 100.0, "promote"),
    ]


def test_a_bad_canary_is_rolled_back_with_reasons_and_an_alert(releases):
    from glassbox.store.alerts import list_alerts

    d = canary.check(releases, "v1", "v3", name="search")
    assert d.decision == "rollback"
    assert any("error_rate rose" in r for r in d.verdict.reasons)
    alerts = list_alerts(releases, source="canary")
    assert len(alerts) == 1 and alerts[0].severity == "critical" and "rollback" in alerts[0].message
    # after a rollback the ramp starts over
    assert canary.current_step(releases, "search", canary.RAMP) == 0


def test_not_enough_data_holds(releases):
    d = canary.check(releases, "v1", "v4")
    assert d.decision == "hold" and d.verdict.verdict == "not_enough_data"
    assert d.name == "v1->v4"
    again = canary.check(releases, "v1", "v4")
    assert again.step == 0  # a hold stays on its step


def test_ramp_parsing():
    assert canary.parse_ramp("5,25,50,100") == (5.0, 25.0, 50.0, 100.0)
    assert canary.parse_ramp("10, 100") == (10.0, 100.0)
    for bad in ("5,25,50", "50,25,100", "x", "0,100", ""):
        with pytest.raises(GateError, match="--ramp"):
            canary.parse_ramp(bad)


class _Hook(BaseHTTPRequestHandler):
    bodies: list = []
    fail_first = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.bodies.append(body)
        code = 503 if len(_Hook.bodies) <= _Hook.fail_first else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        return None


@pytest.fixture
def hook_server():
    _Hook.bodies, _Hook.fail_first = [], 2
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_is_retried_until_it_is_taken(releases, hook_server):
    d = canary.check(releases, "v1", "v2", name="hooked", webhook=hook_server)
    assert d.hooks == [{"hook": "webhook", "ok": True, "status": 200, "attempts": 3}]
    assert len(_Hook.bodies) == 3 and _Hook.bodies[-1]["decision"] == "promote"
    assert _Hook.bodies[-1]["verdict"]["metrics"][0]["name"] == "error_rate"


def test_webhook_gives_up_on_a_dead_endpoint():
    res = canary.post_webhook("http://127.0.0.1:9/nothing", {"decision": "hold"}, attempts=2, backoff=0.01)
    assert res["ok"] is False and res["attempts"] == 2


def test_command_hook_gets_the_decision(releases, tmp_path):
    script = tmp_path / "hook.py"
    out = tmp_path / "got.json"
    script.write_text(
        "import json, os, sys\n"
        f"doc = json.load(sys.stdin)\nopen({str(out)!r}, 'w').write(json.dumps("
        "{'env': os.environ['GLASSBOX_DECISION'], 'doc': doc['decision']}))\n"
    )
    d = canary.check(releases, "v1", "v3", name="cmd", command=f"{sys.executable} {script}")
    assert d.hooks[0]["ok"] is True
    assert json.loads(out.read_text()) == {"env": "rollback", "doc": "rollback"}
