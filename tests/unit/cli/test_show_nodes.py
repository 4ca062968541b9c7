"""`glassbox show`: the per-node performance and cost table (seed 002), slowest first, with the total."""

from __future__ import annotations

import time

from typer.testing import CliRunner

import glassbox as gb
from glassbox.cli.app import app
from glassbox.cli.nodes import node_rows


def _body(model: str, prompt: int, out: int) -> dict:
    return {
        "object": "chat.completion",
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": out},
    }


def test_show_lists_nodes_slowest_first_with_costs(configured):
    with gb.trace("warm-up"):
        gb.llm(_body("gpt-4o-mini", 1, 1))  # the first priced call loads the price table
    with gb.trace("q", workflow="qa") as t:
        with gb.stage("retrieve", kind="retrieval"):
            time.sleep(0.03)
        with gb.stage("synthesize", kind="llm"):
            time.sleep(0.01)
            gb.llm(_body("gpt-4o-mini", 1000, 100))
        with gb.stage("private", kind="llm"):
            gb.llm(_body("acme-7b", 10, 1))
    gb.flush()
    out = CliRunner().invoke(app, ["show", t.trace_id, "--store", configured])
    assert out.exit_code == 0, out.output
    text = out.stdout[out.stdout.index("Performance & cost by node") :]
    assert text.index("retrieve") < text.index("synthesize") < text.index("private")  # slowest first
    assert "1,000/100" in text.replace(" ", "") and "(unknown)" in text
    flat = " ".join(text.split())
    assert "Total: $0.0002 (unknown)" in flat and "1 without a price" in flat

    rows = node_rows(t)
    assert [r["node"] for r in rows] == ["retrieve", "synthesize", "private"]
    assert 40 < rows[0]["percent"] < 100 and sum(r["percent"] for r in rows) <= 100.5
    assert rows[1]["cost_source"] == "priced" and rows[2]["cost_usd"] is None
