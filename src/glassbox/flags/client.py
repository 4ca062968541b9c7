"""The flag client an app evaluates with: definitions in memory, local evaluation, exposures recorded.

``gb.flag`` / ``gb.variant`` and the OpenFeature provider use the process's default client, built on
first use from the configured store (``flag_definitions``) over glassbox.toml's ``[[flag]]`` and
``[[experiment]]`` tables (the store wins: ``glassbox flag kill`` works without a deploy; definitions of
the ``default`` project apply to every project, a project's own ones override them). The first
evaluation loads them once; afterwards a background thread refreshes them every ``refresh_seconds``.
Evaluation itself never touches the network or the disk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from glassbox.context import CURRENT
from glassbox.flags.definitions import Definition, ExperimentDef, FlagDef
from glassbox.flags.evaluate import ERROR, Resolution, assign_variant, evaluate_flag
from glassbox.flags.exposures import ExposureLog

log = logging.getLogger("glassbox.flags")

NOT_FOUND = "FLAG_NOT_FOUND"


class FlagClient:
    """Definitions plus evaluation; thread-safe (definitions are swapped whole)."""

    def __init__(
        self,
        definitions: Iterable[Definition] = (),
        *,
        store_url: str | None = None,
        project: str = "default",
        toml_path: str | None = "glassbox.toml",
        refresh_seconds: float = 30.0,
        record_exposures: bool = True,
    ) -> None:
        self.store_url = store_url
        self.project = project
        self.toml_path = toml_path
        self.refresh_seconds = refresh_seconds
        self.exposures = ExposureLog(store_url if record_exposures else None, project)
        self._record = record_exposures
        self._flags: dict[str, FlagDef] = {}
        self._experiments: dict[str, ExperimentDef] = {}
        self._static = list(definitions)
        self._loaded = False
        self._load_lock = threading.Lock()
        self._refresher: threading.Thread | None = None
        self._stop = threading.Event()
        self.load_errors = 0
        if self._static and store_url is None and toml_path is None:
            self._install(self._static)
            self._loaded = True

    # -- definitions ------------------------------------------------------------------------
    def _install(self, defs: Iterable[Definition]) -> None:
        flags: dict[str, FlagDef] = {}
        exps: dict[str, ExperimentDef] = {}
        for d in defs:
            if isinstance(d, FlagDef):
                flags[d.name] = d
            else:
                exps[d.name] = d
        self._flags, self._experiments = flags, exps

    def load(self) -> None:
        """(Re)read definitions: given ones, then glassbox.toml, then the store (later sources win)."""
        defs: dict[tuple[str, str], Definition] = {(d.kind, d.name): d for d in self._static}
        try:
            if self.toml_path:
                from glassbox.flags.config_file import definitions_from, read_toml

                for d in definitions_from(read_toml(self.toml_path)):
                    defs[(d.kind, d.name)] = d
            if self.store_url:
                from glassbox.experiments.registry import list_definitions
                from glassbox.store.store import Store

                store = Store(self.store_url)
                try:
                    # Shared ("default" project) definitions, then the app's own project's, which win.
                    projects = ["default"] if self.project == "default" else ["default", self.project]
                    for project in projects:
                        for sd in list_definitions(store, project=project):
                            defs[(sd.definition.kind, sd.definition.name)] = sd.definition
                finally:
                    store.close()
        except Exception as exc:  # noqa: BLE001 - keep the last good definitions
            self.load_errors += 1
            log.warning("glassbox: could not load flag definitions: %s", exc)
            if self._loaded:
                return
        self._install(defs.values())
        self._loaded = True

    def _ensure(self) -> None:
        if self._loaded:
            return
        with self._load_lock:
            if not self._loaded:
                self.load()
                if self._record:
                    self.exposures.start()  # here, not on the first exposure (the evaluation path)
                if self.store_url and self.refresh_seconds > 0:
                    self._refresher = threading.Thread(target=self._refresh_loop, name="glassbox-flags", daemon=True)
                    self._refresher.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            self.load()

    def set(self, definition: Definition) -> None:
        """Add or replace one definition in memory (tests, scripts)."""
        self._ensure()
        self._static = [d for d in self._static if (d.kind, d.name) != (definition.kind, definition.name)]
        self._static.append(definition)
        current: list[Definition] = [*self._flags.values(), *self._experiments.values()]
        self._install([d for d in current if (d.kind, d.name) != (definition.kind, definition.name)] + [definition])

    def flags(self) -> dict[str, FlagDef]:
        self._ensure()
        return dict(self._flags)

    def experiments(self) -> dict[str, ExperimentDef]:
        self._ensure()
        return dict(self._experiments)

    # -- evaluation -------------------------------------------------------------------------
    def resolve_flag(
        self, name: str, unit_id: str | None, default: Any = None, attributes: Mapping[str, Any] | None = None
    ) -> Resolution:
        """The flag's resolution; a missing flag resolves to ``default`` with reason ERROR (FLAG_NOT_FOUND)."""
        if not self._loaded:
            self._ensure()
        flag = self._flags.get(name)
        if flag is None:
            exp = self._experiments.get(name)
            if exp is not None:  # an experiment read as a flag: its variant's value
                return assign_variant(exp, unit_id, attributes)
            return Resolution(default, None, ERROR, error=NOT_FOUND)
        return evaluate_flag(flag, unit_id, attributes)

    def resolve_variant(
        self, name: str, unit_id: str | None, attributes: Mapping[str, Any] | None = None
    ) -> Resolution:
        if not self._loaded:
            self._ensure()
        exp = self._experiments.get(name)
        if exp is None:
            return Resolution(None, None, ERROR, error=NOT_FOUND)
        return assign_variant(exp, unit_id, attributes)

    def flag(
        self, name: str, unit_id: str | None = None, default: Any = None, attributes: Mapping[str, Any] | None = None
    ) -> Any:
        """The flag's value for the unit (``default`` when the flag is missing); records the exposure."""
        r = self.resolve_flag(name, unit_id, default, attributes)
        if r.error is None and unit_id is not None:
            self.expose("flag" if name in self._flags else "experiment", name, r, str(unit_id), "flag")
        return r.value

    def variant(self, name: str, unit_id: str | None, attributes: Mapping[str, Any] | None = None) -> str | None:
        """The unit's variant key (the control outside the experiment; None for an unknown experiment)."""
        r = self.resolve_variant(name, unit_id, attributes)
        if r.in_experiment and unit_id is not None:
            self.expose("experiment", name, r, str(unit_id), "variant")
        return r.variant

    def expose(self, kind: str, name: str, r: Resolution, unit_id: str, source: str) -> None:
        """Mark the current trace and log the exposure. Only units inside an experiment count as exposed."""
        if kind == "experiment" and not r.in_experiment:
            return
        variant = r.variant or "default"
        trace_id = None
        cur = CURRENT.get()
        if cur is not None and getattr(cur, "recording", False):
            trace = cur._trace
            trace_id = trace.trace_id
            if kind == "experiment":
                if trace.experiment is None:
                    trace.experiment, trace.variant = name, variant
                if trace.user_id is None:
                    trace.user_id = unit_id
                trace.metadata.setdefault("experiments", {})[name] = variant
            else:
                trace.metadata.setdefault("flags", {})[name] = variant
        if self._record:
            self.exposures.record(kind, name, variant, unit_id, trace_id, source)

    def close(self) -> None:
        self._stop.set()
        self.exposures.close()


_default: list[Any] = [None, None]  # [runtime the client was built for, client]
_default_lock = threading.Lock()


def default_client() -> FlagClient:
    """The process's client for the active configuration (rebuilt after ``gb.configure``)."""
    from glassbox import runtime

    rt = runtime.current() or runtime.get()
    if _default[1] is not None and _default[0] is rt:
        return _default[1]
    with _default_lock:
        if _default[1] is None or _default[0] is not rt:
            settings = getattr(rt, "settings", None)
            store = getattr(settings, "store", None) if settings is not None else None
            project = getattr(settings, "project", None) or "default"
            old = _default[1]
            _default[0], _default[1] = rt, FlagClient(store_url=store or None, project=project)
            if old is not None:
                old.close()
    return _default[1]


def set_default_client(client: FlagClient | None) -> None:
    """Use ``client`` for gb.flag / gb.variant (None: build one from the configuration again)."""
    from glassbox import runtime

    with _default_lock:
        _default[0], _default[1] = (runtime.current(), client) if client is not None else (None, None)


def flush_default() -> None:
    """Write the default client's queued exposures now (``gb.flush`` calls this)."""
    client = _default[1]
    if client is not None:
        client.exposures.flush()
