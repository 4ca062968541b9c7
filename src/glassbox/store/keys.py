"""API keys of ``glassbox serve``: created with a secret shown once, stored as a hash, revocable.

A key reads ``gbk_<key id>_<secret>``. The key id (indexed, the primary key) finds the row;
the secret is checked against its SHA-256 in constant time (the secret has 256 bits of entropy,
so a fast hash is enough: nothing to brute-force). Scopes: ``read`` (query the project's data),
``write`` (also ingest OTLP spans, post scores, feedback and acknowledgements) and ``metrics``
(scrape ``/metrics`` only: server-wide figures, no trace data).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import GlassboxError, NotFound, StoreError
from glassbox.store import database
from glassbox.store.schema import api_keys

if TYPE_CHECKING:
    from glassbox.store.store import Store

SCOPES = ("read", "write", "metrics")
PREFIX = "gbk_"


class ApiKeyError(GlassboxError):
    """A key that does not exist, is revoked or malformed."""


class ApiKeyNotFound(ApiKeyError, NotFound):
    """No API key with that id (a 404 on the server, one line and exit 1 in the CLI)."""


@dataclass
class ApiKey:
    key_id: str
    project: str
    scope: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        if not self.active:
            return False
        if self.scope == "metrics" or scope == "metrics":
            return self.scope == scope
        return self.scope == "write" or scope == "read"

    def to_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() + "Z" if d else None

        return {
            "key_id": self.key_id,
            "project": self.project,
            "scope": self.scope,
            "name": self.name,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
            "active": self.active,
        }


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _row(r: Any) -> ApiKey:
    return ApiKey(r.key_id, r.project, r.scope, r.name, r.created_at, r.revoked_at, r.last_used_at)


def create_key(store: Store, project: str, scope: str, name: str | None = None) -> tuple[str, ApiKey]:
    """A new key: returns the full key (shown once, never stored) and its record."""
    if scope not in SCOPES:
        raise GlassboxError(f"scope: expected read, write or metrics, got {scope!r}")
    if not project or not project.strip():
        raise GlassboxError("project: a key belongs to one project; give its name")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    record = ApiKey(key_id, project.strip(), scope, name, _now())
    store.ready()
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=key_id,
                    project=record.project,
                    scope=scope,
                    name=name,
                    secret_hash=_hash(secret),
                    created_at=record.created_at,
                )
            )
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot store the key in {database.safe_url(store.url)}: {database._short(exc)}") from None
    return f"{PREFIX}{key_id}_{secret}", record


def list_keys(store: Store, project: str | None = None) -> list[ApiKey]:
    store.ready()
    q = select(api_keys).order_by(api_keys.c.created_at)
    if project:
        q = q.where(api_keys.c.project == project)
    with store.engine.connect() as conn:
        return [_row(r) for r in conn.execute(q).all()]


def revoke_key(store: Store, key_id: str) -> ApiKey:
    key_id = key_id.removeprefix(PREFIX).split("_")[0]
    store.ready()
    with store.engine.begin() as conn:
        n = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        ).rowcount
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
    if row is None:
        raise ApiKeyNotFound(f"no API key {key_id!r}")
    if not n and row.revoked_at is None:
        raise ApiKeyError(f"API key {key_id!r} could not be revoked")
    return _row(row)


def has_keys(store: Store) -> bool:
    store.ready()
    with store.engine.connect() as conn:
        return (
            conn.execute(select(api_keys.c.key_id).where(api_keys.c.revoked_at.is_(None)).limit(1)).first() is not None
        )


def verify(store: Store, presented: str) -> ApiKey | None:
    """The active key matching ``presented`` (the full key string), or None."""
    if not presented.startswith(PREFIX):
        return None
    key_id, sep, secret = presented[len(PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    store.ready()
    with store.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return _row(row)


def touch(store: Store, key_id: str) -> None:
    """Record that the key was just used (``keys list`` shows it)."""
    with store.ready().engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=_now()))
