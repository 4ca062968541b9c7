"""The trace model shared by every layer: SDK, store, trail, CLI and server.

Objects are slotted and cheap to build, because the recorder creates them on the
hot path. Times are integer nanoseconds since the Unix epoch (as in OTLP); the
JSON form also carries ISO-8601 strings for people, but ``*_ns`` fields are the
authority, so a trace survives ``to_dict`` → JSON → ``from_dict`` unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1

TRACE_STATUSES = ("in_progress", "complete", "failed", "incomplete")
SPAN_STATUSES = ("ok", "error", "unset")
SCORE_SOURCES = ("heuristic", "rule", "llm_judge", "human", "sdk")
# A score dimension below this share of its score's maximum (1.0 when none is given) is a gap, a failed principle:
# the default everywhere (calibration, principles, compare, the CLI and the dashboard).
GAP_RATIO = 0.6


def iso_from_ns(ns: int | None) -> str | None:
    """Render epoch nanoseconds as an ISO-8601 UTC string with microseconds."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat(timespec="microseconds")


def ns_from_iso(value: str | None) -> int | None:
    if value is None:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1_000_000) * 1000


def _time_from(d: dict[str, Any], ns_key: str, iso_key: str) -> int | None:
    if d.get(ns_key) is not None:
        return int(d[ns_key])
    return ns_from_iso(d.get(iso_key))


class Decision:
    """A choice the pipeline made: what, why, how sure, and what else was on the table."""

    __slots__ = ("alternatives", "at_ns", "confidence", "id", "inputs", "span_id", "stage", "what", "why")

    def __init__(
        self,
        id: str,
        what: str,
        why: str | None = None,
        confidence: float | None = None,
        alternatives: list[tuple[str, float | None]] | None = None,
        inputs: dict[str, Any] | None = None,
        span_id: str | None = None,
        stage: str | None = None,
        at_ns: int = 0,
    ) -> None:
        self.id = id
        self.what = what
        self.why = why
        self.confidence = confidence
        self.alternatives = alternatives or []
        self.inputs = inputs or {}
        self.span_id = span_id
        self.stage = stage
        self.at_ns = at_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "span_id": self.span_id,
            "stage": self.stage,
            "what": self.what,
            "why": self.why,
            "confidence": self.confidence,
            "alternatives": [{"option": o, "score": s} for o, s in self.alternatives],
            "inputs": self.inputs,
            "at": iso_from_ns(self.at_ns),
            "at_ns": self.at_ns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        return cls(
            id=d["id"],
            what=d["what"],
            why=d.get("why"),
            confidence=d.get("confidence"),
            alternatives=[(a["option"], a.get("score")) for a in d.get("alternatives") or []],
            inputs=d.get("inputs") or {},
            span_id=d.get("span_id"),
            stage=d.get("stage"),
            at_ns=_time_from(d, "at_ns", "at") or 0,
        )


class Event:
    """Evidence or any named occurrence inside a stage (an OTel span event on the wire)."""

    __slots__ = ("at_ns", "id", "name", "payload", "span_id")

    def __init__(
        self, id: str, name: str, payload: dict[str, Any] | None = None, span_id: str | None = None, at_ns: int = 0
    ) -> None:
        self.id = id
        self.name = name
        self.payload = payload or {}
        self.span_id = span_id
        self.at_ns = at_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "span_id": self.span_id,
            "name": self.name,
            "payload": self.payload,
            "at": iso_from_ns(self.at_ns),
            "at_ns": self.at_ns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Event:
        return cls(d["id"], d["name"], d.get("payload") or {}, d.get("span_id"), _time_from(d, "at_ns", "at") or 0)


class Score:
    """A quality measurement of a trace (or one of its stages), optionally with dimensions."""

    __slots__ = ("at_ns", "comment", "dimensions", "id", "max", "name", "passed", "source", "span_id", "value")

    def __init__(
        self,
        id: str,
        name: str,
        value: float,
        max: float | None = None,
        passed: bool | None = None,
        source: str = "sdk",
        dimensions: dict[str, float] | dict[str, float | None] | None = None,  # None: not a number
        comment: str | None = None,
        span_id: str | None = None,
        at_ns: int = 0,
    ) -> None:
        self.id = id
        self.name = name
        self.value = value
        self.max = max
        self.passed = passed
        self.source = source
        self.dimensions = dimensions or {}
        self.comment = comment
        self.span_id = span_id
        self.at_ns = at_ns

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "span_id": self.span_id,
            "name": self.name,
            "value": self.value,
            "max": self.max,
            "passed": self.passed,
            "source": self.source,
            "dimensions": self.dimensions,
            "comment": self.comment,
            "at": iso_from_ns(self.at_ns),
            "at_ns": self.at_ns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        return cls(
            id=d["id"],
            name=d["name"],
            value=d["value"],
            max=d.get("max"),
            passed=d.get("passed"),
            source=d.get("source") or "sdk",
            dimensions=d.get("dimensions") or {},
            comment=d.get("comment"),
            span_id=d.get("span_id"),
            at_ns=_time_from(d, "at_ns", "at") or 0,
        )


class Span:
    """One stage of a trace: an OpenTelemetry span as far as the outside world can tell.

    Fields every span sets are slots; rarely set ones (LLM usage, errors, I/O) default
    at class level and land in the instance ``__dict__`` only when assigned, which keeps
    creating a stage on the hot path cheap.
    """

    __slots__ = (
        "__dict__",
        "attributes",
        "end_ns",
        "kind",
        "name",
        "parent_id",
        "service",
        "span_id",
        "start_ns",
        "status",
        "trace_id",
    )

    error: dict[str, Any] | None = None
    input: Any = None
    output: Any = None
    model: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    peak_gpu_mem_bytes: int | None = None
    model_loads: int | None = None
    # What an OpenTelemetry span carries besides attributes (set for spans that came from OTel).
    otel_kind: str | None = None  # internal / server / client / producer / consumer
    trace_state: str | None = None  # W3C tracestate
    status_message: str | None = None
    links: list[dict[str, Any]] | None = None  # [{trace_id, span_id, trace_state?, attributes?}]
    resource: dict[str, Any] | None = None  # the sender's resource attributes, all of them
    scope: dict[str, Any] | None = None  # {name, version?, attributes?}

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        name: str,
        kind: str = "stage",
        start_ns: int = 0,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.status = "unset"
        self.attributes: dict[str, Any] | None = None
        self.service: str | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.end_ns is None:
            return None
        return (self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        return {
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "service": self.service,
            "started_at": iso_from_ns(self.start_ns),
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "attributes": self.attributes or {},
            "input": self.input,
            "output": self.output,
            "model": self.model,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
            "peak_gpu_mem_bytes": self.peak_gpu_mem_bytes,
            "model_loads": self.model_loads,
            **{k: v for k in OTEL_SPAN_FIELDS if (v := getattr(self, k)) is not None},  # only when set: a lean trail
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], trace_id: str) -> Span:
        s = cls(
            trace_id,
            d["span_id"],
            d.get("parent_id"),
            d["name"],
            d.get("kind") or "stage",
            _time_from(d, "start_ns", "started_at") or 0,
        )
        s.end_ns = d.get("end_ns")
        s.status = d.get("status") or "unset"
        s.service = d.get("service")
        s.error = d.get("error")
        s.attributes = d.get("attributes") or {}
        s.input = d.get("input")
        s.output = d.get("output")
        s.model = d.get("model")
        s.tokens_in = d.get("tokens_in")
        s.tokens_out = d.get("tokens_out")
        s.cost_usd = d.get("cost_usd")
        s.peak_gpu_mem_bytes = d.get("peak_gpu_mem_bytes")
        s.model_loads = d.get("model_loads")
        for k in OTEL_SPAN_FIELDS:
            if d.get(k) is not None:
                setattr(s, k, d[k])
        return s


OTEL_SPAN_FIELDS = ("otel_kind", "trace_state", "status_message", "links", "resource", "scope")


class Feedback:
    """What a user told us about a run, explicitly (rating, comment) or implicitly (a signal).

    ``rating`` is as given, on ``scale`` (``"0-1"``, ``"1-5"``, ``"thumbs"``, any ``"lo-hi"``);
    ``normalized`` is the rating on 0..1 (aggregates use it); ``sentiment`` is -1..1 and ``label``
    positive / negative / neutral (see ``glassbox.feedback``).
    """

    __slots__ = (
        "at_ns",
        "comment",
        "id",
        "kind",
        "label",
        "normalized",
        "rating",
        "scale",
        "sentiment",
        "signal",
        "user_id",
    )

    def __init__(
        self,
        id: str,
        kind: str = "explicit",
        rating: float | None = None,
        signal: str | None = None,
        comment: str | None = None,
        sentiment: float | None = None,
        user_id: str | None = None,
        at_ns: int = 0,
        scale: str | None = None,
        normalized: float | None = None,
        label: str | None = None,
    ) -> None:
        self.id = id
        self.kind = kind
        self.rating = rating
        self.signal = signal
        self.comment = comment
        self.sentiment = sentiment
        self.user_id = user_id
        self.at_ns = at_ns
        self.scale = scale
        self.normalized = normalized
        self.label = label

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rating": self.rating,
            "scale": self.scale,
            "normalized": self.normalized,
            "signal": self.signal,
            "comment": self.comment,
            "sentiment": self.sentiment,
            "label": self.label,
            "user_id": self.user_id,
            "at": iso_from_ns(self.at_ns),
            "at_ns": self.at_ns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Feedback:
        return cls(
            d["id"],
            d.get("kind") or "explicit",
            d.get("rating"),
            d.get("signal"),
            d.get("comment"),
            d.get("sentiment"),
            d.get("user_id"),
            _time_from(d, "at_ns", "at") or 0,
            d.get("scale"),
            d.get("normalized"),
            d.get("label"),
        )


class Alert:
    """Something a person should look at: a budget warning, a calibration alert, an SLO burn."""

    __slots__ = (
        "acknowledged",
        "at_ns",
        "count",
        "dims",
        "first_seen_ns",
        "id",
        "key",
        "message",
        "project",
        "rule",
        "severity",
        "source",
        "state",
        "trace_id",
    )

    def __init__(
        self,
        id: str,
        source: str,
        rule: str,
        message: str,
        severity: str = "warning",
        dims: dict[str, Any] | None = None,
        trace_id: str | None = None,
        project: str | None = None,
        at_ns: int = 0,
        acknowledged: bool = False,
        state: str | None = None,
        key: str | None = None,
        first_seen_ns: int | None = None,
        count: int = 1,
    ) -> None:
        self.id = id
        self.source = source
        self.rule = rule
        self.message = message
        self.severity = severity
        self.dims = dims or {}
        self.trace_id = trace_id
        self.project = project
        self.at_ns = at_ns  # last seen
        self.acknowledged = acknowledged
        self.state = state or ("acknowledged" if acknowledged else "firing")  # firing / acknowledged / resolved
        self.key = key  # dedup key (None: the store derives it from source, rule and project)
        self.first_seen_ns = first_seen_ns if first_seen_ns is not None else at_ns
        self.count = count

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "dims": self.dims,
            "trace_id": self.trace_id,
            "project": self.project,
            "at": iso_from_ns(self.at_ns),
            "at_ns": self.at_ns,
            "acknowledged": self.acknowledged,
            "state": self.state,
            "key": self.key,
            "first_seen": iso_from_ns(self.first_seen_ns),
            "first_seen_ns": self.first_seen_ns,
            "last_seen": iso_from_ns(self.at_ns),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        return cls(
            d["id"],
            d["source"],
            d["rule"],
            d.get("message") or "",
            d.get("severity") or "warning",
            d.get("dims") or {},
            d.get("trace_id"),
            d.get("project"),
            _time_from(d, "at_ns", "at") or 0,
            bool(d.get("acknowledged")),
            d.get("state"),
            d.get("key"),
            d.get("first_seen_ns"),
            int(d.get("count") or 1),
        )


# Trace-level fields that are plain values, in document order (the rest are derived or nested).
TRACE_FIELDS = (
    "trace_id",
    "project",
    "service",
    "name",
    "input",
    "output",
    "workflow",
    "intent",
    "domain",
    "user_id",
    "session_id",
    "environment",
    "release",
    "status",
    "error",
    "tags",
    "metadata",
    "experiment",
    "variant",
    "flagged_for_review",
    "review_notes",
    "cost_source",
    "root_span_id",
    "parent_span_id",
)


class Trace:
    """One run of a pipeline: its stages, decisions, evidence, scores and feedback.

    A trace recorded in one process is a *segment*; when a trace crosses services,
    each service writes its segment and the store merges them by ``trace_id``.
    ``parent_span_id`` is set when the segment continues a remote parent.
    """

    __slots__ = (*TRACE_FIELDS, "alerts", "decisions", "end_ns", "events", "feedback", "scores", "spans", "start_ns")

    def __init__(self, trace_id: str, name: str = "", start_ns: int = 0) -> None:
        self.trace_id = trace_id
        self.name = name
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.project: str | None = None
        self.service: str | None = None
        self.input: Any = None
        self.output: Any = None
        self.workflow: str | None = None
        self.intent: str | None = None
        self.domain: str | None = None
        self.user_id: str | None = None
        self.session_id: str | None = None
        self.environment: str | None = None
        self.release: str | None = None
        self.status = "in_progress"
        self.error: dict[str, Any] | None = None
        self.tags: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.experiment: str | None = None
        self.variant: str | None = None
        self.flagged_for_review = False
        self.review_notes: str | None = None
        self.cost_source: str | None = None
        self.root_span_id: str | None = None
        self.parent_span_id: str | None = None
        self.spans: list[Span] = []
        self.decisions: list[Decision] = []
        self.events: list[Event] = []
        self.scores: list[Score] = []
        self.feedback: list[Feedback] = []
        self.alerts: list[Alert] = []

    # Derived figures: computed from the spans, so a merged trace stays consistent.
    @property
    def duration_ms(self) -> float | None:
        if self.end_ns is None:
            return None
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def tokens_in(self) -> int | None:
        vals = [s.tokens_in for s in self.spans if s.tokens_in is not None]
        return sum(vals) if vals else None

    @property
    def tokens_out(self) -> int | None:
        vals = [s.tokens_out for s in self.spans if s.tokens_out is not None]
        return sum(vals) if vals else None

    @property
    def cost_usd(self) -> float | None:
        vals = [s.cost_usd for s in self.spans if s.cost_usd is not None]
        return math.fsum(vals) if vals else None  # correctly rounded: 0.7 + 0.1 + 0.1 + 0.1 is 1.0

    def _quality(self) -> Score | None:
        """The latest score named ``quality``, else the earliest score: independent of list order."""
        named = [s for s in self.scores if s.name == "quality"]
        if named:
            return max(named, key=lambda s: (s.at_ns, s.id))
        judged = [s for s in self.scores if s.source != "heuristic"]  # signals describe, they don't judge
        return min(judged, key=lambda s: (s.at_ns, s.id)) if judged else None

    @property
    def quality_score(self) -> float | None:
        q = self._quality()
        return None if q is None else q.value

    @property
    def gate_passed(self) -> bool | None:
        """The gate of the run's quality score (docs/quality.md): a run scored only by, say,
        ``faithfulness`` is gated by that score's ``passed``."""
        q = self._quality()
        return None if q is None else q.passed

    def root(self) -> Span | None:
        for s in self.spans:
            if s.span_id == self.root_span_id:
                return s
        return None

    def to_dict(self) -> dict[str, Any]:
        """The trace as one JSON-ready document: the audit trail line and `show --json`."""
        doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in TRACE_FIELDS:
            doc[f] = getattr(self, f)
        doc["started_at"] = iso_from_ns(self.start_ns)
        doc["ended_at"] = iso_from_ns(self.end_ns)
        doc["start_ns"] = self.start_ns
        doc["end_ns"] = self.end_ns
        doc["duration_ms"] = self.duration_ms
        doc["tokens_in"] = self.tokens_in
        doc["tokens_out"] = self.tokens_out
        doc["cost_usd"] = self.cost_usd
        doc["quality_score"] = self.quality_score
        doc["gate_passed"] = self.gate_passed
        doc["spans"] = [s.to_dict() for s in self.spans]
        doc["decisions"] = [d.to_dict() for d in self.decisions]
        doc["events"] = [e.to_dict() for e in self.events]
        doc["scores"] = [s.to_dict() for s in self.scores]
        doc["feedback"] = [f.to_dict() for f in self.feedback]
        doc["alerts"] = [a.to_dict() for a in self.alerts]
        return doc

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trace:
        version = d.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ValueError(f"unsupported trace schema_version {version!r} (this glassbox reads ≤ {SCHEMA_VERSION})")
        t = cls(d["trace_id"], d.get("name") or "", _time_from(d, "start_ns", "started_at") or 0)
        for f in TRACE_FIELDS:
            if f in d and f != "trace_id":
                setattr(t, f, d[f])
        t.tags = list(d.get("tags") or [])
        t.metadata = dict(d.get("metadata") or {})
        t.flagged_for_review = bool(d.get("flagged_for_review"))
        t.status = d.get("status") or "complete"
        t.end_ns = _time_from(d, "end_ns", "ended_at")
        t.spans = [Span.from_dict(s, t.trace_id) for s in d.get("spans") or []]
        t.decisions = [Decision.from_dict(x) for x in d.get("decisions") or []]
        t.events = [Event.from_dict(x) for x in d.get("events") or []]
        t.scores = [Score.from_dict(x) for x in d.get("scores") or []]
        t.feedback = [Feedback.from_dict(x) for x in d.get("feedback") or []]
        t.alerts = [Alert.from_dict(x) for x in d.get("alerts") or []]
        return t


# -- the span tree -----------------------------------------------------------------------------
class Node:
    """One span in its trace's tree: the span, its depth (0 at the top) and its children in start order."""

    __slots__ = ("children", "depth", "span")

    def __init__(self, span: Span, depth: int = 0) -> None:
        self.span = span
        self.depth = depth
        self.children: list[Node] = []

    def walk(self) -> Iterator[Node]:
        """This node, then its descendants depth-first in start order (iterative: deep trees are fine)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def __repr__(self) -> str:
        return f"<Node {self.span.name!r} depth={self.depth} children={len(self.children)}>"


def span_tree(trace: Trace, *, include_root: bool = True) -> list[Node]:
    """The trace's spans as a forest, top-level nodes and every list of children in (start_ns, span_id) order.

    A span is top-level when its parent is not in the trace (the root, a segment continuing a remote
    parent, a span whose parent was lost). ``include_root=False`` leaves the root span out, so its
    children become top-level. Spans that only reach each other through a parent cycle are left out.
    Use ``walk(span_tree(t))`` for the depth-first order the CLI and the dashboard show.
    """
    spans = trace.spans
    if not include_root:
        spans = [s for s in spans if s.span_id != trace.root_span_id]
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)
    for group in children.values():
        group.sort(key=lambda x: (x.start_ns, x.span_id))
    top = [Node(s) for s in children.get(None, [])]
    stack = list(top)
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node.span.span_id in seen:  # a duplicated span id: attach its children once
            continue
        seen.add(node.span.span_id)
        node.children = [Node(s, node.depth + 1) for s in children.get(node.span.span_id, [])]
        stack.extend(node.children)
    return top


def walk(nodes: list[Node]) -> Iterator[Node]:
    """Every node of a forest (``span_tree``'s answer) depth-first, each before its children."""
    for node in nodes:
        yield from node.walk()
