"""The store's one ``MetaData`` and the column types every table family shares."""

from __future__ import annotations

from sqlalchemy import JSON, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite. Python None is SQL NULL (not the JSON text
# `null`), so "absent" is one thing for COALESCE and IS NULL alike.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Id = String(32)
# User-supplied text (names, kinds, sources) is unbounded: a long workflow name must not fail a write.
Name = Text

__all__ = ["Id", "Json", "Name", "metadata"]
