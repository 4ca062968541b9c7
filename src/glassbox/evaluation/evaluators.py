"""Evaluators: one method, ``evaluate(case, trace) -> Score | None`` (``None``: nothing to judge).

Reference-based ones compare the run's output with ``case.expected_output``: ``ExactMatch``,
``Contains``, ``NumericTolerance``, ``StringSimilarity`` (rapidfuzz), ``EmbeddingSimilarity`` (your
embedding function). Reference-free ones look at the output alone: ``RegexMatch``, ``JsonSchemaValid``,
``LLMJudge`` (your own OpenAI- or Anthropic-compatible client and a rubric; the judge call's tokens
and cost are recorded on the trace as an ``llm`` stage). A plain function ``(case, trace) -> Score``
works wherever an evaluator does.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from glassbox.errors import GlassboxError
from glassbox.ids import new_record_id
from glassbox.model import Score, Span, Trace

if TYPE_CHECKING:
    from glassbox.evaluation.datasets import Case
    from glassbox.store.store import Store


def _text(value: Any) -> str:
    from glassbox.quality_signals import answer_text

    return answer_text(value)


def _score(
    name: str,
    value: float,
    passed: bool | None,
    comment: str | None = None,
    source: str = "rule",
    max_: float | None = 1.0,
    dims: dict[str, float] | None = None,
) -> Score:
    return Score(new_record_id(), name, float(value), max_, passed, source, dims or {}, comment, None, time.time_ns())


def _pick(value: Any, path: str | None) -> Any:
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


class Evaluator:
    """Base of the built-in evaluators: a name, an optional field of the output to look at, and a threshold."""

    name = "evaluator"
    source = "rule"

    def __init__(self, *, name: str | None = None, field: str | None = None, threshold: float | None = None) -> None:
        if name:
            self.name = name
        self.field = field
        self.threshold = threshold

    def output(self, trace: Trace) -> Any:
        return _pick(trace.output, self.field)

    def expected(self, case: Case | None) -> Any:
        return None if case is None else _pick(case.expected_output, self.field)

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        raise NotImplementedError

    def __call__(self, case: Case | None, trace: Trace) -> Score | None:
        return self.evaluate(case, trace)

    def _judge(self, value: float, comment: str | None = None, default_threshold: float = 1.0) -> Score:
        threshold = default_threshold if self.threshold is None else self.threshold
        return _score(self.name, value, value >= threshold, comment, self.source)


class ExactMatch(Evaluator):
    """1 when the output (as text, stripped; ``case_sensitive=False`` folds case) equals the expected one."""

    name = "exact_match"

    def __init__(self, *, case_sensitive: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.case_sensitive = case_sensitive

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        expected = self.expected(case)
        if expected is None:
            return None
        got, want = self.output(trace), expected
        if not isinstance(got, str) or not isinstance(want, str):
            ok = got == want
        else:
            a, b = got.strip(), want.strip()
            ok = a == b if self.case_sensitive else a.casefold() == b.casefold()
        return _score(self.name, 1.0 if ok else 0.0, ok, None if ok else "output differs from the expected output")


class Contains(Evaluator):
    """1 when the output text contains every (``mode="all"``) or any of the needles (default: the expected output)."""

    name = "contains"

    def __init__(
        self, needles: str | Sequence[str] | None = None, *, mode: str = "all", case_sensitive: bool = False, **kw: Any
    ) -> None:
        super().__init__(**kw)
        if mode not in ("all", "any"):
            raise GlassboxError(f"Contains mode: expected all or any, got {mode!r}")
        self.needles = [needles] if isinstance(needles, str) else list(needles or [])
        self.mode, self.case_sensitive = mode, case_sensitive

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        needles = self.needles or ([_text(self.expected(case))] if self.expected(case) is not None else [])
        if not needles:
            return None
        hay = _text(self.output(trace))
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        found = [n for n in needles if fold(n) in fold(hay)]
        missing = [n for n in needles if n not in found]
        ok = bool(found) if self.mode == "any" else not missing
        return _score(self.name, len(found) / len(needles), ok, None if ok else f"missing: {', '.join(missing)}")


class RegexMatch(Evaluator):
    """1 when the output text matches ``pattern`` (``re.search``; ``fullmatch=True`` for the whole text)."""

    name = "regex"

    def __init__(self, pattern: str, *, flags: int = 0, fullmatch: bool = False, **kw: Any) -> None:
        super().__init__(**kw)
        try:
            self.pattern = re.compile(pattern, flags)
        except re.error as exc:
            raise GlassboxError(f"RegexMatch: bad pattern {pattern!r}: {exc}") from None
        self.fullmatch = fullmatch

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        text = _text(self.output(trace))
        ok = bool(self.pattern.fullmatch(text) if self.fullmatch else self.pattern.search(text))
        return _score(self.name, 1.0 if ok else 0.0, ok, None if ok else f"no match for /{self.pattern.pattern}/")


class JsonSchemaValid(Evaluator):
    """1 when the output (an object, or text holding JSON) is valid under a JSON Schema (jsonschema)."""

    name = "json_schema"

    def __init__(self, schema: dict[str, Any], **kw: Any) -> None:
        super().__init__(**kw)
        import jsonschema

        try:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise GlassboxError(f"JsonSchemaValid: not a valid schema: {exc.message}") from None
        self.validator = cls(schema)

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        value = self.output(trace)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return _score(self.name, 0.0, False, f"output is not JSON: {exc.msg}")
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.path))
        if not errors:
            return _score(self.name, 1.0, True)
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(root)"
        return _score(self.name, 0.0, False, f"{len(errors)} schema error(s); first at {where}: {first.message}")


class NumericTolerance(Evaluator):
    """1 when the output number is within ``abs_tol`` or ``rel_tol`` of the expected (math.isclose)."""

    name = "numeric"

    def __init__(self, *, abs_tol: float = 0.0, rel_tol: float = 1e-9, **kw: Any) -> None:
        super().__init__(**kw)
        self.abs_tol, self.rel_tol = abs_tol, rel_tol

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        want = self.expected(case)
        if want is None:
            return None
        try:
            got_f, want_f = float(self.output(trace)), float(want)
        except (TypeError, ValueError):
            return _score(self.name, 0.0, False, f"output {self.output(trace)!r} is not a number")
        ok = math.isclose(got_f, want_f, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        return _score(
            self.name,
            1.0 if ok else 0.0,
            ok,
            None if ok else f"{got_f:g} vs expected {want_f:g}",
            dims={"abs_error": abs(got_f - want_f)},
        )


_FUZZ = ("ratio", "partial_ratio", "token_sort_ratio", "token_set_ratio", "WRatio", "QRatio")


class StringSimilarity(Evaluator):
    """rapidfuzz similarity of output and expected text on 0..1 (``method`` one of rapidfuzz.fuzz's scorers)."""

    name = "similarity"

    def __init__(self, *, method: str = "ratio", threshold: float = 0.8, **kw: Any) -> None:
        super().__init__(threshold=threshold, **kw)
        if method not in _FUZZ:
            raise GlassboxError(f"StringSimilarity method: expected one of {', '.join(_FUZZ)}, got {method!r}")
        self.method = method

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        want = self.expected(case)
        if want is None:
            return None
        from rapidfuzz import fuzz

        value = getattr(fuzz, self.method)(_text(self.output(trace)), _text(want)) / 100.0
        return self._judge(value, None)


class EmbeddingSimilarity(Evaluator):
    """Cosine similarity of ``embed(output)`` and ``embed(expected)``: ``embed`` is yours (text -> vector)."""

    name = "embedding_similarity"

    def __init__(self, embed: Callable[[str], Sequence[float]], *, threshold: float = 0.8, **kw: Any) -> None:
        super().__init__(threshold=threshold, **kw)
        self.embed = embed

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        want = self.expected(case)
        if want is None:
            return None
        a = [float(x) for x in self.embed(_text(self.output(trace)))]
        b = [float(x) for x in self.embed(_text(want))]
        if len(a) != len(b) or not a:
            raise GlassboxError(f"embedding sizes differ ({len(a)} vs {len(b)})")
        na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
        value = 0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)
        return self._judge(value)


# -- LLM as judge ----------------------------------------------------------------------------------
JUDGE_PROMPT = """You grade the answer of an AI pipeline against this rubric:

{rubric}

Reply with JSON only: {{"score": <number from 0 to 1>, "reason": "<one sentence>"}}."""


class LLMJudge(Evaluator):
    """A model grades the output on 0..1 by ``rubric``, through ``client`` (yours).

    ``client`` is an OpenAI-compatible client (``client.chat.completions.create``) or an Anthropic one
    (``client.messages.create``). The judge call becomes an ``llm`` stage on the judged trace (tokens,
    cost priced like any ``gb.llm`` call) when the evaluation has a store to write it to.
    """

    name = "llm_judge"
    source = "llm_judge"

    def __init__(
        self, client: Any, rubric: str, *, model: str, threshold: float = 0.5, max_tokens: int = 200, **kw: Any
    ) -> None:
        super().__init__(threshold=threshold, **kw)
        if not rubric or not rubric.strip():
            raise GlassboxError("LLMJudge needs a rubric")
        self.client, self.rubric, self.model, self.max_tokens = client, rubric, model, max_tokens
        self.last_call: Span | None = None  # the judge's llm stage of the last evaluation

    def _messages(self, case: Case | None, trace: Trace) -> str:
        parts = [f"Input:\n{_text(trace.input)}", f"Answer:\n{_text(self.output(trace))}"]
        if case is not None and case.expected_output is not None:
            parts.append(f"Reference answer:\n{_text(self.expected(case))}")
        return "\n\n".join(parts)

    def _ask(self, system: str, user: str) -> tuple[Any, str]:
        if hasattr(self.client, "chat"):
            resp = self.client.chat.completions.create(
                model=self.model,
                max_tokens=self.max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            )
            return resp, resp.choices[0].message.content or ""
        if hasattr(self.client, "messages"):
            resp = self.client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
            )
            text = "".join(getattr(b, "text", "") for b in resp.content)
            return resp, text
        raise GlassboxError(
            "LLMJudge client: expected an OpenAI-compatible (chat.completions) or "
            "Anthropic-compatible (messages) client"
        )

    def evaluate(self, case: Case | None, trace: Trace) -> Score | None:
        start = time.time_ns()
        resp, text = self._ask(JUDGE_PROMPT.format(rubric=self.rubric), self._messages(case, trace))
        self.last_call = _judge_span(trace, self.name, resp, self.model, start)
        value, reason = parse_verdict(text)
        if value is None:
            return _score(self.name, 0.0, False, f"the judge's reply was not a verdict: {text[:200]!r}", self.source)
        return self._judge(value, reason, default_threshold=0.5)


def parse_verdict(text: str) -> tuple[float | None, str | None]:
    """(score clipped to 0..1, reason) from a judge's reply: JSON, or JSON inside other text."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match:
        try:
            doc = json.loads(match.group(0))
            value = float(doc["score"])
            if math.isfinite(value):
                return min(max(value, 0.0), 1.0), str(doc.get("reason") or "") or None
        except (ValueError, KeyError, TypeError):
            pass
    return None, None


def _judge_span(trace: Trace, name: str, response: Any, model: str, start_ns: int) -> Span | None:
    """An ``llm`` stage under the trace's root holding the judge call's usage and price."""
    from glassbox.cost.record import apply_usage, make_pricer
    from glassbox.cost.usage import extract_usage
    from glassbox.ids import new_span_id

    try:
        usage = extract_usage(response, model=model)
    except Exception:  # noqa: BLE001 - an unreadable usage block costs the record, not the verdict
        usage = None
    span = Span(trace.trace_id, new_span_id(), trace.root_span_id, f"judge:{name}", "llm", start_ns)
    span.end_ns = time.time_ns()
    span.status = "ok"
    if usage is not None:
        apply_usage(span, usage, make_pricer().price(usage))
    return span


# -- running evaluators on a stored trace --------------------------------------------------------
def evaluate_one(ev: Any, case: Case | None, trace: Trace) -> Score | None:
    """Run one evaluator; a failure becomes a failed score (the reason in its comment), never an exception."""
    name = getattr(ev, "name", None) or getattr(ev, "__name__", "evaluator")
    try:
        fn = ev.evaluate if hasattr(ev, "evaluate") else ev
        score = fn(case, trace)
    except Exception as exc:  # noqa: BLE001 - a broken evaluator fails its score, not the run
        return _score(name, 0.0, False, f"evaluator failed: {type(exc).__name__}: {exc}"[:1000], max_=None)
    if score is None:
        return None
    if not isinstance(score, Score):
        raise GlassboxError(f"evaluator {name!r} returned {type(score).__name__}; expected a Score or None")
    score.name = score.name or name
    score.id = score.id or new_record_id()
    score.at_ns = score.at_ns or time.time_ns()
    return score


def run_evaluators(store: Store | None, evaluators: Sequence[Any], case: Case | None, trace: Trace) -> list[Score]:
    """Each evaluator's score on ``trace``, written to the store with the judges' llm stages."""
    out: list[Score] = []
    extra_spans: list[Span] = []
    for ev in evaluators:
        score = evaluate_one(ev, case, trace)
        call = getattr(ev, "last_call", None)
        if call is not None:
            extra_spans.append(call)
            ev.last_call = None
        if score is not None:
            out.append(score)
    if store is not None and (out or extra_spans):
        segment = Trace(trace.trace_id, trace.name, trace.start_ns)
        segment.project, segment.status, segment.end_ns = trace.project, trace.status, trace.end_ns
        segment.root_span_id = None  # a partial segment: the store merges it into the stored trace
        segment.scores, segment.spans = out, extra_spans
        store.write_traces([segment])
    trace.spans.extend(extra_spans)
    return out
