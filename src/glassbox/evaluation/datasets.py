"""Regression datasets: cases read from JSONL or CSV (checked line by line), versioned in the store.

A case is seed 000's shape plus a few fields::

    {"id": "python-1", "question": "What is Python?", "expected_workflow": "search_qa",
     "expected_fields": ["final_answer", "citations"], "quality_thresholds": {"min_answer_length": 50},
     "input": ..., "expected_output": ..., "tags": [...], "metadata": {...}, "golden": "refund-policy"}

``input`` is what the target is called with (``question`` when absent). A dataset version is the
content hash of its cases, so pushing an unchanged file adds nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from glassbox.errors import GlassboxError, NotFound

if TYPE_CHECKING:
    from glassbox.store.store import Store

FIELDS = (
    "id",
    "question",
    "input",
    "expected_output",
    "expected_workflow",
    "expected_fields",
    "quality_thresholds",
    "tags",
    "metadata",
    "golden",
)
_LIST_FIELDS = ("expected_fields", "tags")
_DICT_FIELDS = ("quality_thresholds", "metadata")


class DatasetNotFound(NotFound):
    """No dataset (or no such version of it) in the store."""


@dataclass(frozen=True)
class Problem:
    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", field {self.field!r}" if self.field else "")
        return f"{where}: {self.reason}"


class DatasetError(GlassboxError):
    """A dataset file has bad lines; ``problems`` lists every one (line number, field, reason)."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"{source}: {len(self.problems)} bad line{'s' if len(self.problems) != 1 else ''}: {shown}{more}"
        )


@dataclass
class Case:
    """One regression case."""

    id: str
    input: Any
    question: str | None = None
    expected_output: Any = None
    expected_workflow: str | None = None
    expected_fields: list[str] = field(default_factory=list)
    quality_thresholds: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    golden: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The case as a JSONL line holds it (empty fields left out)."""
        out: dict[str, Any] = {"id": self.id}
        for name in FIELDS[1:]:
            value = getattr(self, name)
            if value not in (None, [], {}):
                out[name] = value
        if self.question is not None and self.input == self.question:
            out.pop("input", None)  # input defaults to the question
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Case:
        return cls(
            id=str(d["id"]),
            input=d.get("input", d.get("question")),
            question=d.get("question"),
            expected_output=d.get("expected_output"),
            expected_workflow=d.get("expected_workflow"),
            expected_fields=list(d.get("expected_fields") or []),
            quality_thresholds=dict(d.get("quality_thresholds") or {}),
            tags=list(d.get("tags") or []),
            metadata=dict(d.get("metadata") or {}),
            golden=d.get("golden"),
        )


@dataclass
class Dataset:
    """A named, versioned list of cases."""

    name: str
    cases: list[Case]
    version: str = ""
    id: str | None = None
    project: str = "default"
    description: str | None = None
    source: str | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.version:
            self.version = content_version(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "name": self.name,
            "version": self.version,
            "cases": len(self.cases),
            "description": self.description,
            "source": self.source,
            "created_at": self.created_at.isoformat() + "Z" if self.created_at else None,
        }


def content_version(cases: Sequence[Case]) -> str:
    """The first 12 hex digits of the SHA-256 of the cases' canonical JSON."""
    blob = json.dumps([c.to_dict() for c in cases], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# -- parsing -------------------------------------------------------------------------------------
def _check_case(raw: Any, line: int, problems: list[Problem]) -> dict[str, Any] | None:
    """The case's fields, or None after adding every problem found."""
    if not isinstance(raw, dict):
        problems.append(Problem(line, None, f"expected a JSON object, got {type(raw).__name__}"))
        return None
    found = len(problems)
    for key in raw:
        if key not in FIELDS:
            problems.append(
                Problem(line, str(key), f"unknown field; known: {', '.join(FIELDS)} (put anything else under metadata)")
            )
    if raw.get("input") is None and raw.get("question") is None:
        problems.append(Problem(line, "input", "a case needs an input or a question"))
    if "id" in raw and (not isinstance(raw["id"], (str, int)) or isinstance(raw["id"], bool) or raw["id"] == ""):
        problems.append(Problem(line, "id", "expected a non-empty string or an integer"))
    for key in ("question", "expected_workflow", "golden"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            problems.append(Problem(line, key, f"expected a string, got {type(raw[key]).__name__}"))
    for key in _LIST_FIELDS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            problems.append(Problem(line, key, "expected a list of strings"))
    for key in _DICT_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            problems.append(Problem(line, key, f"expected an object, got {type(value).__name__}"))
    for name, value in (
        (raw.get("quality_thresholds") or {}).items() if isinstance(raw.get("quality_thresholds"), dict) else ()
    ):
        if not (str(name).startswith(("min_", "max_")) and len(str(name)) > 4):
            problems.append(
                Problem(
                    line,
                    "quality_thresholds",
                    f"{name!r}: threshold names are min_<score> or max_<score> "
                    "(e.g. min_answer_length, max_latency_ms, max_cost_usd)",
                )
            )
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(Problem(line, "quality_thresholds", f"{name!r}: expected a number, got {value!r}"))
    return dict(raw) if len(problems) == found else None


def _finish(rows: Iterable[tuple[int, dict[str, Any]]], source: str, problems: list[Problem]) -> list[Case]:
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line, d in rows:
        d.setdefault("id", _case_hash(d))
        d["id"] = str(d["id"])
        if d["id"] in seen:
            problems.append(Problem(line, "id", f"duplicate case id {d['id']!r} (first on line {seen[d['id']]})"))
            continue
        seen[d["id"]] = line
        cases.append(Case.from_dict(d))
    if problems:
        raise DatasetError(source, sorted(problems, key=lambda p: p.line))
    if not cases:
        raise DatasetError(source, [Problem(0, None, "no cases")])
    return cases


def _case_hash(d: dict[str, Any]) -> str:
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def parse_jsonl(text: str, source: str = "<jsonl>") -> list[Case]:
    """Cases from JSONL text; DatasetError lists every bad line."""
    problems: list[Problem] = []
    good: list[tuple[int, dict[str, Any]]] = []
    for n, raw_line in enumerate(text.splitlines(), start=1):
        stripped = raw_line.strip()
        if not stripped or stripped.startswith("//"):
            continue
        try:
            raw = json.loads(stripped)
        except json.JSONDecodeError as exc:
            problems.append(Problem(n, None, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        case = _check_case(raw, n, problems)
        if case is not None:
            good.append((n, case))
    return _finish(good, source, problems)


def _csv_value(key: str, text: str, line: int, problems: list[Problem]) -> Any:
    text = text.strip()
    if text == "":
        return None
    if key in _LIST_FIELDS:
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(Problem(line, key, f"not a JSON list: {exc.msg}"))
                return None
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if key in _DICT_FIELDS or (key in ("input", "expected_output") and text[:1] in "[{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if key in _DICT_FIELDS:
                problems.append(Problem(line, key, f"not a JSON object: {exc.msg}"))
                return None
    return text


def parse_csv(text: str, source: str = "<csv>") -> list[Case]:
    """Cases from CSV with a header row naming the fields; list fields are JSON or comma-separated, objects JSON.

    A ``min_*`` / ``max_*`` column is a quality threshold of its row.
    """
    problems: list[Problem] = []
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    good: list[tuple[int, dict[str, Any]]] = []
    for row in reader:
        line = reader.line_num
        raw: dict[str, Any] = {}
        thresholds: dict[str, Any] = {}
        for key in header:
            value = row.get(key)
            if value is None:
                continue
            if key.startswith(("min_", "max_")) and key not in FIELDS:
                if value.strip():
                    try:
                        thresholds[key] = float(value)
                    except ValueError:
                        problems.append(Problem(line, key, f"expected a number, got {value!r}"))
                continue
            parsed = _csv_value(key, value, line, problems)
            if parsed is not None:
                raw[key] = parsed
        if None in row:  # more cells than header names
            problems.append(Problem(line, None, f"{len(row[None])} more cells than the header has columns"))  # type: ignore[index]
            continue
        if thresholds:
            raw["quality_thresholds"] = {**(raw.get("quality_thresholds") or {}), **thresholds}
        case = _check_case(raw, line, problems)
        if case is not None:
            good.append((line, case))
    return _finish(good, source, problems)


def load_file(path: str | Path) -> list[Case]:
    """Cases from a ``.jsonl`` / ``.json`` or ``.csv`` file (by extension)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        return parse_csv(text, str(p))
    return parse_jsonl(text, str(p))


def to_jsonl(cases: Sequence[Case], out: IO[str] | None = None) -> str:
    """The cases as JSONL (one sorted-key object a line), for review in git; written to ``out`` if given."""
    text = "".join(json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for c in cases)
    if out is not None:
        out.write(text)
    return text


# -- the store -------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def push(
    store: Store,
    cases: Sequence[Case] | str | Path,
    name: str,
    *,
    project: str = "default",
    description: str | None = None,
    source: str | None = None,
) -> tuple[Dataset, bool]:
    """Store ``cases`` (or a file's) as a version of dataset ``name``; (dataset, created). Same content: no-op."""
    from sqlalchemy import insert, select

    from glassbox.ids import new_record_id
    from glassbox.store.tables.evaluation import dataset_cases, datasets

    if isinstance(cases, (str, Path)):
        source = source or str(cases)
        cases = load_file(cases)
    if not name or not name.strip():
        raise GlassboxError("a dataset needs a name")
    ds = Dataset(name, list(cases), project=project, description=description, source=source)
    if not ds.cases:
        raise GlassboxError(f"dataset {name!r}: no cases")
    d = datasets.c
    with store.ready().engine.begin() as conn:
        row = conn.execute(
            select(d.id, d.created_at).where(d.project == project, d.name == name, d.version == ds.version)
        ).first()
        if row is not None:
            ds.id, ds.created_at = row.id, row.created_at
            return ds, False
        ds.id, ds.created_at = new_record_id(), _now()
        conn.execute(
            insert(datasets),
            [
                {
                    "id": ds.id,
                    "project": project,
                    "name": name,
                    "version": ds.version,
                    "description": description,
                    "source": source,
                    "case_count": len(ds),
                    "created_at": ds.created_at,
                }
            ],
        )
        conn.execute(
            insert(dataset_cases),
            [
                {"dataset_id": ds.id, "case_id": c.id, "position": i, "data": c.to_dict()}
                for i, c in enumerate(ds.cases)
            ],
        )
    return ds, True


def get(store: Store, name: str, version: str | None = None, *, project: str = "default") -> Dataset:
    """Dataset ``name`` at ``version`` (a prefix works) or its newest; DatasetNotFound if absent."""
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import dataset_cases, datasets

    d = datasets.c
    cond = [d.project == project, d.name == name]
    if version:
        cond.append(d.version.startswith(version, autoescape=True))
    with store.ready().engine.connect() as conn:
        rows = conn.execute(select(datasets).where(*cond).order_by(d.created_at.desc(), d.id).limit(2)).all()
        if not rows:
            what = f"dataset {name!r}" + (f" version {version!r}" if version else "")
            raise DatasetNotFound(f"no {what} in project {project!r} (see `glassbox dataset list`)")
        if version and len(rows) > 1 and rows[0].version != version:
            raise DatasetNotFound(f"dataset {name!r}: version prefix {version!r} is ambiguous")
        row = rows[0]
        cases = (
            conn.execute(
                select(dataset_cases.c.data)
                .where(dataset_cases.c.dataset_id == row.id)
                .order_by(dataset_cases.c.position)
            )
            .scalars()
            .all()
        )
    return Dataset(
        row.name,
        [Case.from_dict(_loaded(c)) for c in cases],
        row.version,
        row.id,
        row.project,
        row.description,
        row.source,
        row.created_at,
    )


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def list_datasets(store: Store, *, project: str | None = None) -> list[dict[str, Any]]:
    """Every dataset version, newest first: id, project, name, version, cases, source, created_at."""
    from sqlalchemy import select

    from glassbox.store.tables.evaluation import datasets

    d = datasets.c
    q = select(datasets).order_by(d.name, d.created_at.desc())
    if project is not None:
        q = q.where(d.project == project)
    with store.ready().engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        {
            "id": r.id,
            "project": r.project,
            "name": r.name,
            "version": r.version,
            "cases": r.case_count,
            "description": r.description,
            "source": r.source,
            "created_at": r.created_at.isoformat() + "Z",
        }
        for r in rows
    ]


def case_from_trace(trace: Any, case_id: str | None = None) -> Case:
    """A case that expects what a stored run did: its input, output, workflow and the output's fields."""
    fields = sorted(trace.output) if isinstance(trace.output, dict) else []
    if trace.input is None:
        raise GlassboxError(f"trace {trace.trace_id} has no input to replay")
    return Case(
        id=case_id or f"trace-{trace.trace_id[:12]}",
        input=trace.input,
        expected_output=trace.output,
        expected_workflow=trace.workflow,
        expected_fields=fields,
        tags=list(trace.tags or []),
        metadata={"source_trace": trace.trace_id},
    )


def add_from_trace(
    store: Store, name: str, trace_id: str, *, project: str = "default", case_id: str | None = None
) -> Dataset:
    """A new version of ``name`` with a case made from stored trace ``trace_id`` (a new dataset if none)."""
    trace = store.get_trace(trace_id)
    case = case_from_trace(trace, case_id)
    try:
        current = get(store, name, project=project).cases
    except DatasetNotFound:
        current = []
    if any(c.id == case.id for c in current):
        raise GlassboxError(f"dataset {name!r} already has a case {case.id!r}")
    ds, _ = push(store, [*current, case], name, project=project, source="traces")
    return ds
