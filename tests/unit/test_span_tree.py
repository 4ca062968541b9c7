"""model.span_tree: one walk of a trace's stages for the CLI, the dashboard and golden-trace diffs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glassbox.model import Node, Span, Trace, span_tree, walk


def _trace(edges: list[tuple[str, str | None, int]], root: str | None = "r") -> Trace:
    t = Trace("0" * 32, "t")
    t.root_span_id = root
    t.spans = [Span(t.trace_id, sid, parent, sid, "stage", start) for sid, parent, start in edges]
    return t


def _by_hand(trace: Trace, include_root: bool) -> list[tuple[int, str]]:
    """The recursive walk the CLI and the dashboard each used to carry."""
    spans = [s for s in trace.spans if include_root or s.span_id != trace.root_span_id]
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)
    out: list[tuple[int, str]] = []

    def rec(parent: str | None, depth: int) -> None:
        for s in sorted(children.get(parent, []), key=lambda x: (x.start_ns, x.span_id)):
            out.append((depth, s.span_id))
            rec(s.span_id, depth + 1)

    rec(None, 0)
    return out


def test_children_nest_in_start_order_and_orphans_are_top_level() -> None:
    t = _trace([("r", None, 0), ("b", "r", 20), ("a", "r", 10), ("a1", "a", 11), ("lost", "gone", 5)])
    tree = span_tree(t)
    assert [n.span.span_id for n in tree] == ["r", "lost"]
    root = tree[0]
    assert isinstance(root, Node) and root.depth == 0
    assert [c.span.span_id for c in root.children] == ["a", "b"]
    assert [(n.depth, n.span.span_id) for n in walk(tree)] == [(0, "r"), (1, "a"), (2, "a1"), (1, "b"), (0, "lost")]


def test_without_the_root_its_children_are_top_level() -> None:
    t = _trace([("r", None, 0), ("a", "r", 10), ("a1", "a", 11), ("lost", "gone", 5)])
    assert [(n.depth, n.span.span_id) for n in walk(span_tree(t, include_root=False))] == [
        (0, "lost"),
        (0, "a"),
        (1, "a1"),
    ]


def test_a_very_deep_trace_does_not_hit_the_recursion_limit() -> None:
    edges = [("s0", None, 0)] + [(f"s{i}", f"s{i - 1}", i) for i in range(1, 5000)]
    nodes = list(walk(span_tree(_trace(edges, root="s0"))))
    assert len(nodes) == 5000 and nodes[-1].depth == 4999


def test_an_empty_trace_has_no_nodes() -> None:
    assert span_tree(_trace([])) == []


ids = st.sampled_from([f"s{i}" for i in range(12)])


@given(
    st.lists(
        st.tuples(ids, st.one_of(st.none(), ids, st.just("elsewhere")), st.integers(0, 5)),
        unique_by=lambda e: e[0],
        max_size=12,
    ),
    st.booleans(),
)
def test_walk_matches_the_recursive_walk_by_hand(edges: list[tuple[str, str | None, int]], include_root: bool) -> None:
    t = _trace(edges, root=edges[0][0] if edges else None)
    assert [(n.depth, n.span.span_id) for n in walk(span_tree(t, include_root=include_root))] == _by_hand(
        t, include_root
    )
