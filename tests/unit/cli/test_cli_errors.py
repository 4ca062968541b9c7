"""Failures print one `error: …` line on stderr with a non-zero exit code, never a traceback."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.demo import run_demo

UNREACHABLE = "sqlite:////proc/nope/x.db"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/store/glassbox.db"
    run_demo(2, 5, store=url, trail_dir=str(tmp_path / "trail"), pace=0)
    return url


def _one_error_line(result, code: int | None = None) -> str:
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_trace_id_is_exit_1_and_one_line(runner, url):
    line = _one_error_line(runner.invoke(app, ["show", "0123456789abcdef0123456789abcdef", "--store", url]), 1)
    assert "no trace" in line and "0123456789abcdef0123456789abcdef" in line
    _one_error_line(runner.invoke(app, ["show", "zzzz", "--json", "--store", url]), 1)
    _one_error_line(runner.invoke(app, ["show", "ab", "--verbose", "--store", url]), 1)


@pytest.mark.parametrize(
    "args",
    [
        ["traces"],
        ["traces", "--json"],
        ["show", "abcd"],
        ["db", "info"],
        ["db", "upgrade"],
        ["import", "."],
        ["demo", "--runs", "1"],
    ],
)
def test_unreachable_store_is_one_line(runner, args, tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    result = runner.invoke(app, [*args, "--store", UNREACHABLE])
    line = _one_error_line(result, 1)
    assert "/proc/nope/x.db" in line


def test_unreachable_postgresql_is_one_line(runner):
    importlib.import_module("psycopg")
    result = runner.invoke(app, ["traces", "--store", "postgresql+psycopg://nobody@127.0.0.1:1/nope"])
    line = _one_error_line(result, 1)
    assert "127.0.0.1" in line and "nope" in line


def test_a_file_that_is_not_a_database(runner, tmp_path):
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    _one_error_line(runner.invoke(app, ["traces", "--store", f"sqlite:///{bogus}"]), 1)
    _one_error_line(runner.invoke(app, ["db", "info", "--store", f"sqlite:///{bogus}"]), 1)


def test_an_invalid_store_url(runner):
    line = _one_error_line(runner.invoke(app, ["traces", "--store", "mysql://x@y/z"]), 1)
    assert "unsupported store" in line
    _one_error_line(runner.invoke(app, ["traces", "--store", "::not a url::"]), 1)


def test_a_broken_config_file_is_one_line(runner, tmp_path):
    (tmp_path / "glassbox.toml").write_text("store = [unclosed\n")
    line = _one_error_line(runner.invoke(app, ["traces"]), 1)
    assert "settings" in line


def test_store_turned_off_in_settings_needs_store_option(runner):
    line = _one_error_line(runner.invoke(app, ["traces"], env={"GLASSBOX_STORE": "off"}), 1)
    assert "--store" in line


def test_missing_default_store_says_how_to_get_one(runner, tmp_path):
    line = _one_error_line(runner.invoke(app, ["traces"]), 1)
    assert "glassbox demo" in line
    assert not (tmp_path / ".glassbox").exists()


def test_usage_problems_exit_2(runner, url, tmp_path):
    line = _one_error_line(runner.invoke(app, ["import", str(tmp_path / "missing.jsonl"), "--store", url]), 2)
    assert "missing.jsonl" in line
    _one_error_line(runner.invoke(app, ["traces", "--since", "last tuesday", "--store", url]), 2)
    _one_error_line(runner.invoke(app, ["traces", "--until", "2026-13-45", "--store", url]), 2)
    _one_error_line(runner.invoke(app, ["traces", "--status", "exploded", "--store", url]), 2)
    assert runner.invoke(app, ["traces", "--limit", "0", "--store", url]).exit_code == 2
    assert runner.invoke(app, ["show"]).exit_code == 2


def test_real_process_exit_code_and_stderr(url, tmp_path):
    code = "from glassbox.cli.app import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "show", "feedbeef", "--store", url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: no trace 'feedbeef' in {url}"]
    assert proc.stdout == ""
    proc = subprocess.run(
        [sys.executable, "-c", code, "traces", "--store", UNREACHABLE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "glassbox"
    if not script.exists():
        pytest.skip("glassbox console script not installed next to this interpreter")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("glassbox ")


def test_a_short_id_prefix_says_how_long_a_prefix_must_be(tmp_path):
    from typer.testing import CliRunner

    from glassbox.cli.app import app
    from glassbox.demo import run_demo

    db = tmp_path / "s.db"
    run_demo(2, 1, store=f"sqlite:///{db}", trail_dir=str(tmp_path / "trail"), pace=0)
    res = CliRunner().invoke(app, ["show", "cd6", "--store", f"sqlite:///{db}"])
    assert res.exit_code != 0
    assert "prefix needs at least 4 characters" in res.output
