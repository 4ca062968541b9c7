"""One TraceFilters spec: every filter is a CLI option, a REST parameter and a dashboard URL key, and works."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from glassbox.analysis.filter_spec import TRACE_FILTERS
from glassbox.analysis.filters import FILTERS, check
from glassbox.cli.app import app
from glassbox.server import web
from glassbox.server.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runs_builder import make_run

FILTERED_COMMANDS = ("traces", "summary", "failures", "latency", "decisions", "principles", "export")


def _cli_options(command: str) -> set[str]:
    click_app = typer.main.get_command(app)
    return {opt for p in click_app.commands[command].params for opt in (*p.opts, *p.secondary_opts)}  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", FILTERED_COMMANDS)
def test_every_filter_is_an_option_of_every_filtered_command(command):
    options = _cli_options(command)
    for f in TRACE_FILTERS:
        assert set(f.cli_option.split("/")) <= options, (command, f.name)
    assert {"--experiment", "--variant", "--service"} <= options


def test_every_filter_is_a_rest_parameter_and_a_dashboard_key(tmp_path):
    with TestClient(create_app(f"sqlite:///{tmp_path}/g.db", jobs=False)) as client:
        spec = client.get("/openapi.json").json()
    for path in ("/api/v1/traces", "/api/v1/summary", "/api/v1/failures"):
        params = {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        assert {f.query_param for f in TRACE_FILTERS} <= params, path
    assert set(web.FILTER_KEYS) == {f.query_param for f in TRACE_FILTERS}
    assert set(FILTERS) == set(TRACE_FILTERS.names())


def _runs() -> list:
    now = datetime.now(UTC).replace(tzinfo=None)
    runs = []
    for i, (experiment, variant, service) in enumerate(
        [("e1", "a", "api"), ("e1", "b", "api"), ("e2", "a", "worker"), (None, None, "api")], start=1
    ):
        t = make_run(i, ago=timedelta(minutes=10 * i), now=now)
        t.experiment, t.variant, t.service = experiment, variant, service
        runs.append(t)
    return runs


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"experiment": "e1"}, {1, 2}),
        ({"experiment": "e1", "variant": "b"}, {2}),
        ({"service": "worker"}, {3}),
        ({"variant": "a"}, {1, 3}),
    ],
)
def test_the_new_cli_filters_select_the_same_runs_as_the_rest_api(store, store_url, args, expected):
    store.write_traces(_runs())
    cli = CliRunner().invoke(
        app, ["traces", "--json", "--store", store_url, *[x for k, v in args.items() for x in (f"--{k}", v)]]
    )
    assert cli.exit_code == 0, cli.output
    assert {int(r["trace_id"], 16) for r in json.loads(cli.stdout)} == expected
    with TestClient(create_app(store_url, jobs=False)) as client:
        rest = client.get("/api/v1/traces", params=args)
    assert rest.status_code == 200
    assert {int(r["trace_id"], 16) for r in rest.json()["items"]} == expected


def test_a_bad_value_names_the_filter():
    with pytest.raises(Exception, match="status: expected one of"):
        check({"status": "bogus"})
