"""The SDK core is acyclic and sits below every other layer (docs/architecture.md).

The core's module list is the one in pyproject.toml's ``sdk-core`` import-linter contract, so the
contract (checked by ``lint-imports`` in .ci/run) and this test cannot drift apart.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _core_graph() -> tuple[set[str], dict[str, set[str]]]:
    graph = grimp.build_graph("glassbox", exclude_type_checking_imports=True)
    roots = _contract("sdk-core")["source_modules"]
    core = {m for m in graph.modules if any(m == r or m.startswith(r + ".") for r in roots)}
    return core, {m: graph.find_modules_directly_imported_by(m) & core for m in core}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle among the modules (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(edges):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(edges[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges[nxt])))
    return None


def test_the_sdk_core_has_no_import_cycle():
    core, edges = _core_graph()
    assert {"glassbox.recorder", "glassbox.runtime", "glassbox.otel", "glassbox.cost.calls"} <= core
    assert _cycle(edges) is None, " -> ".join(_cycle(edges) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_never_imports_the_facade():
    # The facade (glassbox/__init__) reaches the query API and the store: a core module importing it
    # would make the whole core depend on every layer above (the knot issue 17 cut).
    graph = grimp.build_graph("glassbox", exclude_type_checking_imports=True)
    core, _ = _core_graph()
    assert sorted(m for m in core if "glassbox" in graph.find_modules_directly_imported_by(m)) == []


def test_the_layers_contract_names_every_layer_package():
    layers = " ".join(_contract("layers")["layers"])
    for package in (
        "cli",
        "server",
        "analysis",
        "evaluation",
        "monitoring",
        "experiments",
        "reports",
        "stats",
        "store",
    ):
        assert f"glassbox.{package}" in layers
        assert (ROOT / "src" / "glassbox" / package / "__init__.py").is_file()
