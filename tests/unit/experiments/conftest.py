"""Fixtures of the experiments tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exp_runs import seed_runs


@pytest.fixture
def seeded():
    return seed_runs
