"""One window rule for every cost grouping (calls follow their run), the trend over halves of the
window, and the gate of a run scored only by a non-`quality` score — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from glassbox.analysis.costs import cost_report
from glassbox.analysis.query import Query
from glassbox.model import Score, Span, Trace
from glassbox.store.annotations import add_score

NOW = datetime(2026, 11, 24, 12, 0, 0)


def _ns(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp() * 1e9)


def _run(i: int, start: datetime, calls: list[tuple[datetime, str, float]], scores: list[Score] = ()) -> Trace:
    t = Trace(f"{i:032x}", "run")
    t.project, t.workflow, t.status = "p", "qa", "complete"
    t.start_ns = _ns(start)
    t.end_ns = max([_ns(start) + 1000] + [_ns(c[0]) + 1000 for c in calls])
    root = Span(t.trace_id, f"{i:08x}00000000", None, "run", "stage", t.start_ns)
    root.end_ns, root.status = t.end_ns, "ok"
    t.root_span_id = root.span_id
    t.spans.append(root)
    for j, (at, model, usd) in enumerate(calls):
        s = Span(t.trace_id, f"{i:08x}{j + 1:08x}", root.span_id, f"call-{j}", "llm", _ns(at))
        s.end_ns, s.status = _ns(at) + 1000, "ok"
        s.model, s.cost_usd, s.tokens_in, s.tokens_out = model, usd, 100, 10
        t.spans.append(s)
    t.cost_source = "priced" if calls else None
    t.scores = list(scores)
    return t


def test_groups_add_up_to_the_total_at_the_window_edge(store) -> None:
    start = NOW - timedelta(days=1)
    store.write_traces(
        [
            # started before the window; its call started inside it: the run is out, so is its call
            _run(1, start - timedelta(minutes=1), [(start + timedelta(minutes=2), "gpt-4o", 0.05)]),
            # started inside the window; its call started after the window's end: the run is in, so is its call
            _run(2, NOW - timedelta(minutes=1), [(NOW + timedelta(minutes=1), "gpt-4o-mini", 0.003)]),
            _run(
                3,
                NOW - timedelta(hours=3),
                [(NOW - timedelta(hours=3), "gpt-4o", 0.07), (NOW - timedelta(hours=3), "gpt-4o-mini", 0.001)],
            ),
        ]
    )
    for by in ("model", "stage", "workflow", "day"):
        r = cost_report(store, days=1, by=by, until=NOW)
        assert r.runs == 2 and r.cost_usd == pytest.approx(0.074, abs=1e-12), by
        assert sum(g.cost_usd for g in r.groups) == pytest.approx(r.cost_usd, abs=1e-12), by
        assert sum(g.tokens_in for g in r.groups) == r.tokens_in, by
    calls = cost_report(store, days=1, by="model", until=NOW)
    assert {g.key: g.count for g in calls.groups} == {"gpt-4o": 1, "gpt-4o-mini": 2}


def test_trend_compares_halves_of_the_window_not_of_its_day_buckets(store) -> None:
    runs = [(9.5, 1.0), (8.5, 1.0), (7.5, 1.0), (1.5, 2.0), (0.5, 4.0)]  # (days ago, cost)
    store.write_traces(
        [
            _run(i + 1, NOW - timedelta(days=d), [(NOW - timedelta(days=d), "gpt-4o", c)])
            for i, (d, c) in enumerate(runs)
        ]
    )
    r = cost_report(store, days=10, by="day", until=NOW)
    # first half (10..5 days ago): $1, $1, $1 -> $1/run; second half: $2, $4 -> $3/run
    assert r.trend_pct == pytest.approx(200.0)
    # (halves of the five day buckets would give 2 days vs 3: $1/run vs $2.33/run, +133.3 %)


def _score(name: str, value: float, passed: bool | None, at: int, source: str = "llm_judge") -> Score:
    return Score(f"{name}{at:08d}"[:16], name, value, 5.0, passed, source, {}, None, None, at)


def test_a_run_scored_only_by_another_score_is_gated_by_it(store) -> None:
    store.write_traces(
        [
            _run(1, NOW - timedelta(hours=1), [], [_score("faithfulness", 4, True, 1)]),
            _run(2, NOW - timedelta(hours=2), [], [_score("faithfulness", 2, False, 2)]),
            _run(
                3, NOW - timedelta(hours=3), [], [_score("quality", 0.9, True, 3), _score("faithfulness", 1, False, 4)]
            ),
            _run(4, NOW - timedelta(hours=4), [], [_score("signal", 1, False, 5, source="heuristic")]),
        ]
    )
    q = Query(store)
    got = {t: q.trace(f"{t:032x}") for t in (1, 2, 3, 4)}
    assert [got[t].gate_passed for t in (1, 2, 3, 4)] == [True, False, True, None]
    summary = q.summary(since=NOW - timedelta(days=1), until=NOW + timedelta(days=1))
    assert summary["pass_rate"] == pytest.approx(2 / 3)


def test_a_judged_score_added_later_gates_an_ungated_run(store) -> None:
    store.write_traces([_run(1, NOW - timedelta(hours=1), [])])
    add_score(store, f"{1:032x}", _score("faithfulness", 2, False, 7))
    assert Query(store).trace(f"{1:032x}").gate_passed is False
