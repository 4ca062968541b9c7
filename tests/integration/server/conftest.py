"""A glassbox server app over each store, for httpx (ASGI) and for a real uvicorn on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from glassbox.server.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "analysis"))


@pytest.fixture
def app(store) -> Any:
    return create_app(store)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
