"""errors.NotFound is the base of every "no such thing": one line and exit 1 in the CLI, a 404 JSON body via HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.errors import NotFound, TraceNotFound
from glassbox.server.app import create_app
from glassbox.store.alerts import AlertNotFound
from glassbox.store.keys import ApiKeyError, ApiKeyNotFound, revoke_key
from glassbox.store.store import Store


def test_the_store_s_not_found_errors_are_not_found():
    for cls in (TraceNotFound, AlertNotFound, ApiKeyNotFound):
        assert issubclass(cls, NotFound)
    assert issubclass(ApiKeyNotFound, ApiKeyError)  # code catching ApiKeyError still catches it


def test_revoking_a_missing_key_is_not_found(store_url):
    with Store(store_url) as st, pytest.raises(NotFound, match="no API key 'nope'"):
        revoke_key(st, "gbk_nope")


@pytest.mark.parametrize("args", [["show", "0123456789abcdef"], ["keys", "revoke", "gbk_nope"]])
def test_the_cli_says_what_was_missing_in_one_line(tmp_path, args):
    url = f"sqlite:///{tmp_path}/g.db"
    Store(url).ready().close()
    result = CliRunner().invoke(app, [*args, "--store", url])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_the_server_answers_404_with_the_error_shape(tmp_path):
    with TestClient(create_app(f"sqlite:///{tmp_path}/g.db", jobs=False)) as client:
        r = client.get("/api/v1/traces/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found" and "g.db" not in r.text
