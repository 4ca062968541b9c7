"""Who is calling: API keys from ``Authorization: Bearer``, ``X-API-Key`` or the dashboard's cookie.

On loopback without ``--auth`` the server is open (one person's laptop); otherwise every request
needs a key. A key sees only its project and needs ``write`` scope to change anything.

For routers mounted into the app (the dashboard): ``Depends(reader)`` / ``Depends(writer)`` give
the caller's ``Principal``; ``principal(request, scope)`` does the same inside a handler.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from glassbox.store.keys import touch, verify

COOKIE = "glassbox_key"
TOUCH_EVERY = 60.0  # seconds between last_used_at updates of one key (a write per request would be waste)
_touched: dict[str, float] = {}
_touch_lock = threading.Lock()


class AuthError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Principal:
    project: str | None  # None: every project (open server, no key)
    scope: str
    key_id: str | None = None

    def filter_project(self, requested: str | None) -> str | None:
        """The project a query may see: the key's own; asking for another is refused."""
        if self.project is None:
            return requested
        if requested not in (None, self.project):
            raise AuthError(403, "forbidden", f"this key is for project {self.project!r}")
        return self.project


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE) or None


def principal(request: Request, scope: str) -> Principal:
    state = request.app.state
    key = presented_key(request)
    if key is None:
        if state.auth_required:
            raise AuthError(401, "unauthorized", "an API key is required (Authorization: Bearer gbk_…)")
        return Principal(None, "write")
    record = verify(state.store, key)
    if record is None:
        raise AuthError(401, "unauthorized", "invalid or revoked API key")
    if not record.allows(scope):
        raise AuthError(403, "forbidden", f"this key has {record.scope} scope; {scope} is needed")
    _touch(state.store, record.key_id)
    return Principal(record.project, record.scope, record.key_id)


def _touch(store: object, key_id: str) -> None:
    now = time.monotonic()
    with _touch_lock:
        if now - _touched.get(key_id, -TOUCH_EVERY) < TOUCH_EVERY:
            return
        _touched[key_id] = now
    with contextlib.suppress(Exception):  # bookkeeping must never fail a request
        touch(store, key_id)  # type: ignore[arg-type]


def reader(request: Request) -> Principal:
    return principal(request, "read")


def writer(request: Request) -> Principal:
    return principal(request, "write")
