"""Evaluators: each built-in on known cases; the LLM judge through the real openai / anthropic SDKs on a mocked
transport, its call's cost recorded on the stored trace."""

from __future__ import annotations

import json

import httpx
import pytest
from rapidfuzz import fuzz

from glassbox.errors import GlassboxError
from glassbox.evaluation.datasets import Case
from glassbox.evaluation.evaluators import (
    Contains,
    EmbeddingSimilarity,
    ExactMatch,
    JsonSchemaValid,
    LLMJudge,
    NumericTolerance,
    RegexMatch,
    StringSimilarity,
    evaluate_one,
    parse_verdict,
    run_evaluators,
)
from glassbox.model import Span, Trace


def trace(output, input_="What is the refund window?"):
    t = Trace("d" * 32, "qa", 1_000)
    t.end_ns, t.status, t.project = 2_000_000, "complete", "default"
    root = Span(t.trace_id, "a" * 16, None, "qa", "trace", 1_000)
    root.end_ns, root.status = 2_000_000, "ok"
    t.root_span_id, t.spans, t.input, t.output = root.span_id, [root], input_, output
    return t


def case(expected=None):
    return Case("c", "q", expected_output=expected)


def test_exact_contains_regex():
    assert ExactMatch().evaluate(case(" 30 days "), trace("30 days")).passed is True
    assert ExactMatch().evaluate(case("30 Days"), trace("30 days")).passed is False
    assert ExactMatch(case_sensitive=False).evaluate(case("30 Days"), trace("30 days")).passed is True
    assert ExactMatch().evaluate(case(None), trace("x")) is None  # nothing to compare with
    s = Contains(["30 days", "receipt"]).evaluate(case(), trace("Refunds within 30 DAYS."))
    assert s.value == 0.5 and s.passed is False and s.comment == "missing: receipt"
    assert Contains(["30 days", "receipt"], mode="any").evaluate(case(), trace("within 30 days")).passed
    assert RegexMatch(r"\d+ days").evaluate(None, trace({"answer": "in 30 days"})).passed
    assert not RegexMatch(r"^\d+$", fullmatch=True).evaluate(None, trace("30 days")).passed
    with pytest.raises(GlassboxError, match="bad pattern"):
        RegexMatch("(")


def test_json_schema():
    schema = {
        "type": "object",
        "required": ["answer", "sources"],
        "properties": {"answer": {"type": "string"}, "sources": {"type": "array", "minItems": 1}},
    }
    ev = JsonSchemaValid(schema)
    assert ev.evaluate(None, trace({"answer": "x", "sources": ["a"]})).passed
    bad = ev.evaluate(None, trace('{"answer": 3, "sources": []}'))
    assert not bad.passed and bad.comment.startswith("2 schema error(s); first at answer: 3 is not of type 'string'")
    assert ev.evaluate(None, trace("not json")).comment.startswith("output is not JSON")
    with pytest.raises(GlassboxError, match="not a valid schema"):
        JsonSchemaValid({"type": "nonsense"})


def test_numeric_and_field():
    ev = NumericTolerance(abs_tol=0.01, field="total")
    assert ev.evaluate(Case("c", "q", expected_output={"total": 10.0}), trace({"total": 10.005})).passed
    miss = ev.evaluate(Case("c", "q", expected_output={"total": 10.0}), trace({"total": 10.5}))
    assert not miss.passed and miss.dimensions["abs_error"] == pytest.approx(0.5)
    assert not NumericTolerance().evaluate(case(1), trace("one")).passed


def test_string_similarity_is_rapidfuzz():
    a, b = "Refunds are accepted within 30 days.", "Refunds accepted within thirty days."
    s = StringSimilarity(threshold=0.5).evaluate(case(b), trace(a))
    assert s.value == pytest.approx(fuzz.ratio(a, b) / 100)
    assert s.passed is (s.value >= 0.5)
    tok = StringSimilarity(method="token_set_ratio").evaluate(case("b a"), trace("a b"))
    assert tok.value == 1.0
    with pytest.raises(GlassboxError, match="method"):
        StringSimilarity(method="cosine")


def test_embedding_similarity_uses_the_users_function():
    vectors = {"cat": [1.0, 0.0], "kitten": [0.8, 0.6], "car": [0.0, 1.0]}
    ev = EmbeddingSimilarity(lambda text: vectors[text], threshold=0.7)
    near = ev.evaluate(case("kitten"), trace("cat"))
    assert near.value == pytest.approx(0.8) and near.passed
    assert not ev.evaluate(case("car"), trace("cat")).passed


def test_a_raising_evaluator_is_a_failed_score():
    def broken(case, trace):
        raise KeyError("field")

    s = evaluate_one(broken, None, trace("x"))
    assert s.name == "broken" and s.passed is False and "KeyError" in s.comment


def test_parse_verdict():
    assert parse_verdict('{"score": 0.7, "reason": "ok"}') == (0.7, "ok")
    assert parse_verdict('Sure! {"score": 3, "reason": "x"} done') == (1.0, "x")
    assert parse_verdict("no json") == (None, None)


def _openai_client(reply: str, seen: list):
    import openai

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 30, "total_tokens": 1230},
            },
        )

    return openai.OpenAI(
        api_key="test",
        base_url="http://judge.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def test_llm_judge_with_openai_records_its_cost_on_the_trace(store):
    t = trace("Refunds are accepted within 30 days of purchase.")
    store.write_traces([t])
    seen: list = []
    judge = LLMJudge(
        _openai_client('{"score": 0.9, "reason": "grounded and complete"}', seen),
        "Is the answer correct and grounded?",
        model="gpt-4o-mini",
        threshold=0.8,
    )
    scores = run_evaluators(store, [judge], Case("c", "q", expected_output="30 days"), t)
    assert [(s.name, s.value, s.passed, s.comment, s.source) for s in scores] == [
        ("llm_judge", 0.9, True, "grounded and complete", "llm_judge")
    ]
    prompt = seen[0]["messages"]
    assert "Is the answer correct and grounded?" in prompt[0]["content"]
    assert "Reference answer:\n30 days" in prompt[1]["content"]
    stored = store.get_trace(t.trace_id)
    call = next(s for s in stored.spans if s.name == "judge:llm_judge")
    assert call.kind == "llm" and call.tokens_in == 1200 and call.tokens_out == 30
    assert call.cost_usd is not None and call.cost_usd > 0
    assert stored.cost_usd == pytest.approx(call.cost_usd)
    assert any(s.name == "llm_judge" and s.value == 0.9 for s in stored.scores)


def test_llm_judge_with_anthropic_and_a_bad_reply():
    import anthropic
    import httpx2  # the anthropic SDK's own httpx

    def handler(request):
        return httpx2.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-3-5-haiku-20241022",
                "content": [{"type": "text", "text": "I think it is fine."}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 500, "output_tokens": 12},
            },
        )

    client = anthropic.Anthropic(
        api_key="test", base_url="http://judge.test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    t = trace("answer")
    judge = LLMJudge(client, "Grade it.", model="claude-3-5-haiku-20241022")
    s = judge.evaluate(None, t)
    assert s.passed is False and s.comment.startswith("the judge's reply was not a verdict")
    assert judge.last_call.tokens_in == 500 and judge.last_call.cost_usd > 0
    with pytest.raises(GlassboxError, match="needs a rubric"):
        LLMJudge(client, " ", model="m")
