"""glassbox exp … and glassbox flag …: definitions with history, analysis, reports, power; exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from exp_runs import seed_runs

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_power_matches_statsmodels_and_rejects_bad_input() -> None:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    r = run("exp", "power", "--baseline-rate", "0.1", "--mde", "0.02", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    n = NormalIndPower().solve_power(proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8)
    assert out["control"] == int(-(-n // 1)) and out["total"] == 2 * out["control"]
    assert run("exp", "power", "--baseline-rate", "0.1", "--mde", "0.02", "--relative").exit_code == 0
    bad = run("exp", "power", "--baseline-rate", "1.5", "--mde", "0.02")
    assert bad.exit_code == 2 and "baseline rate must be between 0 and 1" in bad.output
    assert run("exp", "power", "--mde", "0.02").exit_code == 2


def test_flag_lifecycle(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/g.db"
    assert (
        run(
            "flag",
            "set",
            "rerank",
            "--default",
            "false",
            "--value",
            "true",
            "--rollout",
            "0.2",
            "--by",
            "ana",
            "--store",
            url,
        ).exit_code
        == 0
    )
    assert run("flag", "set", "rerank", "--condition", '{"plan": "pro"}', "--by", "bo", "--store", url).exit_code == 0
    r = run("flag", "kill", "rerank", "--by", "oncall", "--store", url)
    assert r.exit_code == 0 and "killed (version 3)" in r.output
    shown = json.loads(run("flag", "show", "rerank", "--json", "--store", url).output)
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [
        ("create", "ana"),
        ("update", "bo"),
        ("kill", "oncall"),
    ]
    assert shown["spec"]["rules"] == [{"value": True, "condition": {"plan": "pro"}, "rollout": 0.2}]
    listed = json.loads(run("flag", "list", "--json", "--store", url).output)
    assert listed[0]["spec"]["killed"] is True
    bad = run("flag", "set", "x", "--rollout", "4", "--store", url)
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output
    missing = run("flag", "kill", "ghost", "--store", url)
    assert missing.exit_code == 1 and "no flag named 'ghost'" in missing.output


def test_exp_sync_analyze_report(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/g.db"
    toml = tmp_path / "glassbox.toml"
    toml.write_text(
        '[[experiment]]\nname = "prompt"\nvariants = ["control", "concise"]\n'
        'metrics = ["avg_quality", "success_rate"]\n'
    )
    r = run("exp", "sync", "--file", str(toml), "--store", url)
    assert r.exit_code == 0 and "experiment prompt: version 1" in r.output
    store = Store(url)
    seed_runs(store, quality=(0.7, 0.78), n=500, seed=8, define=False)
    store.close()
    r = run("exp", "analyze", "prompt", "--store", url)
    assert r.exit_code == 0, r.output
    assert "Ship concise" in r.output and "quality score" in r.output and "SRM p =" in r.output
    doc = json.loads(run("exp", "analyze", "prompt", "--json", "--sequential", "--store", url).output)
    assert doc["settings"]["sequential"] is True
    out = tmp_path / "r.html"
    assert run("exp", "report", "prompt", "--format", "html", "-o", str(out), "--store", url).exit_code == 0
    assert "<h1>Experiment prompt</h1>" in out.read_text()
    assert run("exp", "report", "prompt", "--format", "pdf", "--store", url).exit_code == 2
    assert run("exp", "analyze", "prompt", "--correction", "sidak", "--store", url).exit_code == 2
    listed = run("exp", "list", "--store", url)
    assert "prompt" in listed.output and "running" in listed.output


def test_srm_exits_1(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/g.db"
    store = Store(url)
    seed_runs(store, n=600, split=0.65, seed=9)
    store.close()
    r = run("exp", "analyze", "prompt", "--store", url)
    assert r.exit_code == 1 and "sample ratio mismatch" in r.output


@pytest.mark.parametrize("cmd", [["flags", "--help"], ["exp", "--help"], ["flag", "--help"]])
def test_no_clash_with_calibration_flags(cmd: list[str]) -> None:
    assert run(*cmd).exit_code == 0
