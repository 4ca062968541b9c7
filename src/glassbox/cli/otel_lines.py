"""The verbose breakdown's OpenTelemetry section: what a span kept from OTel besides its attributes."""

from __future__ import annotations

from rich.text import Text

from glassbox.cli import formats as fmt
from glassbox.model import Trace


def otel_lines(trace: Trace) -> list[Text]:
    """One line per span that came with OTel fields: kind, status message, scope, links, trace state, resource."""
    lines = []
    for s in trace.spans:
        parts = []
        if s.otel_kind:
            parts.append(s.otel_kind)
        if s.status_message:
            parts.append(f"status: {fmt.preview(s.status_message, 120)}")
        if s.scope:
            parts.append(
                f"scope {s.scope.get('name') or '?'}" + (f" {s.scope['version']}" if s.scope.get("version") else "")
            )
        if s.links:
            parts.append(f"{len(s.links)} link{'' if len(s.links) == 1 else 's'}")
        if s.trace_state:
            parts.append(f"tracestate {fmt.preview(s.trace_state, 60)}")
        if s.resource:
            service = s.resource.get("service.name") or "?"
            parts.append(f"resource {service} ({len(s.resource)} attributes)")
        if parts:
            line = Text(f"  {s.name}: ")
            line.append(" · ".join(parts), style="dim")
            lines.append(line)
    return lines
