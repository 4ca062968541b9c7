"""Opening a store: engine per URL, SQLite pragmas, migrations applied once and safely."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from glassbox.errors import StoreError

HEAD_REVISION = "0011"
_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x67626F78  # "gbox": advisory lock serialising migrations across processes
CONNECT_TIMEOUT = 10  # seconds to open a PostgreSQL connection
STATEMENT_TIMEOUT = 60.0  # seconds one PostgreSQL statement may take (migrations are not bounded)
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a SQLite call waits for another writer's lock


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and `db info`."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (CLI, server) work while the writer thread commits.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    cur.close()


def _json_text(value: Any) -> str:
    """JSON columns: orjson (several times faster than json on the writer's path), json for the odd rest."""
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # e.g. an int beyond 64 bits
        import json

        return json.dumps(value, default=str)


def as_url(store: str) -> str:
    """A store as a URL: a plain file path (``.glassbox/glassbox.db``, ``/data/gb.db``) is an SQLite file."""
    if "://" in store or store.startswith("sqlite:"):
        return store
    return f"sqlite:///{store}"


DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg2": "postgres"}


def make_engine(url: str) -> Engine:
    url = as_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid store URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            path = Path(db)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of store {safe_url(url)}: {exc}") from None
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what we ship for
        kwargs["pool_pre_ping"] = True
        # Every call is bounded: connecting (a server that accepts and never answers), a dead peer mid-query
        # (TCP keepalives), and a statement the server takes too long over (statement_timeout, set on connect).
        # The URL's own values (?connect_timeout=2) win over these defaults.
        defaults = {
            "connect_timeout": CONNECT_TIMEOUT,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": 30_000,
        }
        kwargs["connect_args"] = {k: v for k, v in defaults.items() if k not in parsed.query}
    else:
        raise StoreError(f"unsupported store {safe_url(url)}: use sqlite:///path or postgresql+psycopg://…")
    kwargs["json_serializer"] = _json_text
    try:
        engine = create_engine(parsed, **kwargs)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        extra = DRIVER_EXTRAS.get(str(missing).split(".")[0], "postgres" if backend == "postgresql" else None)
        hint = f": pip install 'glassbox[{extra}]'" if extra else ""
        raise StoreError(f"cannot open store {safe_url(url)}: its driver ({missing}) is not installed{hint}") from None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open store {safe_url(url)}: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif "statement_timeout" not in str(parsed.query.get("options", "")):
        event.listen(engine, "connect", _pg_statement_timeout)
    return engine


def _pg_statement_timeout(dbapi_conn: Any, _record: Any) -> None:
    with dbapi_conn.cursor() as cur:
        cur.execute(f"SET statement_timeout = {int(STATEMENT_TIMEOUT * 1000)}")
    dbapi_conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except SQLAlchemyError:
            return None
    return row[0] if row else None


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Any]:
    """Serialise migrations between processes starting at once."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            saved = conn.execute(text("SHOW statement_timeout")).scalar_one()
            # Waiting for another process's migration, or building an index over millions of spans, takes its time.
            conn.execute(text("SET statement_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.execute(text("SELECT set_config('statement_timeout', :v, false)"), {"v": saved})
                conn.commit()
        return
    db = engine.url.database
    lock_file = None
    if db and db != ":memory:":
        try:
            import fcntl

            lock_file = open(f"{db}.migrate-lock", "a+")  # noqa: SIM115 - held for the block
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        except (ImportError, OSError):
            lock_file = None
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        if lock_file is not None:
            lock_file.close()


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision the store is at."""
    from alembic import command

    with _migration_lock(engine) as conn:
        if current_revision(engine) == HEAD_REVISION and revision == "head":
            return HEAD_REVISION  # another process did it while we waited
        command.upgrade(alembic_config(conn), revision)
        conn.commit()
    return current_revision(engine)


def downgrade(engine: Engine, revision: str) -> str | None:
    from alembic import command

    with _migration_lock(engine) as conn:
        command.downgrade(alembic_config(conn), revision)
        conn.commit()
    return current_revision(engine)


_checked: set[str] = set()
_checked_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _checked_lock
    _checked_lock = threading.Lock()  # a parent thread may have held it mid-migration when the app forked


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def _schema_key(engine: Engine) -> str:
    """Per process and database: a relative SQLite path is resolved, as the cwd may change."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=os.path.abspath(url.database))
    return f"{os.getpid()}:{url}"


def ensure_schema(engine: Engine) -> None:
    """Migrate on first use, once per process and URL; cheap when already at head."""
    key = _schema_key(engine)
    if key in _checked:
        return
    with _checked_lock:
        if key in _checked:
            return
        try:
            if current_revision(engine) != HEAD_REVISION:
                upgrade(engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot prepare store {safe_url(str(engine.url))}: {_short(exc)}") from None
        _checked.add(key)


def forget(engine: Engine) -> None:
    """Drop the 'already migrated' mark (the database was deleted or replaced)."""
    _checked.discard(_schema_key(engine))


def _short(exc: BaseException) -> str:
    msg = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__
