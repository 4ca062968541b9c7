"""Heuristic quality signals (seed 000): values on known outputs; stored by the writer in the DB and the trail."""

from __future__ import annotations

import pytest

import glassbox as gb
from glassbox import quality_signals
from glassbox.quality_signals import NAMES, heuristic_signals
from glassbox.store.store import Store
from glassbox.store.trail import read_trail


def _trace(output, spans=(("retrieval", "retrieval", "ok"),), status="complete") -> gb.Trace:
    t = gb.Trace("a" * 32, "t")
    t.output, t.status, t.root_span_id = output, status, "r" * 16
    for i, (name, kind, st) in enumerate(spans):
        s = gb.Span(t.trace_id, f"{i:016x}", None, name, kind)
        s.status = st
        t.spans.append(s)
    return t


def test_citations_are_distinct_markers_links_and_urls():
    cited = "Refunds take 30 days [1]. See [the policy](https://example.com/refunds) and [2], or https://x.io/a. [1]"
    s = heuristic_signals(_trace(cited))
    assert s["citation_count"] == 4 and s["has_citations"] == 1.0  # [1] twice is one citation
    assert s["answer_length"] == len(cited)
    assert heuristic_signals(_trace("No sources (source: FAQ page 3)."))["citation_count"] == 1
    assert heuristic_signals(_trace("Array[index] and [1000] are not citations"))["citation_count"] == 0


def test_the_pipelines_own_citation_and_section_lists_count():
    s = heuristic_signals(_trace({"final_answer": "Python is a language.", "citations": ["a", "b", "c"]}))
    assert (s["citation_count"], s["has_citations"], s["answer_length"]) == (3.0, 1.0, 21.0)
    lesson = heuristic_signals(_trace({"content": "x", "sections": [{"title": "Warm-up"}]}))
    assert lesson["has_structure"] == 1.0 and lesson["citation_count"] == 0.0
    assert heuristic_signals(_trace({"answer": "y", "sections": []}))["has_structure"] == 0.0


@pytest.mark.parametrize(
    ("text", "structured"),
    [
        ("# Lesson\n\n## Warm-up\nread aloud", True),  # two headings
        ("Steps:\n- read\n- discuss\n- write\n", True),  # three list items
        ("1. read\n2) discuss\n3. write", True),
        ("Objectives:\nlearn\nActivities:\nplay", True),  # two labelled sections
        ("# Only one heading\nand prose", False),
        ("- one\n- two", False),
        ("A plain paragraph: with a colon inside.", False),
    ],
)
def test_structure(text, structured):
    assert heuristic_signals(_trace(text))["has_structure"] == float(structured)


def test_search_and_failure():
    assert heuristic_signals(_trace("x", spans=(("web_search", "tool", "ok"),)))["has_search"] == 1.0
    assert heuristic_signals(_trace("x", spans=(("fetch", "retrieval", "ok"),)))["has_search"] == 1.0
    assert heuristic_signals(_trace("x", spans=(("outline", "llm", "ok"),)))["has_search"] == 0.0
    recovered = heuristic_signals(_trace("x", spans=(("llm", "llm", "error"), ("llm", "llm", "ok"))))
    assert recovered["failure_occurred"] == 1.0  # a stage failed even though the run completed
    assert heuristic_signals(_trace(None, spans=(), status="failed"))["failure_occurred"] == 1.0
    ok = heuristic_signals(_trace(None, spans=()))
    assert ok == {
        "citation_count": 0.0,
        "answer_length": 0.0,
        "has_search": 0.0,
        "has_citations": 0.0,
        "has_structure": 0.0,
        "failure_occurred": 0.0,
    }


def test_other_outputs_are_measured_as_their_json():
    assert heuristic_signals(_trace({"rows": [1, 2]}))["answer_length"] == len('{"rows":[1,2]}')
    assert heuristic_signals(_trace(["a", "b"]))["answer_length"] > 0


def test_huge_outputs_are_scanned_only_so_far(monkeypatch):
    monkeypatch.setattr(quality_signals, "MAX_SCAN", 100)
    text = "x" * 200 + " [1]"
    s = heuristic_signals(_trace(text))
    assert s["answer_length"] == len(text) and s["citation_count"] == 0  # length counts all; scanning stops


def test_writer_stores_signals_in_the_store_and_the_trail(configured, tmp_path):
    with gb.trace("q") as plain:
        with gb.stage("search", kind="retrieval"):
            pass
        plain.output = "see [1] and [2]"
    with gb.trace("q") as judged:
        gb.score("quality", 0.7, passed=True)
        judged.output = "no sources"
    gb.flush()
    st = Store(configured)
    a, b = st.get_trace(plain.trace_id), st.get_trace(judged.trace_id)
    got = {s.name: s for s in a.scores if s.source == "heuristic"}
    assert set(got) == set(NAMES)
    assert (got["citation_count"].value, got["has_search"].value, got["has_citations"].max) == (2.0, 1.0, 1.0)
    assert a.quality_score is None  # signals describe a run; they are not its quality
    assert b.quality_score == 0.7 and next(s.value for s in b.scores if s.name == "citation_count") == 0.0
    (trail_file,) = (tmp_path / "traces").glob("*.jsonl")
    in_trail = {t.trace_id: t for _, t in read_trail(trail_file)}
    assert {s.name for s in in_trail[plain.trace_id].scores if s.source == "heuristic"} == set(NAMES)


def test_heuristics_can_be_turned_off(configured):
    gb.configure(store=configured, trail_dir=None, heuristics=False)
    with gb.trace("q") as t:
        t.output = "x [1]"
    gb.flush()
    assert Store(configured).get_trace(t.trace_id).scores == []


def test_a_signal_that_breaks_costs_nothing_else(configured, monkeypatch, caplog):
    def broken(trace, text):
        raise RuntimeError("bad regex day")

    monkeypatch.setitem(quality_signals.SIGNALS, "citation_count", broken)

    @gb.scorer("still_runs")
    def still_runs(trace):
        return 1.0

    try:
        with gb.trace("q") as t:
            t.output = "x"
        gb.flush()
        scores = Store(configured).get_trace(t.trace_id).scores
        assert [s.name for s in scores] == ["still_runs"]  # the trace, and the user's scorer, survive
        assert any("heuristic signals failed" in r.getMessage() for r in caplog.records)
    finally:
        from glassbox.scoring import unregister

        unregister("still_runs")


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("research", "stage", 0.0),
        ("researcher notes", "llm", 0.0),
        ("deep_research", "agent", 0.0),
        ("websearch", "tool", 0.0),
        ("searchlight", "stage", 0.0),
        ("web_search", "tool", 1.0),
        ("search-docs", "stage", 1.0),
        ("vectorSearch", "stage", 1.0),
        ("Search index", "stage", 1.0),
        ("searching the web", "agent", 1.0),
        ("BM25Search", "stage", 1.0),
        ("fetch", "retrieval", 1.0),
        ("lookup", "search", 1.0),
    ],
)
def test_has_search_matches_stage_kinds_and_whole_words(name, kind, expected):
    assert heuristic_signals(_trace("x", spans=((name, kind, "ok"),)))["has_search"] == expected
