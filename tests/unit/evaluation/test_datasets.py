"""Datasets: line-by-line checks, content-hash versions, export round trip, cases from traces (both backends)."""

from __future__ import annotations

import json

import pytest

from glassbox.errors import GlassboxError
from glassbox.evaluation import datasets
from glassbox.evaluation.datasets import Case, DatasetError, DatasetNotFound

SEED_000 = (
    '{"question": "What is Python?", "expected_workflow": "search_qa", '
    '"expected_fields": ["final_answer", "citations"], "quality_thresholds": {"min_answer_length": 50}}\n'
    '{"id": "refund", "input": {"q": "refund?"}, "expected_output": "30 days", "tags": ["billing"], '
    '"metadata": {"owner": "ops"}}\n'
)


def test_seed_000_cases_parse():
    cases = datasets.parse_jsonl(SEED_000)
    assert [c.input for c in cases] == ["What is Python?", {"q": "refund?"}]
    first = cases[0]
    assert first.expected_workflow == "search_qa"
    assert first.expected_fields == ["final_answer", "citations"]
    assert first.quality_thresholds == {"min_answer_length": 50}
    assert len(first.id) == 12  # no id given: a content hash, stable across pushes
    assert cases[1].id == "refund" and cases[1].tags == ["billing"] and cases[1].metadata == {"owner": "ops"}


def test_every_bad_line_is_reported_with_line_and_field():
    text = (
        '{"question": "ok"}\n'
        "\n"
        '{"question": 5}\n'
        "not json\n"
        '{"expected_fields": "final_answer", "question": "x"}\n'
        '{"question": "y", "quality_thresholds": {"answer_length": 3, "min_x": "big"}}\n'
        '{"id": "a", "question": "z"}\n'
        '{"id": "a", "question": "w"}\n'
        '{"question": "q", "colour": "red"}\n'
        "[1, 2]\n"
        '{"tags": ["x"]}\n'
    )
    with pytest.raises(DatasetError) as err:
        datasets.parse_jsonl(text, "cases.jsonl")
    got = [(p.line, p.field) for p in err.value.problems]
    assert got == [
        (3, "question"),
        (4, None),
        (5, "expected_fields"),
        (6, "quality_thresholds"),
        (6, "quality_thresholds"),
        (8, "id"),
        (9, "colour"),
        (10, None),
        (11, "input"),
    ]
    message = str(err.value)
    assert message.startswith("cases.jsonl: 9 bad lines: line 3, field 'question': expected a string")
    assert "(and 4 more)" in message


def test_csv_cases_with_lists_objects_and_threshold_columns():
    text = (
        "id,question,expected_workflow,expected_fields,min_answer_length,metadata\n"
        'c1,What is Python?,search_qa,"final_answer;citations",50,"{""owner"": ""ops""}"\n'
        "c2,Hi,,,,\n"
    )
    cases = datasets.parse_csv(text)
    assert cases[0].expected_fields == ["final_answer", "citations"]
    assert cases[0].quality_thresholds == {"min_answer_length": 50.0}
    assert cases[0].metadata == {"owner": "ops"}
    assert cases[1].expected_workflow is None and cases[1].quality_thresholds == {}
    with pytest.raises(DatasetError, match=r"line 2, field 'min_answer_length': expected a number"):
        datasets.parse_csv("question,min_answer_length\nhello,lots\n")


def test_empty_file_is_an_error():
    with pytest.raises(DatasetError, match="no cases"):
        datasets.parse_jsonl("\n\n")


def test_push_versions_by_content_and_export_round_trips(store, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(SEED_000)
    ds, created = datasets.push(store, path, "support")
    assert created and len(ds) == 2 and ds.source == str(path)
    again, created_again = datasets.push(store, path, "support")
    assert not created_again and again.id == ds.id and again.version == ds.version
    got = datasets.get(store, "support")
    assert [c.to_dict() for c in got.cases] == [c.to_dict() for c in ds.cases]
    exported = datasets.to_jsonl(got.cases)
    assert datasets.parse_jsonl(exported)[0].to_dict() == ds.cases[0].to_dict()
    assert datasets.content_version(datasets.parse_jsonl(exported)) == ds.version
    # a change is a new version; the older one stays reachable by (a prefix of) its version
    v2, created = datasets.push(store, [*ds.cases, Case("extra", "more?")], "support")
    assert created and v2.version != ds.version
    assert len(datasets.get(store, "support")) == 3
    assert len(datasets.get(store, "support", ds.version[:6])) == 2
    listed = datasets.list_datasets(store)
    assert [(r["name"], r["cases"]) for r in listed] == [("support", 3), ("support", 2)]
    with pytest.raises(DatasetNotFound, match="no dataset 'nope'"):
        datasets.get(store, "nope")
    with pytest.raises(DatasetNotFound, match="version 'ffff'"):
        datasets.get(store, "support", "ffff")


def test_nothing_is_written_when_a_file_has_a_bad_line(store, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine"}\n{"question": 1}\n')
    with pytest.raises(DatasetError):
        datasets.push(store, path, "broken")
    assert datasets.list_datasets(store) == []


def test_add_case_from_a_stored_trace(store):
    from glassbox.model import Span, Trace

    t = Trace("ab" * 16, "qa", 1_000)
    t.project, t.workflow, t.status, t.end_ns = "default", "search_qa", "complete", 2_000_000
    t.input, t.output = "What is Python?", {"final_answer": "A language", "citations": ["[1]"]}
    root = Span(t.trace_id, "1" * 16, None, "qa", "trace", 1_000)
    root.end_ns = 2_000_000
    t.root_span_id, t.spans = root.span_id, [root]
    store.write_traces([t])
    ds = datasets.add_from_trace(store, "from-prod", t.trace_id[:8])
    case = ds.cases[0]
    assert case.input == "What is Python?" and case.expected_workflow == "search_qa"
    assert case.expected_fields == ["citations", "final_answer"]
    assert case.metadata == {"source_trace": t.trace_id}
    with pytest.raises(GlassboxError, match="already has a case"):
        datasets.add_from_trace(store, "from-prod", t.trace_id)
    assert json.loads(datasets.to_jsonl(ds.cases))["expected_output"]["final_answer"] == "A language"
