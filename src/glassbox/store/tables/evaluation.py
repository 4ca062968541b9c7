"""Tables of the evaluation feature (added to the store's one ``metadata``)."""

from __future__ import annotations

from glassbox.store.columns import Id, Json, Name, metadata  # noqa: F401  (used as the family's tables arrive)
