"""Golden traces: a run kept as the reference, and the diff of a later run against it.

``capture(store, trace_id, "refund-policy")`` stores a snapshot of the trace (so purging the trace later
loses nothing). ``compare(golden, run)`` reports:

- the stage tree: stages missing, extra or reordered, by name and kind (depth-first order, root left out);
- decisions that changed: a different ``what`` at the same stage, or a confidence moved beyond the tolerance;
- latency beyond its tolerance (default +20 %, and by more than ``latency_floor_ms``, 5 ms), quality below
  it (default -0.05), cost beyond it (+20 %);
- output similarity (rapidfuzz ``ratio``, 0..1) under its threshold (default 0.8).

Templates (``rag``: retrieve -> rerank -> generate; ``agent_loop``: plan -> act -> observe, repeated)
are goldens with a shape and no trace: a run matches when its stages contain the shape in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from glassbox.errors import GlassboxError, NotFound

if TYPE_CHECKING:
    from glassbox.model import Trace
    from glassbox.store.store import Store

# latency_floor_ms: a slowdown smaller than this never breaches (sub-millisecond runs jitter by more than 20 %).
DEFAULT_TOLERANCES: dict[str, Any] = {
    "latency": "+20%",
    "quality": -0.05,
    "cost": "+20%",
    "similarity": 0.8,
    "confidence": 0.1,
    "latency_floor_ms": 5.0,
}
# A template stage: (name fragment or None, kind or None); the run must hold them in this order.
TEMPLATES: dict[str, list[tuple[str | None, str | None]]] = {
    "rag": [(None, "retrieval"), ("rerank", None), (None, "llm")],
    "agent_loop": [("plan", None), (None, "tool"), ("observe", None)],
}


class GoldenNotFound(NotFound):
    """No golden trace of that name."""


class GoldenTraceMissing(NotFound):
    """A golden has no snapshot and its trace is no longer in the store."""


@dataclass
class Golden:
    name: str
    project: str = "default"
    trace_id: str | None = None
    workflow: str | None = None
    trace_name: str | None = None
    template: str | None = None
    tolerances: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    captured_at: datetime | None = None

    def tolerance(self, key: str) -> Any:
        return self.tolerances.get(key, DEFAULT_TOLERANCES[key])

    def reference(self, store: Store | None = None) -> Trace | None:
        """The reference trace: the snapshot, else the stored trace (GoldenTraceMissing when gone)."""
        from glassbox.model import Trace

        if self.snapshot:
            return Trace.from_dict(self.snapshot)
        if self.template:
            return None
        if store is not None and self.trace_id:
            from glassbox.errors import TraceNotFound

            try:
                return store.get_trace(self.trace_id)
            except TraceNotFound:
                pass
        raise GoldenTraceMissing(
            f"golden {self.name!r}: its trace {self.trace_id} is no longer in the store and "
            "it has no snapshot; capture it again from a current run"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "trace_id": self.trace_id,
            "workflow": self.workflow,
            "trace_name": self.trace_name,
            "template": self.template,
            "tolerances": self.tolerances,
            "metadata": self.metadata,
            "snapshot": self.snapshot,
            "captured_at": self.captured_at.isoformat() + "Z" if self.captured_at else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Golden:
        if not isinstance(d, dict) or not d.get("name"):
            raise GlassboxError("a golden needs a name")
        if d.get("template") and d["template"] not in TEMPLATES:
            raise GlassboxError(
                f"golden {d['name']!r}: unknown template {d['template']!r}; known: {', '.join(TEMPLATES)}"
            )
        when = d.get("captured_at")
        at = datetime.fromisoformat(when.replace("Z", "")) if isinstance(when, str) and when else None
        return cls(
            d["name"],
            d.get("project") or "default",
            d.get("trace_id"),
            d.get("workflow"),
            d.get("trace_name"),
            d.get("template"),
            dict(d.get("tolerances") or {}),
            dict(d.get("metadata") or {}),
            d.get("snapshot"),
            at,
        )


# -- the diff ----------------------------------------------------------------------------------
@dataclass
class GoldenDiff:
    golden: str
    trace_id: str
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    reordered: list[str] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)  # latency/quality/cost/similarity
    breaches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def to_dict(self) -> dict[str, Any]:
        return {
            "golden": self.golden,
            "trace_id": self.trace_id,
            "ok": self.ok,
            "breaches": self.breaches,
            "stages": {"missing": self.missing, "extra": self.extra, "reordered": self.reordered},
            "decisions": self.decisions,
            "figures": self.figures,
        }

    def __str__(self) -> str:
        head = f"golden {self.golden!r} vs trace {self.trace_id}: " + ("ok" if self.ok else "BREACH")
        return "\n".join([head, *(f"  - {b}" for b in self.breaches)])


def stage_sequence(trace: Trace) -> list[tuple[str, str]]:
    """(name, kind) of every stage but the root, depth-first in start order."""
    from glassbox.model import span_tree, walk

    return [(n.span.name, n.span.kind) for n in walk(span_tree(trace, include_root=False))]


def _label(item: tuple[str, str]) -> str:
    return f"{item[0]} ({item[1]})"


def _lcs(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    """A longest common subsequence (stage lists are short: quadratic is fine)."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
    out, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def diff_stages(golden: Sequence[tuple[str, str]], run: Sequence[tuple[str, str]]) -> tuple[list[str], ...]:
    """(missing, extra, reordered) labels: counted as multisets; reordered = common but off the LCS."""
    from collections import Counter

    def surplus(mine: Sequence[tuple[str, str]], theirs: Sequence[tuple[str, str]]) -> list[str]:
        other, seen, out = Counter(theirs), Counter(), []
        for k in mine:
            seen[k] += 1
            if seen[k] > other[k]:
                out.append(_label(k))
        return out

    common_g = _common(golden, Counter(run))
    keep = Counter(_lcs(common_g, _common(run, Counter(golden))))
    reordered = []
    for k in common_g:
        if keep[k] > 0:
            keep[k] -= 1
        else:
            reordered.append(_label(k))
    return surplus(golden, run), surplus(run, golden), reordered


def _common(seq: Sequence[Any], other: Any) -> list[Any]:
    left = dict(other)
    out = []
    for k in seq:
        if left.get(k, 0) > 0:
            left[k] -= 1
            out.append(k)
    return out


def _template_missing(template: str, run: Sequence[tuple[str, str]]) -> list[str]:
    """Template stages the run does not hold in order (greedy subsequence match)."""
    pattern = TEMPLATES[template]
    missing: list[str] = []
    i = 0
    for frag, kind in pattern:
        j = i
        while j < len(run) and not _fits(run[j], frag, kind):
            j += 1
        if j == len(run):
            missing.append(f"{frag or '*'} ({kind or '*'})")  # the later stages may still follow in order
        else:
            i = j + 1
    return missing


def _fits(item: tuple[str, str], frag: str | None, kind: str | None) -> bool:
    return (frag is None or frag in item[0].lower()) and (kind is None or item[1] == kind)


def _tol(value: Any, key: str) -> tuple[float, bool]:
    from glassbox.evaluation.gate import parse_tolerance

    t = parse_tolerance(value, f"golden tolerance {key}")
    return t.value, t.relative


def compare(golden: Golden, run: Trace, reference: Trace | None = None) -> GoldenDiff:
    """The run's differences from the golden (see the module docstring)."""
    d = GoldenDiff(golden.name, run.trace_id)
    seq = stage_sequence(run)
    if golden.template:
        d.missing = _template_missing(golden.template, seq)
        if d.missing:
            d.breaches.append(f"stages missing from the {golden.template} shape: {', '.join(d.missing)}")
        return d
    ref = reference if reference is not None else golden.reference()
    assert ref is not None
    d.missing, d.extra, d.reordered = diff_stages(stage_sequence(ref), seq)
    for what, items in (("missing", d.missing), ("extra", d.extra), ("reordered", d.reordered)):
        if items:
            d.breaches.append(f"{what} stages: {', '.join(items)}")
    _diff_decisions(d, ref, run, float(golden.tolerance("confidence")))
    _diff_figures(d, golden, ref, run)
    return d


def _diff_decisions(d: GoldenDiff, ref: Trace, run: Trace, conf_tol: float) -> None:
    def by_stage(t: Trace) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for dec in sorted(t.decisions, key=lambda x: (x.at_ns, x.id)):
            out.setdefault(dec.stage or "", []).append(dec)
        return out

    old, new = by_stage(ref), by_stage(run)
    for stage in dict.fromkeys([*old, *new]):
        for i in range(max(len(old.get(stage, [])), len(new.get(stage, [])))):
            a = old.get(stage, [])[i] if i < len(old.get(stage, [])) else None
            b = new.get(stage, [])[i] if i < len(new.get(stage, [])) else None
            change: dict[str, Any] = {
                "stage": stage or None,
                "golden": a.what if a else None,
                "run": b.what if b else None,
            }
            if a is None or b is None or a.what != b.what:
                change["change"] = "what"
            elif a.confidence is not None and b.confidence is not None and abs(b.confidence - a.confidence) > conf_tol:
                change.update(change="confidence", golden_confidence=a.confidence, run_confidence=b.confidence)
            else:
                continue
            d.decisions.append(change)
            if change["change"] == "what":
                d.breaches.append(f"decision at {stage or 'the trace'}: {change['golden']!r} -> {change['run']!r}")
            else:
                d.breaches.append(
                    f"decision {b.what!r} at {stage or 'the trace'}: confidence {a.confidence:.2f} -> "
                    f"{b.confidence:.2f} (tolerance {conf_tol:g})"
                )


def _diff_figures(d: GoldenDiff, golden: Golden, ref: Trace, run: Trace) -> None:
    for key, old, new in (("latency", ref.duration_ms, run.duration_ms), ("cost", ref.cost_usd, run.cost_usd)):
        if old is None or new is None:
            continue
        tol, rel = _tol(golden.tolerance(key), key)
        limit = old * (1 + tol) if rel else old + tol
        d.figures[key] = {"golden": old, "run": new, "limit": limit}
        floor = float(golden.tolerance("latency_floor_ms")) if key == "latency" else 0.0
        if new > limit and new - old > floor:
            d.breaches.append(
                f"{key} {new:.4g} above {limit:.4g} (golden {old:.4g}, tolerance {golden.tolerance(key)})"
            )
    q_old, q_new = ref.quality_score, run.quality_score
    if q_old is not None:
        tol = float(golden.tolerance("quality"))
        d.figures["quality"] = {"golden": q_old, "run": q_new, "limit": q_old + tol}
        if q_new is None or q_new < q_old + tol:
            d.breaches.append(
                f"quality {q_new if q_new is not None else 'missing'} below {q_old + tol:.4g} "
                f"(golden {q_old:.4g}, tolerance {tol:+g})"
            )
    if ref.output is not None:
        from rapidfuzz import fuzz

        from glassbox.quality_signals import answer_text

        sim = fuzz.ratio(answer_text(ref.output), answer_text(run.output)) / 100.0
        threshold = float(golden.tolerance("similarity"))
        d.figures["similarity"] = {"golden": 1.0, "run": sim, "limit": threshold}
        if sim < threshold:
            d.breaches.append(f"output similarity {sim:.2f} below {threshold:g}")


# -- the store ------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def save(store: Store, golden: Golden) -> Golden:
    """Insert or replace a golden by (project, name)."""
    from sqlalchemy import delete, insert

    from glassbox.store.tables.evaluation import goldens

    golden.captured_at = golden.captured_at or _now()
    row = golden.to_dict()
    row["captured_at"] = golden.captured_at
    with store.ready().engine.begin() as conn:
        conn.execute(delete(goldens).where(goldens.c.project == golden.project, goldens.c.name == golden.name))
        conn.execute(insert(goldens), [row])
    return golden


def capture(
    store: Store,
    trace_id: str,
    name: str,
    *,
    project: str | None = None,
    metadata: dict[str, Any] | None = None,
    tolerances: dict[str, Any] | None = None,
) -> Golden:
    """Keep stored trace ``trace_id`` as golden ``name`` (replacing an older golden of that name), in the
    trace's project unless ``project`` is given."""
    if not name or not name.strip():
        raise GlassboxError("a golden needs a name")
    for key, value in (tolerances or {}).items():
        if key not in DEFAULT_TOLERANCES:
            raise GlassboxError(f"unknown golden tolerance {key!r}; known: {', '.join(DEFAULT_TOLERANCES)}")
        if key in ("latency", "cost"):
            _tol(value, key)
    trace = store.get_trace(trace_id)
    # Runs are matched by the trace's workflow column when it has one, else by the trace's name.
    g = Golden(
        name,
        project or trace.project or "default",
        trace.trace_id,
        trace.workflow,
        trace.name,
        None,
        dict(tolerances or {}),
        dict(metadata or {}),
        trace.to_dict(),
    )
    return save(store, g)


def template(store: Store, name: str, shape: str, *, workflow: str | None = None, project: str = "default") -> Golden:
    """A template golden (``rag`` or ``agent_loop``) checked against runs of ``workflow``."""
    if shape not in TEMPLATES:
        raise GlassboxError(f"unknown template {shape!r}; known: {', '.join(TEMPLATES)}")
    return save(store, Golden(name, project, None, workflow, None, shape))


def get(store: Store, name: str, *, project: str = "default") -> Golden:
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import goldens

    with store.ready().engine.connect() as conn:
        row = conn.execute(select(goldens).where(goldens.c.project == project, goldens.c.name == name)).first()
    if row is None:
        raise GoldenNotFound(f"no golden {name!r} in project {project!r} (see `glassbox golden list`)")
    return _from_row(row)


def _from_row(row: Any) -> Golden:
    return Golden(
        row.name,
        row.project,
        row.trace_id,
        row.workflow,
        row.trace_name,
        row.template,
        dict(row.tolerances or {}),
        dict(row.metadata or {}),
        row.snapshot,
        row.captured_at,
    )


def list_goldens(store: Store, *, project: str | None = None) -> list[Golden]:
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import goldens

    q = select(goldens).order_by(goldens.c.project, goldens.c.name)
    if project is not None:
        q = q.where(goldens.c.project == project)
    with store.ready().engine.connect() as conn:
        return [_from_row(r) for r in conn.execute(q).all()]


def delete_golden(store: Store, name: str, *, project: str = "default") -> None:
    from sqlalchemy import delete

    from glassbox.store.tables.evaluation import goldens

    with store.ready().engine.begin() as conn:
        n = conn.execute(delete(goldens).where(goldens.c.project == project, goldens.c.name == name)).rowcount
    if not n:
        raise GoldenNotFound(f"no golden {name!r} in project {project!r}")


def export_jsonl(goldens: Iterable[Golden], out: IO[str] | None = None) -> str:
    text = "".join(json.dumps(g.to_dict(), default=str, sort_keys=True) + "\n" for g in goldens)
    if out is not None:
        out.write(text)
    return text


def import_jsonl(store: Store, text: str, *, source: str = "<jsonl>") -> list[Golden]:
    """Store every golden of a JSONL export; any bad line fails the whole import (nothing written)."""
    from glassbox.evaluation.datasets import DatasetError, Problem

    items, problems = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Golden.from_dict(json.loads(line)))
        except (json.JSONDecodeError, GlassboxError, ValueError, TypeError) as exc:
            problems.append(Problem(n, None, str(exc)))
    if problems:
        raise DatasetError(source, problems)
    return [save(store, g) for g in items]


def check(
    store: Store, *, since: Any = "1h", project: str | None = None, names: Sequence[str] = (), limit: int = 50
) -> list[GoldenDiff]:
    """Recent runs (of each golden's workflow and trace name) compared with their goldens."""
    from glassbox.analysis.query import Query

    goldens = [g for g in list_goldens(store, project=project) if not names or g.name in names]
    missing = set(names) - {g.name for g in goldens}
    if missing:
        raise GoldenNotFound(f"no golden {sorted(missing)[0]!r}")
    q = Query(store)
    out: list[GoldenDiff] = []
    for g in goldens:
        ref = g.reference(store)
        filters: dict[str, Any] = {"since": since, "project": g.project}
        if g.workflow:
            filters["workflow"] = g.workflow
        same_name = None if g.workflow or not g.trace_name else (lambda item, n=g.trace_name: item["name"] == n)
        for item in q.traces(limit=limit, predicate=same_name, **filters).items:
            if item["trace_id"] != g.trace_id:
                out.append(compare(g, q.trace(item["trace_id"]), ref))
    return out
