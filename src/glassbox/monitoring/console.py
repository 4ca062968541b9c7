"""A console exporter for development: ``GLASSBOX_CONSOLE=1`` prints each finished trace as a tree (stderr).

qa 3f2a9c41e0b7… complete 812.4 ms $0.0021 quality 0.86
├─ retrieve 120.3 ms
│  └─ embed 30.1 ms
└─ llm.answer 650.2 ms  gpt-4o-mini 1200/180 tok $0.0021
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO

from glassbox.model import Trace, span_tree


def _ms(start: int, end: int | None) -> str:
    return "open" if end is None else f"{(end - start) / 1e6:.1f} ms"


def render(t: Trace) -> str:
    """The trace as text lines: the run, then its stages as a tree."""
    head = [t.workflow or t.name or "trace", t.trace_id[:12] + "…", t.status, _ms(t.start_ns, t.end_ns)]
    if t.cost_usd:
        head.append(f"${t.cost_usd:.4f}")
    if t.quality_score is not None:
        head.append(f"quality {t.quality_score:g}")
    lines = [" ".join(head)]

    def walk(nodes: list, prefix: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            s = node.span
            bits = [s.name, _ms(s.start_ns, s.end_ns)]
            if s.model:
                bits.append(s.model)
            if s.tokens_in is not None or s.tokens_out is not None:
                bits.append(f"{s.tokens_in or 0}/{s.tokens_out or 0} tok")
            if s.cost_usd:
                bits.append(f"${s.cost_usd:.4f}")
            if s.status == "error":
                bits.append(f"ERROR {(s.error or {}).get('type', '')}".rstrip())
            lines.append(f"{prefix}{'└─ ' if last else '├─ '}{' '.join(bits)}")
            walk(node.children, prefix + ("   " if last else "│  "))

    roots = span_tree(t)
    top = roots[0].children if len(roots) == 1 and roots[0].span.span_id == t.root_span_id else roots
    walk(top, "")
    return "\n".join(lines)


class ConsoleSink:
    """Writer sink printing every finished run (not the late segments) as a tree."""

    name = "console"

    def __init__(self, file: IO[str] | None = None) -> None:
        self.file = file

    def write(self, traces: Sequence[Trace]) -> None:
        out = self.file or sys.stderr
        for t in traces:
            if t.root_span_id is not None:
                out.write(render(t) + "\n")
        out.flush()

    def close(self) -> None:
        pass
