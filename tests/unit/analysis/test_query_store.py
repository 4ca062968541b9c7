"""gb.query() reads the configured store and never creates a database by reading."""

from __future__ import annotations

from pathlib import Path

import pytest

import glassbox as gb
from glassbox.errors import StoreError


def test_gb_query_reads_the_store_gb_configure_set(store_url, tmp_path):
    gb.configure(project="p", store=store_url, trail_dir=None)
    for i in range(2):
        with gb.trace(f"q{i}", workflow="w"):
            pass
    assert gb.flush(10)
    with gb.query() as q:
        assert len(q.traces(limit=10).items) == 2
    assert not Path(".glassbox").exists()  # the default store was never touched


def test_gb_query_without_a_store_creates_no_file(tmp_path):
    assert not Path(".glassbox").exists()
    with pytest.raises(StoreError, match=r"no store at .*nothing has been recorded"):
        gb.query()
    assert not Path(".glassbox").exists()


def test_gb_query_of_a_missing_sqlite_path_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "gb.db"
    with pytest.raises(StoreError, match="no store at"):
        gb.query(str(missing))
    with pytest.raises(StoreError, match="no store at"):
        gb.query(f"sqlite:///{missing}")
    assert not missing.parent.exists()


def test_gb_query_with_the_store_turned_off_says_so():
    gb.configure(store=None, trail_dir=None)
    with pytest.raises(StoreError, match="no store configured"):
        gb.query()
