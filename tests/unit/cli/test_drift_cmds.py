"""glassbox drift check / pin / history: output, the time series, exit codes (0 no drift, 1 drift, 2 bad input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.store.store import Store

sys.path.insert(0, str(Path(__file__).parents[1] / "monitoring"))
from drift_seed import seed

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_check_exits_1_on_drift_and_0_without(tmp_path):
    url = f"sqlite:///{tmp_path}/d.db"
    st = Store(url)
    seed(st, shift=0.2)
    st.close()
    r = run("drift", "check", "--store", url, "-f", "confidence", "-f", "quality_score")
    assert r.exit_code == 1, r.output
    assert "confidence" in r.output and "critical" in r.output and "1 drifted (worst: critical)" in r.output
    ok = run("drift", "check", "--store", url, "-f", "quality_score", "--json")
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.output)
    assert body["drifted"] == 0 and body["results"][0]["method"] == "ks" and body["results"][0]["status"] == "ok"
    hist = json.loads(run("drift", "history", "--store", url, "--json").output)
    assert {h["field"] for h in hist} == {"confidence", "quality_score"} and len(hist) == 3


def test_not_enough_data_is_not_drift(tmp_path):
    url = f"sqlite:///{tmp_path}/d.db"
    st = Store(url)
    seed(st, n_ref=10, n_cur=5, shift=0.5)
    st.close()
    r = run("drift", "check", "--store", url, "-f", "confidence")
    assert r.exit_code == 0 and "too few" in r.output


def test_pin_and_compare_with_a_baseline(tmp_path):
    url = f"sqlite:///{tmp_path}/d.db"
    st = Store(url)
    seed(st, shift=0.2)
    st.close()
    r = run("drift", "pin", "launch", "--store", url, "-f", "confidence", "--until", "2d")
    assert r.exit_code == 0 and "pinned launch: confidence (200 values)" in r.output
    r = run("drift", "check", "--store", url, "-f", "confidence", "--baseline", "launch", "--no-save")
    assert r.exit_code == 1 and "baseline launch" in r.output
    missing = run("drift", "check", "--store", url, "-f", "duration_ms", "--baseline", "launch")
    assert missing.exit_code == 2 and "no baseline 'launch' of field 'duration_ms'" in missing.output


def test_bad_input_exits_2_with_one_line(tmp_path):
    url = f"sqlite:///{tmp_path}/d.db"
    Store(url).ready()
    for args, needle in (
        (["-f", "nope"], "drift field"),
        (["--by", "user"], "drift by"),
        (["--current", "soon"], "current"),
        (["--method", "kl"], "expected one of"),
    ):
        r = run("drift", "check", "--store", url, *args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output and r.output.count("\n") == 1, r.output
    assert run("drift", "check", "--store", str(tmp_path / "absent.db")).exit_code == 2
