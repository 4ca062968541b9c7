"""glassbox dataset / regress: output, files written, exit codes (0 pass, 1 failed case, 2 harness error)."""

from __future__ import annotations

import json
import uuid
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from glassbox.cli.app import app

runner = CliRunner()

CASES = (
    '{"id": "py", "question": "What is Python?", "expected_workflow": "search_qa", '
    '"expected_fields": ["final_answer"], "quality_thresholds": {"min_answer_length": 10}}\n'
    '{"id": "long", "question": "Explain", "quality_thresholds": {"min_answer_length": 10000}}\n'
)


def run(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def target(tmp_path):
    """An importable target module in the cwd (each test its own name: modules are cached)."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "import glassbox as gb\n"
        "def answer(q):\n"
        "    with gb.trace(q, workflow='search_qa'):\n"
        "        return {'final_answer': 'An answer to ' + q}\n"
        "def good(q):\n"
        "    return {'final_answer': 'x' * 20000}\n"
        "from glassbox.evaluation import RegexMatch\n"
        "cites = RegexMatch(r'\\[\\d+\\]', name='cites')\n"
    )
    return name


def test_push_list_export(store_url, tmp_path):
    (tmp_path / "cases.jsonl").write_text(CASES)
    res = run("dataset", "push", "cases.jsonl", "--name", "support", "--store", store_url)
    assert res.exit_code == 0, res.output
    assert "2 cases stored as version" in res.output
    again = run("dataset", "push", "cases.jsonl", "--name", "support", "--store", store_url, "--json")
    assert json.loads(again.output)["created"] is False
    listed = json.loads(run("dataset", "list", "--store", store_url, "--json").output)
    assert [(r["name"], r["cases"]) for r in listed] == [("support", 2)]
    out = run("dataset", "export", "support", "--store", store_url, "-o", "back.jsonl")
    assert out.exit_code == 0
    lines = (tmp_path / "back.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["py", "long"]


def test_bad_dataset_file_is_one_line_and_exit_1(store_url, tmp_path):
    (tmp_path / "cases.jsonl").write_text(CASES)
    run("dataset", "push", "cases.jsonl", "--name", "good", "--store", store_url)
    (tmp_path / "bad.jsonl").write_text('{"question": "ok"}\n{"question": 2}\n')
    res = run("dataset", "push", "bad.jsonl", "--name", "x", "--store", store_url)
    assert res.exit_code == 1
    assert "line 2, field 'question': expected a string" in res.output
    assert [r["name"] for r in json.loads(run("dataset", "list", "--store", store_url, "--json").output)] == ["good"]


def test_regress_exit_codes_and_reports(store_url, tmp_path, target):
    (tmp_path / "cases.jsonl").write_text(CASES)
    run("dataset", "push", "cases.jsonl", "--name", "support", "--store", store_url)
    res = run(
        "regress",
        "--dataset",
        "support",
        "--target",
        f"{target}:answer",
        "--store",
        store_url,
        "--report",
        "out/report.json",
        "--junit",
        "out/junit.xml",
        "--no-progress",
    )
    assert res.exit_code == 1, res.output
    assert "1 passed, 1 failed, 0 errors" in res.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["status"] for r in report["results"]] == ["passed", "failed"]
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "1"

    ok = run(
        "regress",
        "--dataset",
        "cases.jsonl",
        "--target",
        f"{target}:good",
        "--store",
        store_url,
        "--json",
        "--concurrency",
        "2",
    )
    assert ok.exit_code == 1  # the file's first case expects a workflow the target does not set
    doc = json.loads(ok.output)
    a_run = report["run_id"]
    cmp = run("regress", "compare", a_run, doc["run_id"], "--store", store_url, "--json")
    assert cmp.exit_code == 1  # "py" regressed
    assert json.loads(cmp.output)["counts"]["regressed"] == 1
    listed = json.loads(run("regress", "list", "--store", store_url, "--json").output)
    assert {r["run_id"] for r in listed} == {a_run, doc["run_id"]}


@pytest.mark.parametrize(
    "args",
    [
        ("--dataset", "support", "--target", "no_such_module_q:fn"),
        ("--dataset", "missing", "--target", "json:dumps"),
        ("--dataset", "support"),
    ],
)
def test_regress_harness_errors_exit_2(store_url, tmp_path, args):
    (tmp_path / "cases.jsonl").write_text(CASES)
    run("dataset", "push", "cases.jsonl", "--name", "support", "--store", store_url)
    res = run("regress", *args, "--store", store_url, "--no-progress")
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ")
    assert json.loads(run("regress", "list", "--store", store_url, "--json").output) == []


def test_regress_with_an_evaluator_from_a_module(store_url, tmp_path, target):
    (tmp_path / "one.jsonl").write_text('{"id": "a", "question": "q"}\n')
    res = run(
        "regress",
        "--dataset",
        "one.jsonl",
        "--target",
        f"{target}:answer",
        "--evaluator",
        f"{target}:cites",
        "--store",
        store_url,
        "--json",
        "--no-progress",
    )
    assert res.exit_code == 1  # the answer cites nothing
    case = json.loads(res.output)["results"][0]
    assert case["scores"]["cites"] == 0.0 and case["assertions"][-1]["name"] == "evaluator:cites"
    bad = run(
        "regress",
        "--dataset",
        "one.jsonl",
        "--target",
        f"{target}:answer",
        "--evaluator",
        "nope_mod:x",
        "--store",
        store_url,
    )
    assert bad.exit_code == 2 and "evaluator 'nope_mod:x'" in bad.output
