"""import_trails: trail files into a store, batched, idempotent, skipping what cannot be imported."""

from __future__ import annotations

import json

import pytest

import glassbox as gb
from glassbox.store.importer import ImportReport, count_lines, import_trails
from glassbox.store.trail import dumps_line
from glassbox.testing import capture


def _traces(n: int) -> list:
    with capture() as captured:
        for i in range(n):
            with gb.trace(f"question {i}", workflow="w", intent="i", domain="d"):
                with gb.stage("retrieval", kind="retrieval"):
                    gb.decision("bm25", why="short query", confidence=0.7, alternatives={"dense": 0.6})
                    gb.evidence("retrieved", collected=10, passed=4)
                gb.score("quality", 0.8, max=1.0, passed=True, dimensions={"relevance": 0.9})
    return list(captured.flush())


@pytest.fixture
def trail(tmp_path):
    folder = tmp_path / "trail"
    folder.mkdir()
    traces = _traces(5)
    (folder / "2026-11-01.jsonl").write_bytes(b"".join(dumps_line(t) for t in traces[:3]))
    (folder / "2026-11-02.jsonl").write_bytes(b"".join(dumps_line(t) for t in traces[3:]))
    return folder, traces


def test_imports_every_trace_whole(store, trail):
    folder, traces = trail
    report = import_trails(store, [folder])
    assert report == ImportReport(files=2, imported=5, skipped=[])
    for t in traces:
        assert store.get_trace(t.trace_id).to_dict() == t.to_dict()


def test_small_batches_and_progress(store, trail):
    folder, _ = trail
    progress: list[tuple[str, int]] = []
    report = import_trails(store, [folder], batch_size=2, on_progress=lambda f, n: progress.append((f.name, n)))
    assert report.imported == 5
    assert progress == [("2026-11-01.jsonl", 2), ("2026-11-01.jsonl", 3), ("2026-11-02.jsonl", 2)]
    assert store.counts()["traces"] == 5


def test_importing_again_changes_nothing(store, trail):
    folder, _ = trail
    import_trails(store, [folder])
    counts = store.counts()
    assert import_trails(store, [folder], batch_size=1).imported == 5
    assert store.counts() == counts


def test_bad_lines_are_skipped_with_their_place(store, tmp_path):
    good = _traces(2)
    path = tmp_path / "t.jsonl"
    path.write_bytes(dumps_line(good[0]) + b"{oops\n" + b'{"trace_id": ""}\n' + b'"a string"\n' + dumps_line(good[1]))
    seen: list[str] = []
    report = import_trails(store, [path], on_skip=seen.append)
    assert report.imported == 2 and report.files == 1
    assert seen == report.skipped and len(seen) == 3
    assert [m.split(": ", 1)[0] for m in seen] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_a_trace_the_store_rejects_is_skipped_and_the_rest_of_its_batch_written(store, tmp_path):
    traces = _traces(3)
    docs = [t.to_dict() for t in traces]
    docs[1]["spans"][0]["start_ns"] = 2**70  # valid JSON, but no SQL integer column (or date) holds it
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    report = import_trails(store, [path])
    assert report.imported == 2
    (msg,) = report.skipped
    assert msg.startswith(f"{path}:2: not written: ")
    assert {s["trace_id"] for s in store.list_traces()} == {traces[0].trace_id, traces[2].trace_id}


def test_a_missing_path_fails_before_anything_is_written(store, trail, tmp_path):
    folder, _ = trail
    with pytest.raises(FileNotFoundError):
        import_trails(store, [folder, tmp_path / "absent.jsonl"])
    assert store.counts()["traces"] == 0


def test_count_lines(tmp_path):
    p = tmp_path / "f"
    for content, n in ((b"", 0), (b"a", 1), (b"a\n", 1), (b"a\nb", 2), (b"a\n\nb\n", 3)):
        p.write_bytes(content)
        assert count_lines(p) == n
