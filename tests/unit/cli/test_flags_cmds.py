"""glassbox flags / review, and show --verbose's scores by dimension and flags: both stores, JSON, exit codes."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.model import Alert, Score
from glassbox.store.alerts import add_alerts

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analysis"))
from runs_builder import make_run

runner = CliRunner()
T1, T2 = f"{1:032x}", f"{2:032x}"


def run(*args: str):
    return runner.invoke(app, list(args))


def alert(
    id_: str,
    rule: str,
    message: str,
    trace_id: str | None,
    at_s: int,
    project: str = "p",
    source: str = "calibration",
    severity: str = "warning",
) -> Alert:
    return Alert(id_, source, rule, message, severity, {"subject": rule}, trace_id, project, at_s * 10**9)


@pytest.fixture
def filled(store, store_url):
    first = make_run(1, ago=timedelta(hours=3), quality=0.9, passed=True, dims={"grounding": 0.9})
    second = make_run(2, ago=timedelta(hours=2), quality=0.3, passed=False, dims={"grounding": 0.2, "clarity": 0.8})
    second.scores.append(
        Score(
            "s2rubric00000000",
            "rubric",
            0.5,
            1.0,
            None,
            "llm_judge",
            {"completeness": 0.25, "tone": 0.75},
            None,
            None,
            second.start_ns + 20,
        )
    )
    second.scores.append(
        Score("s2signal00000000", "citation_count", 2.0, None, None, "heuristic", {}, None, None, second.start_ns + 30)
    )
    store.write_traces([first, second])
    add_alerts(
        store,
        [
            alert(
                "a1b2c3d4e5f60718",
                "repeated_principle_failure",
                "Principle grounding has scored below threshold 0.6 3 times\nin the last 7 days",
                T2,
                1_700_000_000,
            ),
            alert(
                "a1b2ffff00000001",
                "quality_gate_regression",
                "Quality gate failed for qa run after it passed",
                T2,
                1_700_000_100,
                severity="critical",
            ),
            alert("b0b0b0b0b0b0b0b0", "daily", "daily budget at 80%", None, 1_700_000_200, source="budget"),
            alert("c0c0c0c0c0c0c0c0", "dimension_disparity", "other project", None, 1_700_000_300, project="q"),
        ],
        flag_traces=True,
    )
    return store_url


def test_alerts_lists_every_firing_alert_newest_first(filled):
    out = run("alerts", "--store", filled, "--json")
    assert out.exit_code == 0, out.output
    # every source by default (a budget alert is not hidden behind --source any)
    assert [a["id"] for a in json.loads(out.stdout)] == [
        "c0c0c0c0c0c0c0c0",
        "b0b0b0b0b0b0b0b0",
        "a1b2ffff00000001",
        "a1b2c3d4e5f60718",
    ]
    assert json.loads(run("flags", "--store", filled, "--json").stdout) == json.loads(out.stdout)  # the old name
    only_p = json.loads(run("flags", "--store", filled, "--json", "--project", "p").stdout)
    assert {a["project"] for a in only_p} == {"p"}
    gate = json.loads(run("flags", "--store", filled, "--json", "--rule", "quality_gate_regression").stdout)
    assert [a["severity"] for a in gate] == ["critical"]
    on_run = json.loads(run("flags", "--store", filled, "--json", "--trace", T2).stdout)
    assert len(on_run) == 2
    assert [
        a["source"] for a in json.loads(run("flags", "--store", filled, "--json", "--source", "budget").stdout)
    ] == ["budget"]
    assert len(json.loads(run("alerts", "--store", filled, "--json", "--source", "calibration").stdout)) == 3
    text = run("flags", "--store", filled)
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("a1b2c3d4e5f60718"))
    assert "warning  repeated_principle_failure" in lines[i]
    assert "0.6 3 times in the last 7" in lines[i + 1]  # the message's own newline folded
    assert "(run 000000000000, project p)" in " ".join(text.stdout.split())


def test_flags_ack_by_prefix_then_listed_only_with_all(filled):
    acked = run("flags", "--store", filled, "--ack", "A1B2C3")
    assert acked.exit_code == 0, acked.output
    assert acked.stdout.startswith("acknowledged a1b2c3d4e5f60718: Principle grounding")
    ids = [a["id"] for a in json.loads(run("flags", "--store", filled, "--json").stdout)]
    assert "a1b2c3d4e5f60718" not in ids
    every = json.loads(run("flags", "--store", filled, "--json", "--all").stdout)
    assert {a["id"]: a["acknowledged"] for a in every}["a1b2c3d4e5f60718"] is True
    again = run("flags", "--store", filled, "--ack", "a1b2c3d4e5f60718", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["acknowledged"] is True  # idempotent
    assert "acknowledged" in run("flags", "--store", filled, "--all").stdout


@pytest.mark.parametrize(
    ("ack", "why"),
    [
        ("ffffffff", "does not exist"),
        ("a1b2", "is ambiguous"),
        ("a1", "at least 4 characters"),
        ("x'; DROP TABLE alerts; --", "does not exist"),
    ],
)
def test_flags_ack_of_a_bad_id_is_one_line_and_exit_1(filled, ack, why):
    out = run("flags", "--store", filled, "--ack", ack)
    assert out.exit_code == 1
    assert out.stderr.startswith("error: alert") and why in out.stderr and out.stderr.count("\n") == 1
    assert len(json.loads(run("flags", "--store", filled, "--json").stdout)) == 4  # nothing changed


def test_flags_on_an_empty_store_and_a_missing_one(store, store_url, tmp_path):
    store.ready()
    out = run("flags", "--store", store_url)
    assert out.exit_code == 0 and "no open alerts" in out.stdout
    assert run("flags", "--store", store_url, "--json").stdout.strip() == "[]"
    missing = run("flags", "--store", f"sqlite:///{tmp_path}/nope.db")
    assert missing.exit_code == 1 and missing.stderr.startswith("error: no store")


def test_review_notes_flag_and_unflag(filled, store):
    out = run("review", T1, "--notes", "looks fine <b>really</b>", "--flag", "--store", filled, "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {
        "trace_id": T1,
        "flagged_for_review": True,
        "review_notes": "looks fine <b>really</b>",
    }
    assert store.get_trace(T1).review_notes == "looks fine <b>really</b>"
    text = run("review", T2, "--unflag", "--store", filled)
    assert text.exit_code == 0 and text.stdout.strip() == f"{T2}: not flagged"
    assert store.get_trace(T2).flagged_for_review is False
    assert store.get_trace(T2).review_notes is None  # --unflag alone leaves the notes


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([T1], 2, "nothing to do"),
        ([T1, "--flag", "--unflag"], 2, "contradict"),
        (["f" * 32, "--notes", "x"], 1, "no trace"),
        (["zz", "--notes", "x"], 1, "no trace"),
    ],
)
def test_review_bad_input(filled, store, args, code, message):
    out = run("review", *args, "--store", filled)
    assert out.exit_code == code and message in out.stderr and out.stderr.count("\n") == 1
    assert store.get_trace(T1).review_notes is None


def test_show_verbose_has_scores_by_dimension_signals_and_flags(filled, store):
    run("review", T2, "--notes", "retrieval missed the policy", "--store", filled)
    out = run("show", T2, "--verbose", "--store", filled)
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "grounding" in text and "clarity" in text and "<gap" in text  # the quality score's dimensions
    rubric = next(line for line in text.splitlines() if "rubric dimensions:" in line)  # every other score too
    assert "completeness 0.25" in rubric and "tone 0.75" in rubric  # (PostgreSQL's jsonb reorders keys)
    assert "Signals: citation_count 2" in text
    assert "Alerts & review" in text and "repeated_principle_failure" in text and "quality_gate_regression" in text
    assert "review: flagged — retrieval missed the policy" in text
    compact = run("show", T1, "--store", filled).stdout
    assert "Alerts & review" not in compact
