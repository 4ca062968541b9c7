"""REST routes and dashboard pages of one feature (see ``glassbox.server.features``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
pages = APIRouter(include_in_schema=False)
