"""OTLP/HTTP trace payloads (protobuf or JSON, gzip) mapped onto glassbox traces.

Spans from any instrumentation become glassbox spans; glassbox's own ``glassbox.*``
attributes and events (as ``otel.to_otel_spans`` writes them) come back as the run's fields,
decisions, evidence and scores, so SDK remote mode round-trips. LLM spans (``gen_ai.*``,
OpenInference ``llm.*``) are priced like SDK-recorded calls. Spans of one trace are grouped
into one segment per request; the store merges segments from several requests or services.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from glassbox import otel_fields
from glassbox.content import ContentPolicy
from glassbox.cost.dedupe import fold_all
from glassbox.cost.record import price_span, weakest_source
from glassbox.model import TRACE_STATUSES, Decision, Event, Score, Span, Trace
from glassbox.otel import infer_kind

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_SPANS = 50_000


class PayloadError(ValueError):
    """The request body is not a valid OTLP trace export (HTTP 400)."""


class TooLarge(ValueError):
    """The request is over a size limit (HTTP 413)."""


class Segment(Trace):
    """A decoded trace segment; ``keyed``: its project is the sending API key's (authoritative, see ingest);
    ``counted``: its spans the store already held, with what /metrics counted for them (set by ingest)."""

    __slots__ = ("counted", "keyed")


@dataclass
class Decoded:
    traces: list[Trace]
    spans: int
    rejected: int = 0
    problems: list[str] = field(default_factory=list)


def decompress(body: bytes, encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate"):
        raise PayloadError(f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    try:
        d = zlib.decompressobj(wbits=31 if enc == "gzip" else 15)
        out = d.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise PayloadError(f"body is not valid {enc}: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"decompressed body exceeds {limit} bytes")
    return out


def parse(body: bytes, content_type: str | None) -> Any:
    """An ``ExportTraceServiceRequest`` from protobuf or OTLP/JSON bytes."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    req = ExportTraceServiceRequest()
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "application/json":
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadError("body is not an OTLP trace export: JSON nested too deep") from None
        if not isinstance(doc, dict):
            raise PayloadError("body must be a JSON object with resourceSpans")
        try:
            _hex_ids_to_base64(doc)
            json_format.ParseDict(doc, req, ignore_unknown_fields=True)
        except (json_format.ParseError, TypeError, AttributeError, ValueError) as exc:
            raise PayloadError(f"not an OTLP trace export: {exc}") from None
        except RecursionError:
            raise PayloadError("not an OTLP trace export: nested too deep") from None
        return req
    if ctype in ("application/x-protobuf", "application/protobuf", ""):
        try:
            req.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise PayloadError(f"body is not an OTLP protobuf ExportTraceServiceRequest: {exc}") from None
        return req
    raise PayloadError(f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json")


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    rss = doc.get("resourceSpans", doc.get("resource_spans")) or []
    if not isinstance(rss, list):
        raise PayloadError("resourceSpans must be a list")
    for rs in rss:
        for ss in (rs.get("scopeSpans") or rs.get("scope_spans") or []) if isinstance(rs, dict) else []:
            for sp in (ss.get("spans") or []) if isinstance(ss, dict) else []:
                if not isinstance(sp, dict):
                    continue
                _hex_fields(sp)
                for link in sp.get("links") or []:
                    if isinstance(link, dict):
                        _hex_fields(link)


_ID_HEX_LENGTHS = {"traceId": 32, "trace_id": 32, "spanId": 16, "span_id": 16, "parentSpanId": 16, "parent_span_id": 16}


def _hex_fields(obj: dict[str, Any]) -> None:
    for key, length in _ID_HEX_LENGTHS.items():
        v = obj.get(key)
        if isinstance(v, str) and len(v) == length:  # hex per the spec (base64 ids are 24/12 characters)
            try:
                obj[key] = base64.b64encode(bytes.fromhex(v)).decode()
            except ValueError:
                raise PayloadError(f"span {key} {v!r} is not valid hex") from None


_SCALARS = {
    "string_value": "string_value",
    "int_value": "int_value",
    "double_value": "double_value",
    "bool_value": "bool_value",
}


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(v, kind)
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return v.bytes_value.hex()


def _attrs(kvs: Iterable[Any]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _json_or(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return default if value is None else value


def _rid(*parts: Any) -> str:
    """Deterministic ids for decisions/events/scores sent without one: a re-sent payload is idempotent."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest()


_STATUS = {0: "unset", 1: "ok", 2: "error"}
_ZERO_TRACE, _ZERO_SPAN = bytes(16), bytes(8)
# Span attributes that describe the run (on glassbox's root span), not the span itself.
_RUN_KEYS = frozenset({"user.id", "session.id"})
# glassbox.* attributes that stay on the span (pricing provenance written by apply_usage).
_SPAN_GB_KEYS = frozenset(
    {
        "glassbox.cost.source",
        "glassbox.cost.usd",
        "glassbox.cost.input_usd",
        "glassbox.cost.output_usd",
        "glassbox.cost.model_ref",
        "glassbox.cost.note",
        "glassbox.usage.problems",
    }
)
_SPAN_GB_PREFIXES = ("glassbox.usage.", "glassbox.cost.")  # usage figures and pricing facts (cost/attributes.py)
_SPAN_NUMBERS = (
    ("glassbox.cost_usd", "cost_usd"),
    ("glassbox.peak_gpu_mem_bytes", "peak_gpu_mem_bytes"),
    ("glassbox.model_loads", "model_loads"),
)
_MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
_IN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
_OUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")


def span_count(req: Any) -> int:
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


def decode(
    req: Any,
    *,
    project: str | None,
    pricer: Any = None,
    max_spans: int = MAX_SPANS,
    content: ContentPolicy | None = None,
) -> Decoded:
    """Map an export request onto one Trace segment per trace id (the key's project wins when given).

    ``content``: the receiver's prompt/completion policy, applied to spans glassbox did not record."""
    total = span_count(req)
    if total > max_spans:
        raise TooLarge(f"{total} spans in one request; the limit is {max_spans}")
    by_trace: dict[str, Trace] = {}
    out = Decoded([], total)
    for rs in req.resource_spans:
        res = _attrs(rs.resource.attributes)
        service = res.get("service.name")
        service = None if service is None else str(service)
        res_project = res.get("glassbox.project")
        kept_res = otel_fields.resource_to_keep(res)
        for ss in rs.scope_spans:
            scope = ss.scope.name or None
            kept_scope = otel_fields.scope_to_keep(scope, ss.scope.version, _attrs(ss.scope.attributes))
            for sp in ss.spans:
                raw_tid, raw_sid = sp.trace_id, sp.span_id
                if len(raw_tid) != 16 or len(raw_sid) != 8 or raw_tid == _ZERO_TRACE or raw_sid == _ZERO_SPAN:
                    out.rejected += 1
                    out.problems.append(f"span {sp.name!r}: invalid trace or span id")
                    continue
                _check_times(sp)
                tid = raw_tid.hex()
                t = by_trace.get(tid)
                if t is None:
                    t = by_trace[tid] = Segment(tid, sp.name)
                    t.keyed = project is not None
                    t.project = project or (str(res_project) if res_project else None) or "default"
                    t.service = service
                s = _add_span(t, sp, raw_sid.hex(), service, scope, pricer, content)
                s.resource, s.scope = kept_res, kept_scope
    for t in by_trace.values():
        fold_all(t.spans)  # spans of one LLM call (SDK + instrumentor) count once: cost/dedupe.py
        _finish(t)
        out.traces.append(t)
    return out


_MAX_NS = (1 << 63) - 1  # what every store holds (BIGINT): about the year 2262


def _check_times(sp: Any) -> None:
    """Times beyond 64-bit signed nanoseconds cannot be stored: refuse the request, naming the field."""
    for name in ("start_time_unix_nano", "end_time_unix_nano"):
        if getattr(sp, name) > _MAX_NS:
            raise PayloadError(f"span {sp.name!r}: {name} {getattr(sp, name)} is beyond {_MAX_NS} (year 2262)")
    for e in sp.events:
        if e.time_unix_nano > _MAX_NS:
            raise PayloadError(
                f"span {sp.name!r}, event {e.name!r}: time_unix_nano {e.time_unix_nano} is beyond {_MAX_NS} (year 2262)"
            )


def _add_span(
    t: Trace,
    sp: Any,
    span_id: str,
    service: str | None,
    scope: str | None,
    pricer: Any,
    content: ContentPolicy | None = None,
) -> Span:
    attrs = {kv.key: _value(kv.value) for kv in sp.attributes}
    foreign = content if "glassbox.kind" not in attrs else None  # glassbox's own spans obeyed the app's settings
    if foreign is not None:
        attrs = foreign.attributes(attrs) or {}
    raw_parent = sp.parent_span_id
    parent = raw_parent.hex() if raw_parent and raw_parent != _ZERO_SPAN else None
    kind = attrs.pop("glassbox.kind", None)
    if kind is not None and attrs.get("openinference.span.kind") == otel_fields.openinference_kind(str(kind)):
        del attrs["openinference.span.kind"]  # what glassbox's export derives from its own kind
    kind = kind or (infer_kind(attrs) if attrs else "stage")
    s = Span(t.trace_id, span_id, parent, sp.name or "span", str(kind), sp.start_time_unix_nano)
    s.end_ns = sp.end_time_unix_nano or None
    status = _STATUS.get(sp.status.code, "unset")
    s.status = "ok" if status == "unset" and s.end_ns else status
    s.service = service
    _otel_fields(s, sp)
    run: dict[str, Any] = {}
    gb_keys = [k for k in attrs if k.startswith("glassbox.")]
    if gb_keys:
        for key, name in _SPAN_NUMBERS:
            v = attrs.pop(key, None)
            if v is not None:
                setattr(s, name, v)
        run = {
            k: attrs.pop(k)
            for k in gb_keys
            if k in attrs and k not in _SPAN_GB_KEYS and not k.startswith(_SPAN_GB_PREFIXES)
        }
    for key in _RUN_KEYS & attrs.keys():
        run[key] = attrs.pop(key)
    if kind != "stage" or "llm.model_name" in attrs:
        s.model = next((m for k in _MODEL_KEYS if isinstance(m := attrs.get(k), str)), None)
        s.tokens_in = next((v for k in _IN_KEYS if type(v := attrs.get(k)) is int), None)
        s.tokens_out = next((v for k in _OUT_KEYS if type(v := attrs.get(k)) is int), None)
    if "input.value" in attrs:
        s.input = _json_or(attrs.pop("input.value"), None)
    if "output.value" in attrs:
        s.output = _json_or(attrs.pop("output.value"), None)
    if scope and scope != "glassbox":
        attrs.setdefault("otel.scope.name", scope)
    s.attributes = attrs or None
    if s.status == "error":
        _error(s, sp)
    if pricer is not None and s.cost_usd is None and s.kind in ("llm", "embedding"):
        t.cost_source = weakest_source(t.cost_source, price_span(s, pricer))
    elif attrs.get("glassbox.cost.source"):
        t.cost_source = weakest_source(t.cost_source, str(attrs["glassbox.cost.source"]))
    t.spans.append(s)
    is_root = "glassbox.trace.name" in run or "glassbox.status" in run
    if sp.events:
        _events(t, s, sp, is_root, foreign)
    if is_root:
        _root(t, s, run)
    return s


def _error(s: Span, sp: Any) -> None:
    """A failed span's error: its first exception event, else its status message."""
    exc = next((e for e in sp.events if e.name == "exception"), None)
    ea = _attrs(exc.attributes) if exc is not None else {}
    s.error = {
        "type": str(ea.get("exception.type") or "Error"),
        "message": str(ea.get("exception.message") or sp.status.message or ""),
        "stack": str(ea.get("exception.stacktrace") or ""),
    }
    if s.status_message == f"{s.error['type']}: {s.error['message']}":
        s.status_message = None  # what glassbox's export writes from the error itself


def _otel_fields(s: Span, sp: Any) -> None:
    """Span kind, trace state, status message and links, as sent (see glassbox.otel_fields)."""
    s.otel_kind = otel_fields.PROTO_KINDS.get(sp.kind)
    s.trace_state = sp.trace_state or None
    s.status_message = sp.status.message or None
    if sp.links:
        links = []
        for link in sp.links:
            d: dict[str, Any] = {"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex()}
            if link.trace_state:
                d["trace_state"] = link.trace_state
            if link.attributes:
                d["attributes"] = _attrs(link.attributes)
            links.append(d)
        s.links = links


def _events(t: Trace, s: Span, sp: Any, is_root: bool, content: ContentPolicy | None = None) -> None:
    for i, e in enumerate(sp.events):
        a = _attrs(e.attributes)
        at = int(e.time_unix_nano)
        name = e.name
        rid = str(a.get("glassbox.id") or _rid(t.trace_id, s.span_id, name, at, i))
        if name == "glassbox.decision":
            alts = _json_or(a.get("glassbox.decision.alternatives"), [])
            alternatives = (
                [(str(x.get("option")), x.get("score")) for x in alts if isinstance(x, dict)]
                if isinstance(alts, list)
                else []
            )
            inputs = _json_or(a.get("glassbox.decision.inputs"), None)
            t.decisions.append(
                Decision(
                    rid,
                    str(a.get("glassbox.decision.what", "")),
                    a.get("glassbox.decision.why"),
                    _number(a.get("glassbox.decision.confidence")),
                    alternatives,
                    inputs if isinstance(inputs, dict) else None,
                    s.span_id,
                    s.name,
                    at,
                )
            )
        elif name == "glassbox.score":
            dims = _json_or(a.get("glassbox.score.dimensions"), {})
            passed = a.get("glassbox.score.passed")
            # The recorder keeps a score made on the trace itself without a span: so does the round trip.
            t.scores.append(
                Score(
                    rid,
                    str(a.get("glassbox.score.name", "score")),
                    _number(a.get("glassbox.score.value")) or 0.0,
                    _number(a.get("glassbox.score.max")),
                    passed if isinstance(passed, bool) else None,
                    str(a.get("glassbox.score.source", "sdk")),
                    dims if isinstance(dims, dict) else {},
                    a.get("glassbox.score.comment"),
                    None if is_root else s.span_id,
                    at,
                )
            )
        elif "glassbox.evidence" in a:
            payload = _json_or(a["glassbox.evidence"], {})
            t.events.append(
                Event(rid, name, payload if isinstance(payload, dict) else {"value": payload}, s.span_id, at)
            )
        elif name != "exception" or not _is_the_error(s, a, at):
            a.pop("glassbox.id", None)
            if content is not None:
                a = content.attributes(a) or {}
            t.events.append(Event(rid, name, a or None, s.span_id, at))


def _is_the_error(s: Span, a: dict[str, Any], at: int) -> bool:
    """Whether an exception event says no more than the span's error (as glassbox's export writes it):
    then the error holds it; any other exception event is kept as sent."""
    err = s.error or {}
    said = {
        "exception.type": err.get("type"),
        "exception.message": err.get("message"),
        "exception.stacktrace": err.get("stack"),
    }
    return at == (s.end_ns or s.start_ns) and a == {k: v for k, v in said.items() if v}


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _root(t: Trace, s: Span, f: dict[str, Any]) -> None:
    """The span glassbox recorded as a trace's root: it carries the run's own fields."""
    t.root_span_id = s.span_id
    t.parent_span_id = s.parent_id
    t.name = str(f.get("glassbox.trace.name") or s.name)
    for key, attr in (
        ("workflow", "glassbox.workflow"),
        ("intent", "glassbox.intent"),
        ("domain", "glassbox.domain"),
        ("environment", "glassbox.environment"),
        ("release", "glassbox.release"),
        ("user_id", "user.id"),
        ("session_id", "session.id"),
        ("experiment", "glassbox.experiment"),
        ("variant", "glassbox.variant"),
    ):
        if f.get(attr) is not None:
            setattr(t, key, str(f[attr]))
    if f.get("glassbox.status") in TRACE_STATUSES:
        t.status = f["glassbox.status"]
    if isinstance(f.get("glassbox.tags"), list):
        t.tags = [str(x) for x in f["glassbox.tags"]]
    meta = _json_or(f.get("glassbox.metadata"), {})
    t.metadata = meta if isinstance(meta, dict) else {}
    err = _json_or(f.get("glassbox.error"), None)
    t.error = err if isinstance(err, dict) else None
    t.input, t.output = s.input, s.output
    s.input = s.output = None


def _finish(t: Trace) -> None:
    """Root, times, status and error of a segment (a foreign OTel trace has no glassbox root marked)."""
    if t.root_span_id is None:
        roots = [s for s in t.spans if s.parent_id is None]
        if roots:
            root = min(roots, key=lambda s: s.start_ns)
            t.root_span_id, t.name = root.span_id, root.name
            t.input, t.output = root.input, root.output
    root = next((s for s in t.spans if s.span_id == t.root_span_id), None)
    if root is not None:
        t.start_ns, t.end_ns = root.start_ns, root.end_ns
        if t.status == "in_progress":
            t.status = "failed" if root.status == "error" else ("complete" if root.end_ns else "in_progress")
    else:  # a segment without its root (the rest of the trace is elsewhere): its own extent
        t.start_ns = min(s.start_ns for s in t.spans)
        ends = [s.end_ns for s in t.spans if s.end_ns]
        t.end_ns = max(ends) if ends else None
        t.status = "incomplete"
    if t.error is None:
        # As the recorder does: the first stage to fail (the innermost one) explains the run's error.
        failed = [s for s in t.spans if s.status == "error" and s.error]
        if failed:
            first = min(failed, key=lambda s: s.end_ns or s.start_ns)
            t.error = {**(first.error or {}), "stage": first.name}
