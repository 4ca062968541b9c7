"""`glassbox import`: the audit trail rebuilds a store, idempotently, skipping bad lines."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.demo import run_demo
from glassbox.store.store import Store


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def recorded(tmp_path):
    """(store URL, trail folder) of five demo runs recorded by the SDK."""
    url = f"sqlite:///{tmp_path}/orig/glassbox.db"
    run_demo(5, 21, store=url, trail_dir=str(tmp_path / "trail"), pace=0, span_days=0)  # one day: one trail file
    return url, tmp_path / "trail"


# Calibration flags are added to the database after a trace is stored, so the trail does not carry them.
_LATER = ("alerts", "flagged_for_review")


def _all(url: str) -> dict[str, dict]:
    st = Store(url)
    try:
        return {
            s["trace_id"]: {k: v for k, v in st.get_trace(s["trace_id"]).to_dict().items() if k not in _LATER}
            for s in st.list_traces(limit=10_000)
        }
    finally:
        st.close()


def _counts(url: str) -> dict[str, int]:
    st = Store(url)
    try:
        return st.counts()
    finally:
        st.close()


def test_import_reproduces_the_traces_in_a_fresh_store(runner, recorded, tmp_path):
    orig, trail = recorded
    fresh = f"sqlite:///{tmp_path}/fresh/glassbox.db"
    result = runner.invoke(app, ["import", str(trail), "--store", fresh])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "imported 5 traces from 1 file (0 lines skipped)"
    assert result.stderr == ""
    assert _all(fresh) == _all(orig)
    assert {k: v for k, v in _counts(fresh).items() if k != "alerts"} == {
        k: v for k, v in _counts(orig).items() if k != "alerts"
    }


def test_import_twice_is_idempotent(runner, recorded, tmp_path):
    _, trail = recorded
    fresh = f"sqlite:///{tmp_path}/fresh/glassbox.db"
    assert runner.invoke(app, ["import", str(trail), "--store", fresh]).exit_code == 0
    first, docs = _counts(fresh), _all(fresh)
    again = runner.invoke(app, ["import", str(trail), "--store", fresh])
    assert again.exit_code == 0
    assert "imported 5 traces" in again.stdout
    assert _counts(fresh) == first and _all(fresh) == docs


def test_import_into_the_store_it_came_from_changes_nothing(runner, recorded):
    orig, trail = recorded
    before, docs = _counts(orig), _all(orig)
    assert runner.invoke(app, ["import", str(trail), "--store", orig]).exit_code == 0
    assert _counts(orig) == before and _all(orig) == docs


def test_malformed_lines_are_reported_and_skipped(runner, recorded, tmp_path):
    _, trail = recorded
    (src,) = trail.glob("*.jsonl")
    broken = tmp_path / "broken.jsonl"
    lines = src.read_bytes().splitlines(keepends=True)
    broken.write_bytes(
        lines[0]
        + b"{not json\n"
        + b"\n"
        + b'{"no": "trace id"}\n'
        + b"".join(lines[1:])
        + b'{"trace_id": "abc", "schema_version": 99}\n'
        + lines[-1][:40]
    )  # torn last line
    fresh = f"sqlite:///{tmp_path}/fresh/glassbox.db"
    result = runner.invoke(app, ["import", str(broken), "--store", fresh])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "imported 5 traces from 1 file (4 lines skipped)"
    skipped = result.stderr.splitlines()
    assert len(skipped) == 4
    assert skipped[0].startswith(f"skipped {broken}:2: ")
    assert skipped[1].startswith(f"skipped {broken}:4: ") and "trace_id" in skipped[1]
    assert "schema_version" in skipped[2]
    assert skipped[3].startswith(f"skipped {broken}:{len(lines) + 5}: ")
    assert "Traceback" not in result.output
    assert len(_all(fresh)) == 5


def test_files_and_folders_together(runner, recorded, tmp_path):
    _, trail = recorded
    (src,) = trail.glob("*.jsonl")
    other = tmp_path / "more"
    other.mkdir()
    shutil.copy(src, other / "2026-01-01.jsonl")
    (other / "notes.txt").write_text("not a trail file")
    fresh = f"sqlite:///{tmp_path}/fresh/glassbox.db"
    result = runner.invoke(app, ["import", str(src), str(other), "--store", fresh, "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "imported 10 traces from 2 files (0 lines skipped)" in result.stdout
    assert len(_all(fresh)) == 5


def test_only_bad_lines_is_a_failure(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n[1, 2]\n")
    result = runner.invoke(app, ["import", str(bad), "--store", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 1
    assert "imported 0 traces from 1 file (2 lines skipped)" in result.stdout
    assert len(result.stderr.splitlines()) == 2


def test_an_empty_folder_imports_nothing(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["import", str(tmp_path / "empty"), "--store", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 0
    assert "imported 0 traces from 0 files (0 lines skipped)" in result.stdout


def test_a_missing_path_is_a_usage_error_and_writes_nothing(runner, recorded, tmp_path):
    _, trail = recorded
    fresh = tmp_path / "fresh" / "glassbox.db"
    result = runner.invoke(app, ["import", str(trail), str(tmp_path / "nope"), "--store", f"sqlite:///{fresh}"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: no such trail file or folder: {tmp_path / 'nope'}"]
    assert not fresh.exists()


def test_many_skipped_lines_are_summarised(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("x\n" * 60)
    result = runner.invoke(app, ["import", str(bad), "--store", f"sqlite:///{tmp_path}/s.db"])
    err = result.stderr.splitlines()
    assert len(err) == 51 and err[-1] == "… and 10 more skipped lines"
