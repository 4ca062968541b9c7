"""Stored definitions: versioned saves with who/when, kill switch, history, toml import, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from glassbox.errors import NotFound, QueryError
from glassbox.experiments import registry
from glassbox.flags.client import FlagClient
from glassbox.store.tables.experiments import exposures


def test_save_versions_history_and_kill(store) -> None:
    s1 = registry.save(store, "flag", {"name": "reranker", "default": False, "rollout": 0.1}, actor="ana")
    assert s1.version == 1
    again = registry.save(store, "flag", {"name": "reranker", "default": False, "rollout": 0.1}, actor="ana")
    assert again.version == 1  # unchanged: no new version
    s2 = registry.save(store, "flag", {"name": "reranker", "default": False, "rollout": 0.5}, actor="bo")
    assert s2.version == 2 and s2.definition.rules[0].rollout == 0.5
    killed = registry.set_killed(store, "flag", "reranker", True, actor="oncall")
    assert killed.version == 3 and killed.definition.killed
    hist = registry.history(store, "flag", "reranker")
    assert [(h["version"], h["action"], h["actor"]) for h in hist] == [
        (1, "create", "ana"),
        (2, "update", "bo"),
        (3, "kill", "oncall"),
    ]
    assert all(h["at"].endswith("Z") for h in hist)
    assert hist[1]["spec"]["rules"][0]["rollout"] == 0.5
    registry.set_killed(store, "flag", "reranker", False, actor="oncall")
    assert registry.history(store, "flag", "reranker")[-1]["action"] == "revive"
    assert [d.definition.name for d in registry.list_definitions(store, "flag")] == ["reranker"]


def test_errors_are_precise(store) -> None:
    with pytest.raises(NotFound, match="no flag named 'ghost'"):
        registry.get(store, "flag", "ghost")
    with pytest.raises(QueryError, match="between 0 and 1"):
        registry.save(store, "flag", {"name": "x", "rollout": 3})
    with pytest.raises(QueryError, match="kind: expected flag or experiment"):
        registry.list_definitions(store, "gate")
    assert registry.list_definitions(store) == []  # nothing half-written


def test_toml_import_and_client_sees_store_over_toml(store, tmp_path) -> None:
    toml = tmp_path / "glassbox.toml"
    toml.write_text(
        '[[flag]]\nname = "beta"\ndefault = false\nvalue = true\nrollout = 1.0\n\n'
        '[[experiment]]\nname = "prompt"\nvariants = ["control", "concise"]\n'
    )
    stored = registry.sync_toml(store, toml)
    assert sorted(s.definition.name for s in stored) == ["beta", "prompt"]
    client = FlagClient(store_url=store.url, toml_path=str(toml), refresh_seconds=0)
    assert client.flag("beta", "u1", default=False) is True
    registry.set_killed(store, "flag", "beta", True, actor="oncall")  # the store wins over the file
    client.load()
    assert client.flag("beta", "u1", default=False) is False
    bad = tmp_path / "bad.toml"
    bad.write_text('[[flag]]\nname = "ok"\n\n[[flag]]\nname = "bad"\nrollout = 7\n')
    with pytest.raises(QueryError, match="rollout"):
        registry.sync_toml(store, bad)
    assert [d.definition.name for d in registry.list_definitions(store, "flag")] == ["beta"]


def test_exposures_written_once_per_unit(store) -> None:
    registry.save(store, "experiment", {"name": "prompt", "variants": ["control", "concise"]})
    client = FlagClient(store_url=store.url, toml_path=None, refresh_seconds=0)
    seen = [client.variant("prompt", f"u{i % 50}") for i in range(200)]
    client.exposures.flush()
    with store.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(exposures)).scalar()
        by_variant = dict(conn.execute(select(exposures.c.variant, func.count()).group_by(exposures.c.variant)).all())
    assert n == 50
    assert sum(by_variant.values()) == 50 and set(by_variant) <= {"control", "concise"}
    assert seen[:50] == seen[50:100]
    client.close()
