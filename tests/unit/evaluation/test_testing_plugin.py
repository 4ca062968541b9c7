"""glassbox.testing as a pytest plugin: fixtures and a golden assertion that fails a real pytest run with the diff."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import glassbox as gb
from glassbox.testing import assert_matches_golden, capture


def pipeline(rerank: bool = True):
    with gb.trace("q", workflow="rag") as t:
        with gb.stage("retrieve", kind="retrieval"):
            pass
        if rerank:
            with gb.stage("rerank"):
                pass
        t.output = "Refunds take 30 days."


def test_assert_matches_golden_passes_and_fails_with_the_diff():
    with capture() as traces:
        pipeline()
        pipeline(rerank=False)
    traces.flush()
    ref, changed = traces
    assert_matches_golden(ref, ref)
    with pytest.raises(AssertionError, match=r"missing stages: rerank \(stage\)"):
        assert_matches_golden(changed, ref)


def test_plugin_in_a_real_pytest_run(tmp_path):
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent("""
        import glassbox as gb

        pytest_plugins = ["glassbox.testing"]

        def run(rerank):
            with gb.trace("q", workflow="rag") as t:
                with gb.stage("retrieve", kind="retrieval"):
                    pass
                if rerank:
                    with gb.stage("rerank"):
                        pass
                t.output = "Refunds take 30 days."

        def test_golden(glassbox_traces, glassbox_golden, request):
            run(rerank=request.config.getoption("--glassbox-update-goldens") or not (
                __import__("pathlib").Path(__file__).parent / "goldens" / "rag.json").exists())
            glassbox_traces.flush()
            glassbox_golden.check(glassbox_traces[0], "rag")
    """)
    )
    first = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tmp_path / "goldens" / "rag.json").is_file()
    second = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert second.returncode == 1
    assert "missing stages: rerank (stage)" in second.stdout
