"""Stored flag and experiment definitions: save (versioned), kill/revive, delete, history, glassbox.toml import.

Every change adds a ``flag_history`` row with the whole definition, who made it and when; the current
definition lives in ``flag_definitions`` with its version. Saving an unchanged definition adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from glassbox.errors import NotFound, QueryError, StoreError
from glassbox.flags.config_file import read_toml, validate
from glassbox.flags.definitions import KINDS, Definition, parse
from glassbox.store import database
from glassbox.store.tables.experiments import flag_definitions, flag_history

if TYPE_CHECKING:
    from glassbox.store.store import Store

DEFAULT_PROJECT = "default"


class FlagNotFound(NotFound):
    """No flag with that name is defined."""


class ExperimentNotFound(NotFound):
    """No experiment with that name is defined."""


@dataclass
class StoredDefinition:
    definition: Definition
    version: int
    updated_at: datetime
    updated_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.definition.kind,
            "name": self.definition.name,
            "version": self.version,
            "updated_at": self.updated_at.isoformat() + "Z",
            "updated_by": self.updated_by,
            "spec": self.definition.to_dict(),
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _missing(kind: str, name: str) -> NotFound:
    if kind == "flag":
        return FlagNotFound(f"no flag named {name!r} (glassbox flag list shows the defined ones)")
    return ExperimentNotFound(f"no experiment named {name!r} (glassbox exp list shows the defined ones)")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise QueryError(f"kind: expected flag or experiment, got {kind!r}")


def _failed(store: Store, exc: SQLAlchemyError) -> StoreError:
    return StoreError(f"flag definitions on {database.safe_url(store.url)}: {database._short(exc)}")


def _stored(row: Any) -> StoredDefinition:
    return StoredDefinition(parse(row.kind, row.spec), int(row.version), row.updated_at, row.updated_by)


def save(
    store: Store, kind: str, raw: Mapping[str, Any], *, actor: str | None = None, project: str = DEFAULT_PROJECT
) -> StoredDefinition:
    """Create or update a definition; the new version is recorded in the history (unchanged: no new version)."""
    definition = validate(kind, raw)
    spec = definition.to_dict()
    d = flag_definitions.c
    store.ready()
    now = _now()
    try:
        with store.engine.begin() as conn:
            row = conn.execute(
                select(d.version, d.spec).where(d.project == project, d.kind == kind, d.name == definition.name)
            ).first()
            if row is not None and row.spec == spec:
                return _stored(
                    conn.execute(
                        select(flag_definitions).where(d.project == project, d.kind == kind, d.name == definition.name)
                    ).one()
                )
            version = 1 if row is None else int(row.version) + 1
            values = {"version": version, "spec": spec, "updated_at": now, "updated_by": actor}
            if row is None:
                conn.execute(
                    insert(flag_definitions).values(project=project, kind=kind, name=definition.name, **values)
                )
            else:
                conn.execute(
                    update(flag_definitions)
                    .where(d.project == project, d.kind == kind, d.name == definition.name)
                    .values(**values)
                )
            conn.execute(
                insert(flag_history).values(
                    project=project,
                    kind=kind,
                    name=definition.name,
                    version=version,
                    action="create" if row is None else "update",
                    spec=spec,
                    actor=actor,
                    at=now,
                )
            )
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None
    return StoredDefinition(definition, version, now, actor)


def get(store: Store, kind: str, name: str, *, project: str = DEFAULT_PROJECT) -> StoredDefinition:
    _check_kind(kind)
    d = flag_definitions.c
    store.ready()
    try:
        with store.engine.connect() as conn:
            row = conn.execute(
                select(flag_definitions).where(d.project == project, d.kind == kind, d.name == name)
            ).first()
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None
    if row is None:
        raise _missing(kind, name)
    return _stored(row)


def list_definitions(
    store: Store, kind: str | None = None, *, project: str = DEFAULT_PROJECT
) -> list[StoredDefinition]:
    d = flag_definitions.c
    cond = [d.project == project]
    if kind is not None:
        _check_kind(kind)
        cond.append(d.kind == kind)
    store.ready()
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(flag_definitions).where(and_(*cond)).order_by(d.kind, d.name)).all()
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None
    return [_stored(r) for r in rows]


def set_killed(
    store: Store, kind: str, name: str, killed: bool, *, actor: str | None = None, project: str = DEFAULT_PROJECT
) -> StoredDefinition:
    """The kill switch: a killed flag serves its default, a killed experiment its control (no exposures)."""
    current = get(store, kind, name, project=project)
    spec = current.definition.to_dict()
    if bool(spec.get("killed")) == killed:
        return current
    spec["killed"] = killed
    stored = save(store, kind, spec, actor=actor, project=project)
    d = flag_history.c
    try:
        with store.engine.begin() as conn:  # name the action in the history
            conn.execute(
                update(flag_history)
                .where(d.project == project, d.kind == kind, d.name == name, d.version == stored.version)
                .values(action="kill" if killed else "revive")
            )
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None
    return stored


def remove(store: Store, kind: str, name: str, *, actor: str | None = None, project: str = DEFAULT_PROJECT) -> None:
    current = get(store, kind, name, project=project)
    d = flag_definitions.c
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(flag_definitions).where(d.project == project, d.kind == kind, d.name == name))
            conn.execute(
                insert(flag_history).values(
                    project=project,
                    kind=kind,
                    name=name,
                    version=current.version + 1,
                    action="delete",
                    spec=None,
                    actor=actor,
                    at=_now(),
                )
            )
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None


def history(store: Store, kind: str, name: str, *, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
    """Every change to one definition, oldest first: version, action, who, when, the whole definition."""
    _check_kind(kind)
    h = flag_history.c
    store.ready()
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(flag_history)
                .where(h.project == project, h.kind == kind, h.name == name)
                .order_by(h.version, h.id)
            ).all()
    except SQLAlchemyError as exc:
        raise _failed(store, exc) from None
    if not rows:
        raise _missing(kind, name)
    return [
        {"version": r.version, "action": r.action, "actor": r.actor, "at": r.at.isoformat() + "Z", "spec": r.spec}
        for r in rows
    ]


def sync_toml(
    store: Store, path: str | Path = "glassbox.toml", *, actor: str = "glassbox.toml", project: str = DEFAULT_PROJECT
) -> list[StoredDefinition]:
    """Store every definition of the file (each change versioned; all are checked before any is written)."""
    pairs = read_toml(path)
    for kind, raw in pairs:
        validate(kind, raw)
    return [save(store, kind, raw, actor=actor, project=project) for kind, raw in pairs]
