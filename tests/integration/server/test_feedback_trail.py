"""Feedback posted over REST reaches the server's audit trail (``serve --trail-dir``), as the SDK's feedback reaches
its trail: ``glassbox import`` of that trail into an empty store gives the same feedback back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from runs_builder import make_run
from typer.testing import CliRunner

from glassbox.cli.app import app as cli
from glassbox.server.app import create_app
from glassbox.store.store import Store

TID = f"{1:032x}"


def _server(tmp_path: Path, **options: object) -> TestClient:
    run = make_run(1, ago=timedelta(days=2), now=datetime.now(UTC).replace(tzinfo=None))
    app = create_app(f"sqlite:///{tmp_path}/served.db", jobs=False, calibration=False, **options)
    app.state.store.write_traces([run])
    return TestClient(app)


def test_feedback_posted_over_rest_is_restored_from_the_trail_by_glassbox_import(tmp_path):
    trail = tmp_path / "trail"
    with _server(tmp_path, trail_dir=str(trail)) as client:
        posted = [
            client.post("/api/v1/feedback", json={"trace_id": TID, "rating": 4, "scale": "1-5", "user_id": "u1"}),
            client.post("/api/v1/feedback/implicit", json={"trace_id": TID[:8], "signal": "share"}),  # an id prefix
            client.post("/feedback", json={"trace_id": TID, "comment": "wrong answer", "sentiment": "negative"}),
        ]
        assert [r.status_code for r in posted] == [201, 201, 201], [r.text for r in posted]
        served = {f.id: f.to_dict() for f in client.app.state.store.get_trace(TID).feedback}
        run_day = datetime.fromtimestamp(client.app.state.store.get_trace(TID).start_ns / 1e9, UTC)
    # Filed under the run's day, so retention (glassbox gc) keeps it as long as the run's own trail lines.
    assert [p.name for p in trail.iterdir()] == [f"{run_day:%Y-%m-%d}.jsonl"]

    rebuilt = f"sqlite:///{tmp_path}/rebuilt.db"
    result = CliRunner().invoke(cli, ["import", str(trail), "--store", rebuilt])
    assert result.exit_code == 0, result.output
    back = {f.id: f.to_dict() for f in Store(rebuilt).get_trace(TID).feedback}
    assert back == served and {r.json()["id"] for r in posted} == set(back)
    assert {(f["signal"], f["scale"], f["user_id"]) for f in back.values()} >= {
        (None, "1-5", "u1"),
        ("share", None, None),
    }


def test_without_a_trail_dir_nothing_is_written_and_a_failing_trail_does_not_refuse_feedback(tmp_path, caplog):
    with _server(tmp_path) as client:
        assert client.post("/api/v1/feedback", json={"trace_id": TID, "rating": 1}).status_code == 201
    assert not (Path.cwd() / ".glassbox" / "traces").exists()

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    with _server(tmp_path, trail_dir=str(blocked)) as client, caplog.at_level(logging.WARNING, logger="glassbox"):
        r = client.post("/api/v1/feedback", json={"trace_id": TID, "rating": 0})
        assert r.status_code == 201  # stored: a retry would store it twice
        assert r.json()["id"] in {f.id for f in client.app.state.store.get_trace(TID).feedback}
    assert "not written to the audit trail" in caplog.text
