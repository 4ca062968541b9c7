"""`glassbox serve` refuses to listen beyond loopback without keys; `glassbox keys` create/list/revoke."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from glassbox.cli.app import app
from glassbox.store.keys import verify
from glassbox.store.store import Store

runner = CliRunner()


def test_serve_refuses_public_address_without_keys(store_url):
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--store", store_url])
    assert r.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in r.stderr
    r = runner.invoke(app, ["serve", "--auth", "--store", store_url])
    assert r.exit_code == 2 and "glassbox keys create" in r.stderr


def test_keys_create_list_revoke(store_url):
    created = runner.invoke(
        app, ["keys", "create", "--project", "support-bot", "--scope", "write", "--name", "api", "--store", store_url]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("gbk_") and "not shown again" in created.stderr
    record = verify(Store(store_url), key)
    assert record is not None and (record.project, record.scope, record.name) == ("support-bot", "write", "api")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json", "--store", store_url]).stdout)
    assert [k["key_id"] for k in listed] == [record.key_id] and key not in json.dumps(listed)  # never the secret
    revoked = runner.invoke(app, ["keys", "revoke", record.key_id, "--store", store_url])
    assert revoked.exit_code == 0 and verify(Store(store_url), key) is None
    assert runner.invoke(app, ["keys", "revoke", "ffffffffffffffff", "--store", store_url]).exit_code == 1
    bad = runner.invoke(app, ["keys", "create", "--project", "p", "--scope", "admin", "--store", store_url])
    assert bad.exit_code == 2 and "--scope" in bad.stderr
