"""One exception hierarchy: what went wrong and what to do about it."""

from __future__ import annotations


class GlassboxError(Exception):
    """Base class of every error glassbox raises on purpose."""


class ConfigError(GlassboxError):
    """A setting is invalid (bad value, unreadable config file)."""


class StoreError(GlassboxError):
    """The store cannot be reached, opened or migrated."""


class NotFound(GlassboxError):
    """Base of every "no such thing" error (traces, alerts, datasets, flags, goldens…).

    The CLI maps it to one message and exit code, the server to a 404 with a JSON body; subclasses
    only say what was missing.
    """


class TraceNotFound(NotFound):
    """No trace with that id is in the store."""


class ImportFormatError(GlassboxError):
    """A trail file line is not a valid trace document."""


class QueryError(GlassboxError):
    """A query was asked wrongly: an unknown filter, a malformed date, a value of the wrong kind."""
