"""Structured logs that carry the trace: ``gb.logger(name)`` (structlog, JSON) and ``gb.instrument_logging()``.

Every line gets ``trace_id`` and ``span_id`` of the current glassbox stage and the ``correlation_id``
of ``gb.correlation`` — read when the line is logged, from context variables, so they are right across
threads started with ``gb.wrap`` and across asyncio tasks. The processors are plain functions
(``add_trace_ids``) that users can put in their own structlog chain.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

from glassbox._correlation import current as current_correlation
from glassbox.context import CURRENT as _current

__all__ = ["JsonFormatter", "add_trace_ids", "instrument_logging", "logger", "trace_ids"]


def trace_ids() -> dict[str, str]:
    """``trace_id``, ``span_id`` and ``correlation_id`` of the current context (only those that are set)."""
    out: dict[str, str] = {}
    cur = _current.get()
    if cur is not None and getattr(cur, "trace_id", None):
        out["trace_id"] = cur.trace_id
        if getattr(cur, "span_id", None):
            out["span_id"] = cur.span_id
    cid = current_correlation()
    if cid:
        out["correlation_id"] = cid
    return out


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current trace, span and correlation ids (explicit values win)."""
    for key, value in trace_ids().items():
        event_dict.setdefault(key, value)
    return event_dict


def logger(name: str | None = None, *, file: IO[str] | None = None, level: int = logging.INFO, **bound: Any) -> Any:
    """A structlog logger writing one JSON object a line (to stderr by default) with the trace ids.

    ``log = gb.logger("retrieval"); log.info("searched", hits=3)`` -> ``{"event": "searched", "hits": 3,
    "logger": "retrieval", "level": "info", "timestamp": "…Z", "trace_id": "…", "span_id": "…", …}``.
    Safe at import time, before ``gb.configure``: the ids are read when a line is logged.
    """
    import structlog

    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(default=str),
    ]
    return structlog.wrap_logger(
        structlog.PrintLogger(file=file or sys.stderr),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    ).bind(logger=name or "app", **bound)


class JsonFormatter(logging.Formatter):
    """A stdlib formatter writing one JSON object a line: time, level, logger, message, trace ids, extras."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


_installed: list[Any] = []


def instrument_logging(*, json_format: bool = False, level: int | None = None) -> None:
    """Give every stdlib ``logging`` record ``trace_id``, ``span_id`` and ``correlation_id`` attributes.

    Use them in a format (``%(trace_id)s``) or pass ``json_format=True`` to write JSON lines through the
    root logger's handlers (a stderr handler is added when it has none). Idempotent.
    """
    if not _installed:
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            ids = trace_ids()
            record.trace_id = ids.get("trace_id", "")
            record.span_id = ids.get("span_id", "")
            record.correlation_id = ids.get("correlation_id", "")
            return record

        logging.setLogRecordFactory(factory)
        _installed.append(previous)
    root = logging.getLogger()
    if level is not None:
        root.setLevel(level)
    if json_format:
        if not root.handlers:
            root.addHandler(logging.StreamHandler())
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())


def uninstrument_logging() -> None:
    """Undo ``instrument_logging``'s record factory (tests)."""
    if _installed:
        logging.setLogRecordFactory(_installed.pop())
