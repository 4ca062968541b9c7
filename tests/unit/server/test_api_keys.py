"""API keys: shown once, stored as a hash, scoped, revocable; last use recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from glassbox.errors import GlassboxError
from glassbox.store.keys import create_key, list_keys, revoke_key, touch, verify
from glassbox.store.schema import api_keys


def test_only_a_hash_of_the_secret_is_stored(store):
    key, record = create_key(store, "p", "write", "svc")
    secret = key.split("_", 2)[2]
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(api_keys)).all()
    assert secret not in str(tuple(row)) and len(row.secret_hash) == 64 and row.key_id == record.key_id
    assert len(secret) >= 40  # 256 bits from secrets.token_urlsafe


def test_verify_needs_the_exact_secret(store):
    key, record = create_key(store, "p", "read")
    assert verify(store, key).key_id == record.key_id
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), f"gbk_{record.key_id}_", "gbk_", "nope", key + "x"):
        assert verify(store, wrong) is None, wrong


@pytest.mark.parametrize(
    ("scope", "allowed"),
    [
        ("read", {"read"}),
        ("write", {"read", "write"}),
        ("metrics", {"metrics"}),
    ],
)
def test_scopes(store, scope, allowed):
    _, record = create_key(store, "p", scope)
    assert {s for s in ("read", "write", "metrics") if record.allows(s)} == allowed


def test_revoked_keys_stop_working_and_stay_listed(store):
    key, _record = create_key(store, "p", "write")
    revoke_key(store, key)  # the whole key works as well as its id
    assert verify(store, key) is None
    (listed,) = list_keys(store)
    assert not listed.active and not listed.allows("read") and listed.to_dict()["revoked_at"]


def test_last_use_is_recorded(store):
    _, record = create_key(store, "p", "read")
    assert list_keys(store)[0].last_used_at is None
    touch(store, record.key_id)
    assert list_keys(store)[0].last_used_at is not None


def test_bad_scope_or_project_is_refused(store):
    with pytest.raises(GlassboxError, match="scope"):
        create_key(store, "p", "admin")
    with pytest.raises(GlassboxError, match="project"):
        create_key(store, "  ", "read")
