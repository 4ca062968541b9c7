"""Experiment reports: Markdown, HTML (escaped) and JSON carry the same recommendation."""

from __future__ import annotations

import json

import pytest

from glassbox.errors import QueryError
from glassbox.experiments.report import experiment_report


def test_three_formats_agree(store, seeded) -> None:
    seeded(store, quality=(0.70, 0.78), n=500, seed=6)
    md = experiment_report(store, "prompt", "markdown")
    assert md.startswith("# Experiment prompt") and "Ship **concise**" in md and "| quality score | concise |" in md
    assert "Sample ratio check" in md and "holm correction" in md
    doc = json.loads(experiment_report(store, "prompt", "json"))
    assert doc["verdict"]["decision"] == "ship" and doc["verdict"]["winner"] == "concise"
    assert doc["headline"].startswith("Ship concise (confidence")
    assert {g["metric"] for g in doc["guardrails"]} == {"error_rate", "avg_cost_usd", "p95_duration_ms"}
    page = experiment_report(store, "prompt", "html")
    assert "<h1>Experiment prompt</h1>" in page and "verdict-ship" in page


def test_html_escapes_hostile_names(store, seeded) -> None:
    seeded(store, n=100, seed=7, name="<img src=x onerror=alert(1)>", variants=("control", "<b>x</b>"))
    page = experiment_report(store, "<img src=x onerror=alert(1)>", "html")
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_unknown_format(store) -> None:
    with pytest.raises(QueryError, match="markdown, html, json"):
        experiment_report(store, "prompt", "pdf")
