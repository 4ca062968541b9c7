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

from glassbox.cost.record import price_span, weakest_source
from glassbox.model import Decision, Event, Score, Span, Trace
from glassbox.otel import infer_kind

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_SPANS = 50_000


class PayloadError(ValueError):
    """The request body is not a valid OTLP trace export (HTTP 400)."""


class TooLarge(ValueError):
    """The request is over a size limit (HTTP 413)."""


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
        if not isinstance(doc, dict):
            raise PayloadError("body must be a JSON object with resourceSpans")
        try:
            _hex_ids_to_base64(doc)
            json_format.ParseDict(doc, req, ignore_unknown_fields=True)
        except (json_format.ParseError, TypeError, AttributeError, ValueError) as exc:
            raise PayloadError(f"not an OTLP trace export: {exc}") from None
        return req
    if ctype in ("application/x-protobuf", "application/protobuf", ""):
        try:
            req.ParseFromString(body)
        except DecodeError as exc:
            raise PayloadError(f"body is not an OTLP protobuf ExportTraceServiceRequest: {exc}") from None
        return req
    raise PayloadError(f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json")


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    for rs in doc.get("resourceSpans") or doc.get("resource_spans") or []:
        for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
            for sp in ss.get("spans") or []:
                for key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"):
                    v = sp.get(key)
                    if isinstance(v, str) and v and all(c in "0123456789abcdefABCDEF" for c in v):
                        try:
                            sp[key] = base64.b64encode(bytes.fromhex(v)).decode()
                        except ValueError:
                            raise PayloadError(f"span {key} {v!r} is not valid hex") from None


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


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
    """Deterministic ids for decisions/events/scores: a re-sent payload is idempotent."""
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest()


_STATUS = {0: "unset", 1: "ok", 2: "error"}


def decode(req: Any, *, project: str | None, pricer: Any = None, max_spans: int = MAX_SPANS) -> Decoded:
    """Map an export request onto one Trace segment per trace id (the key's project wins when given)."""
    total = sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
    if total > max_spans:
        raise TooLarge(f"{total} spans in one request; the limit is {max_spans}")
    by_trace: dict[str, Trace] = {}
    out = Decoded([], total)
    for rs in req.resource_spans:
        res = _attrs(rs.resource.attributes)
        service = res.get("service.name")
        res_project = res.get("glassbox.project")
        for ss in rs.scope_spans:
            scope = ss.scope.name or None
            for sp in ss.spans:
                if len(sp.trace_id) != 16 or len(sp.span_id) != 8 or not any(sp.trace_id) or not any(sp.span_id):
                    out.rejected += 1
                    out.problems.append(f"span {sp.name!r}: invalid trace or span id")
                    continue
                tid = sp.trace_id.hex()
                t = by_trace.get(tid)
                if t is None:
                    t = by_trace[tid] = Trace(tid, sp.name)
                    t.project = project or res_project or "default"
                    t.service = service
                    t.status = "in_progress"
                _add_span(t, sp, service, scope, pricer)
    for t in by_trace.values():
        _finish(t)
        out.traces.append(t)
    return out


def _add_span(t: Trace, sp: Any, service: str | None, scope: str | None, pricer: Any) -> None:
    attrs = _attrs(sp.attributes)
    parent = sp.parent_span_id.hex() if sp.parent_span_id and any(sp.parent_span_id) else None
    kind = attrs.pop("glassbox.kind", None) or infer_kind(attrs)
    s = Span(t.trace_id, sp.span_id.hex(), parent, sp.name or "span", str(kind), int(sp.start_time_unix_nano))
    s.end_ns = int(sp.end_time_unix_nano) or None
    s.status = _STATUS.get(int(sp.status.code), "unset")
    if s.status == "unset" and s.end_ns:
        s.status = "ok"
    s.service = service
    s.model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model") or attrs.get("llm.model_name")
    for key, name in (("glassbox.cost_usd", "cost_usd"), ("glassbox.peak_gpu_mem_bytes", "peak_gpu_mem_bytes"),
                      ("glassbox.model_loads", "model_loads")):  # fmt: skip
        if attrs.get(key) is not None:
            setattr(s, name, attrs.pop(key))
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"):
        if isinstance(attrs.get(key), int):
            s.tokens_in = attrs[key]
            break
    for key in ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"):
        if isinstance(attrs.get(key), int):
            s.tokens_out = attrs[key]
            break
    root_fields = {k: attrs.pop(k) for k in list(attrs) if k.startswith("glassbox.") and k not in (
        "glassbox.cost.source", "glassbox.cost.usd", "glassbox.cost.input_usd", "glassbox.cost.output_usd",
        "glassbox.cost.model_ref", "glassbox.cost.note", "glassbox.usage.problems")}  # fmt: skip
    for key in ("user.id", "session.id"):
        if key in attrs:
            root_fields[key] = attrs.pop(key)
    if "input.value" in attrs:
        s.input = _json_or(attrs.pop("input.value"), None)
    if "output.value" in attrs:
        s.output = _json_or(attrs.pop("output.value"), None)
    if scope and scope != "glassbox":
        attrs.setdefault("otel.scope.name", scope)
    s.attributes = attrs or None
    if s.status == "error":
        exc = next((e for e in sp.events if e.name == "exception"), None)
        ea = _attrs(exc.attributes) if exc is not None else {}
        s.error = {"type": ea.get("exception.type") or "Error",
                   "message": ea.get("exception.message") or sp.status.message or "",
                   "stack": ea.get("exception.stacktrace") or ""}  # fmt: skip
    if pricer is not None and s.kind in ("llm", "embedding") and s.cost_usd is None:
        source = price_span(s, pricer)
        t.cost_source = weakest_source(t.cost_source, source)
    elif (s.attributes or {}).get("glassbox.cost.source"):
        t.cost_source = weakest_source(t.cost_source, s.attributes["glassbox.cost.source"])
    t.spans.append(s)
    _events(t, s, sp)
    if "glassbox.trace.name" in root_fields or "glassbox.status" in root_fields:
        _root(t, s, root_fields)


def _events(t: Trace, s: Span, sp: Any) -> None:
    for i, e in enumerate(sp.events):
        a = _attrs(e.attributes)
        at = int(e.time_unix_nano)
        rid = _rid(t.trace_id, s.span_id, e.name, at, i)
        if e.name == "glassbox.decision":
            alts = _json_or(a.get("glassbox.decision.alternatives"), [])
            alternatives = [(str(x.get("option")), x.get("score")) for x in alts if isinstance(x, dict)] \
                if isinstance(alts, list) else []  # fmt: skip
            t.decisions.append(Decision(rid, str(a.get("glassbox.decision.what", "")), a.get("glassbox.decision.why"),
                                        a.get("glassbox.decision.confidence"), alternatives,
                                        _json_or(a.get("glassbox.decision.inputs"), None), s.span_id, s.name, at))
        elif e.name == "glassbox.score":
            dims = _json_or(a.get("glassbox.score.dimensions"), {})
            t.scores.append(Score(rid, str(a.get("glassbox.score.name", "score")),
                                  float(a.get("glassbox.score.value", 0.0)), a.get("glassbox.score.max"),
                                  a.get("glassbox.score.passed"), str(a.get("glassbox.score.source", "sdk")),
                                  dims if isinstance(dims, dict) else {}, None, s.span_id, at))  # fmt: skip
        elif "glassbox.evidence" in a:
            payload = _json_or(a["glassbox.evidence"], {})
            t.events.append(Event(rid, e.name, payload if isinstance(payload, dict) else {"value": payload},
                                  s.span_id, at))
        elif e.name != "exception":
            t.events.append(Event(rid, e.name, a or None, s.span_id, at))


def _root(t: Trace, s: Span, f: dict[str, Any]) -> None:
    """The span glassbox recorded as a trace's root: it carries the run's own fields."""
    t.root_span_id = s.span_id
    t.parent_span_id = s.parent_id
    t.name = f.get("glassbox.trace.name") or s.name
    for key, attr in (("workflow", "glassbox.workflow"), ("intent", "glassbox.intent"), ("domain", "glassbox.domain"),
                      ("environment", "glassbox.environment"), ("release", "glassbox.release"),
                      ("user_id", "user.id"), ("session_id", "session.id")):  # fmt: skip
        if f.get(attr) is not None:
            setattr(t, key, f[attr])
    if f.get("glassbox.status"):
        t.status = f["glassbox.status"]
    if isinstance(f.get("glassbox.tags"), list):
        t.tags = [str(x) for x in f["glassbox.tags"]]
    meta = _json_or(f.get("glassbox.metadata"), {})
    t.metadata = meta if isinstance(meta, dict) else {}
    t.input, t.output = s.input, s.output
    s.input = s.output = None


def _finish(t: Trace) -> None:
    """Root, times and status of a segment whose root glassbox did not mark (a foreign OTel trace)."""
    ids = {s.span_id for s in t.spans}
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
    if any(s.status == "error" for s in t.spans) and t.status == "complete" and root is not None \
            and root.status == "error":  # fmt: skip
        t.status = "failed"
    del ids
