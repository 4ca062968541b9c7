"""What glassbox keeps of an OpenTelemetry span besides its attributes, and how it maps back on export.

Shared by the in-process folding of an app's OTel spans (``otel.py``), the OTLP receiver
(``server/otlp.py``) and OTLP export, so the three agree. Nothing here imports OpenTelemetry.

- span kind: ``server``/``client``/``producer``/``consumer`` are kept; ``internal`` (and unspecified,
  which exporters send as internal) is the default and stored as nothing;
- trace state, status message and links are kept as sent;
- resource: every attribute, unless the resource says no more than glassbox itself sends
  (``service.name``, ``glassbox.project``), which the span's service and the run's project already hold;
- scope: name, version and attributes, unless it is glassbox's own scope.
"""

from __future__ import annotations

from typing import Any

# OTLP's SpanKind numbers (the proto enum; the Python API's SpanKind counts from 0 = INTERNAL).
PROTO_KINDS = {2: "server", 3: "client", 4: "producer", 5: "consumer"}
KINDS = frozenset(PROTO_KINDS.values())
_PLAIN_RESOURCE = frozenset({"service.name", "glassbox.project"})

# glassbox stage kinds as OpenInference span kinds, sent on export so Phoenix & co. classify every stage.
OPENINFERENCE_KINDS = {
    "llm": "LLM",
    "embedding": "EMBEDDING",
    "retrieval": "RETRIEVER",
    "rerank": "RERANKER",
    "reranker": "RERANKER",
    "tool": "TOOL",
    "agent": "AGENT",
    "guardrail": "GUARDRAIL",
    "evaluator": "EVALUATOR",
}
OPENINFERENCE_DEFAULT = "CHAIN"  # a pipeline stage that is none of the above


def kind_from_name(name: str | None) -> str | None:
    """``server`` from ``SpanKind.SERVER.name`` (any case); None for internal / unknown."""
    k = (name or "").lower()
    return k if k in KINDS else None


def resource_to_keep(attrs: dict[str, Any]) -> dict[str, Any] | None:
    return dict(attrs) if attrs and not attrs.keys() <= _PLAIN_RESOURCE else None


def scope_to_keep(name: str | None, version: str | None, attrs: dict[str, Any] | None) -> dict[str, Any] | None:
    if not name and not version and not attrs:
        return None
    if name == "glassbox" and not attrs:
        return None
    out: dict[str, Any] = {"name": name or ""}
    if version:
        out["version"] = version
    if attrs:
        out["attributes"] = dict(attrs)
    return out


def openinference_kind(kind: str) -> str:
    return OPENINFERENCE_KINDS.get(kind, OPENINFERENCE_DEFAULT)
