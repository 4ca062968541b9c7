"""The public surface: names pinned, and `import glassbox` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import glassbox as gb


def test_all_lists_exactly_the_public_names():
    typing_names = ("annotations", "TYPE_CHECKING", "Any", "Sequence", "Settings")
    public = {"__version__"} | {n for n in vars(gb) if not n.startswith("_") and n not in typing_names}
    modules = {n for n in public if type(getattr(gb, n)).__name__ == "module"}
    assert set(gb.__all__) == public - modules


def test_contract_calls_exist():
    for name in (
        "configure",
        "trace",
        "stage",
        "traced",
        "decision",
        "evidence",
        "score",
        "flush",
        "shutdown",
        "current_trace",
        "current_stage",
        "inject",
        "extract",
        "wrap",
        "health",
        "llm",
        "check_budget",
        "scorer",
        "calibration_rule",
        "report_rule",
        "start_metrics_server",
        "feedback",
        "health_check",
        "health_app",
    ):
        assert callable(getattr(gb, name)), name


def test_import_glassbox_loads_no_heavy_modules():
    code = (
        "import sys, json, glassbox; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy','alembic','fastapi','typer','rich','pydantic','pydantic_settings','psycopg',"
        "'orjson','opentelemetry','starlette','uvicorn','numpy','scipy') or m.startswith('glassbox.reports'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_report_rule_registers_a_recommendation_rule_of_every_report():
    from glassbox.reports import rules

    @gb.report_rule("test_facade_rule")
    def facade_rule(scope):
        return []

    try:
        assert rules.rules()["test_facade_rule"] is facade_rule
    finally:
        rules._RULES.pop("test_facade_rule", None)
