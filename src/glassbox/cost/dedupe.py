"""One LLM call counts once, however many spans describe it.

The anthropic SDK (2.x) emits its own span per API call whenever the app has a
TracerProvider; an instrumentor (OpenInference: the parent span; OpenLLMetry: a sibling)
describes the same call again, and ``gb.llm()`` on the response a third time. Each carries
the call's usage, so summing them would count the call two or three times.

The rule (docs/costs.md, "One call, one count"): two priced spans of one trace describe
the same call when

* their usage agrees: same total input tokens and same output tokens, and the same model
  (equal, or one a dated snapshot of the other: ``claude-sonnet-4-5`` /
  ``claude-sonnet-4-5-20250929``);
* their response ids, when both have one (``gen_ai.response.id``), are equal — equal ids
  are the same call whatever the spans' places; different ids never are;
* and, without ids, their places agree: one is an ancestor of the other (nested), or they
  are siblings under the same parent whose time intervals overlap. A ``gb.llm()`` record
  (a glassbox stage, made after the call returned) also matches a sibling span that ended
  before it, unless that span already belongs to another ``gb.llm()`` record. Two
  ``gb.llm()`` records are never one call (each ``gb.llm()`` is a call of its own).

Of a group of such spans, the most complete usage wins (most figures known: cache parts,
audio, tool requests, tier, response id), then a ``gb.llm()`` record, then the earliest
start, then the smallest span id — so the winner does not depend on arrival order. The
others keep every attribute but carry no cost and no tokens (``cost_usd``, ``tokens_in``,
``tokens_out`` empty, the ``glassbox.cost.usd`` figures removed) and point at the winner in
``glassbox.cost.duplicate_of``: run totals, cost reports, budgets and ``/metrics`` see one call.

``fold`` judges one new span (in-process, as spans end); ``fold_all`` a batch (an OTLP request);
``fold_segment`` a request's spans against its trace's stored ones (the receiver's writer).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from glassbox.cost.usage import LLMUsage, extract_usage_from_attributes

DUPLICATE_OF = "glassbox.cost.duplicate_of"
_COST_SOURCE = "glassbox.cost.source"
_COST_FIGURES = ("glassbox.cost.usd", "glassbox.cost.input_usd", "glassbox.cost.output_usd")
_SCOPE = "otel.scope.name"


def _usage(span: Any) -> LLMUsage | None:
    attrs = span.attributes
    if not attrs or (_COST_SOURCE not in attrs and DUPLICATE_OF not in attrs):
        return None
    return extract_usage_from_attributes(attrs)


def _is_record(span: Any) -> bool:
    """A span glassbox itself priced from a response (``gb.llm()``), not a folded instrumentor span."""
    return _SCOPE not in (span.attributes or {})


def _models_agree(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    a, b = a.lower(), b.lower()
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def _same_usage(ua: LLMUsage, ub: LLMUsage) -> bool:
    ta, tb = ua.total_input_tokens, ub.total_input_tokens
    if ta is None or tb is None or ua.output_tokens is None or ub.output_tokens is None:
        return False
    return ta == tb and ua.output_tokens == ub.output_tokens and _models_agree(ua.model, ub.model)


def _is_ancestor(a: Any, b: Any, by_id: dict[str, Any]) -> bool:
    """Whether ``a`` is an ancestor of ``b``."""
    parent = b.parent_id
    seen = 0
    while parent is not None and seen < 10_000:
        if parent == a.span_id:
            return True
        node = by_id.get(parent)
        parent = node.parent_id if node is not None else None
        seen += 1
    return False


def _overlap(a: Any, b: Any) -> bool:
    a_end = a.end_ns if a.end_ns is not None else float("inf")
    b_end = b.end_ns if b.end_ns is not None else float("inf")
    return a.start_ns <= b_end and b.start_ns <= a_end


def same_call(a: Any, ua: LLMUsage, b: Any, ub: LLMUsage, by_id: dict[str, Any]) -> bool:
    """Whether spans ``a`` and ``b`` (with their usages) describe one provider call (see the module rule)."""
    if a.span_id == b.span_id or not _same_usage(ua, ub):
        return False
    if _is_record(a) and _is_record(b):  # each gb.llm() call is a call of its own
        return False
    if ua.response_id and ub.response_id:
        return ua.response_id == ub.response_id
    if _is_ancestor(a, b, by_id) or _is_ancestor(b, a, by_id):
        return True
    if a.parent_id is None or a.parent_id != b.parent_id:
        return False
    if _overlap(a, b):
        return True
    for record, other in ((a, b), (b, a)):  # gb.llm() records the call after it returned
        if (
            _is_record(record)
            and not _is_record(other)
            and other.end_ns is not None
            and record.end_ns is not None
            and other.end_ns <= record.end_ns
        ):
            return True
    return False


def _better(a: Any, ua: LLMUsage, b: Any, ub: LLMUsage) -> bool:
    """Whether ``a`` should carry the call rather than ``b`` (a total order: arrival order does not matter)."""
    ka = (ua.completeness, int(_is_record(a)), -a.start_ns)
    kb = (ub.completeness, int(_is_record(b)), -b.start_ns)
    return ka > kb if ka != kb else a.span_id < b.span_id


def make_loser(span: Any, winner_id: str) -> float:
    """Strip the span's cost and token columns; returns the cost it carried."""
    carried = span.cost_usd or 0.0
    attrs = span.attributes
    for key in _COST_FIGURES:
        attrs.pop(key, None)
    attrs[DUPLICATE_OF] = winner_id
    span.cost_usd = None
    span.tokens_in = None
    span.tokens_out = None
    return carried


def fold(span: Any, candidates: Iterable[Any], by_id: dict[str, Any] | None = None) -> float:
    """Apply the rule to a newly priced ``span`` against already judged ``candidates`` of its trace.

    ``by_id`` maps every span id of the trace to its span (for ancestry; built from the
    candidates when not given). Returns the change in the trace's counted cost that
    ``span`` brings: its own cost if it is a new call, its cost minus the replaced winner's
    if it wins a group, 0 if it is a duplicate. Add that to budgets.
    """
    usage = _usage(span)
    if usage is None:
        return span.cost_usd or 0.0
    if DUPLICATE_OF in span.attributes:  # already judged (a glassbox span sent again over OTLP)
        span.cost_usd = span.tokens_in = span.tokens_out = None
        return 0.0
    others = [s for s in candidates if s is not span]
    if by_id is None:
        by_id = {s.span_id: s for s in others}
    group: list[tuple[Any, LLMUsage]] | None = None
    for other in others:
        uo = _usage(other)
        if uo is None or not same_call(span, usage, other, uo, by_id):
            continue
        winner_id = other.attributes.get(DUPLICATE_OF) or other.span_id
        winner = by_id.get(winner_id, other)
        uw = uo if winner is other else _usage(winner)
        if uw is None or winner is span or not _same_usage(usage, uw):
            continue
        members = [(winner, uw)] + [
            (s, u)
            for s in others
            if s is not winner
            and (s.attributes or {}).get(DUPLICATE_OF) == winner.span_id
            and (u := _usage(s)) is not None
        ]
        if _is_record(span) and any(_is_record(s) for s, _ in members):
            continue  # that call already has its gb.llm() record: this is another call with the same usage
        group = members
        break
    own = span.cost_usd or 0.0
    if group is None:
        return own
    winner, uw = group[0]
    if _better(span, usage, winner, uw):
        replaced = make_loser(winner, span.span_id)
        for s, _ in group[1:]:
            s.attributes[DUPLICATE_OF] = span.span_id
        return own - replaced
    make_loser(span, winner.span_id)
    return 0.0


def fold_all(spans: list[Any]) -> None:
    """Apply the rule to every priced span of a batch (the OTLP receiver's path), in start order."""
    by_id = {s.span_id: s for s in spans}
    seen: list[Any] = []
    for s in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        if s.attributes and (_COST_SOURCE in s.attributes or DUPLICATE_OF in s.attributes):
            fold(s, seen, by_id)
            seen.append(s)


def fold_segment(new: list[Any], stored: list[Any]) -> list[Any]:
    """Apply the rule across export requests: a segment's spans (already judged among themselves)
    against the spans of the same trace already stored.

    Returns the stored spans the rule changed (a stored call that a more complete new span now
    carries): write them again with the segment so their rows lose their cost and tokens.
    """
    new_ids = {s.span_id for s in new}
    old = [s for s in stored if s.span_id not in new_ids]  # a span sent again replaces its row
    if not old:
        return []

    def state(s: Any) -> tuple[Any, ...]:
        return s.cost_usd, s.tokens_in, s.tokens_out, (s.attributes or {}).get(DUPLICATE_OF)

    before = {s.span_id: state(s) for s in old}
    by_id = {s.span_id: s for s in old}
    by_id.update((s.span_id, s) for s in new)
    judged = [s for s in old if s.attributes and (_COST_SOURCE in s.attributes or DUPLICATE_OF in s.attributes)]
    for s in sorted(new, key=lambda s: (s.start_ns, s.span_id)):
        attrs = s.attributes
        if not attrs or _COST_SOURCE not in attrs or DUPLICATE_OF in attrs:
            continue
        fold(s, judged, by_id)
        winner = attrs.get(DUPLICATE_OF)
        if winner is not None:  # it lost to a stored span: so do the new spans that had lost to it
            for other in new:
                if (other.attributes or {}).get(DUPLICATE_OF) == s.span_id:
                    other.attributes[DUPLICATE_OF] = winner
        judged.append(s)
    return [s for s in old if state(s) != before[s.span_id]]
