"""Trace and span ids stay unique whatever the app does with Python's global ``random``."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

import glassbox as gb
from glassbox import ids
from glassbox.testing import capture

_SEEDED_RUNS = """
import random, glassbox as gb
from glassbox.testing import capture
random.seed(1234)  # an evaluation script making its sampling reproducible
with capture() as got:
    for i in range(3):
        with gb.trace(f"run {i}"), gb.stage("step"):
            pass
for t in got:
    print(t.trace_id, *[s.span_id for s in t.spans])
"""


def _ids_of_a_seeded_process() -> list[str]:
    out = subprocess.run([sys.executable, "-c", _SEEDED_RUNS], capture_output=True, text=True, check=True).stdout
    return out.split()


def test_two_processes_seeding_random_alike_get_distinct_ids():
    a, b = _ids_of_a_seeded_process(), _ids_of_a_seeded_process()
    assert len(a) == len(b) == 9  # 3 runs: a trace id and two span ids each
    assert not set(a) & set(b)


def test_seeding_random_in_process_does_not_repeat_ids():
    random.seed(7)
    first = [ids.new_trace_id(), ids.new_span_id(), ids.new_record_id()]
    random.seed(7)
    second = [ids.new_trace_id(), ids.new_span_id(), ids.new_record_id()]
    assert not set(first) & set(second)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_does_not_continue_the_parents_id_stream():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read)
        os.write(write, (ids.new_trace_id() + ids.new_span_id()).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = ids.new_trace_id() + ids.new_span_id()
    assert len(child) == 48 and child != parent


def test_runs_recorded_after_seeding_never_merge():
    with capture() as got:
        for _ in range(2):
            random.seed(0)
            with gb.trace("seeded"):
                pass
    assert len({t.trace_id for t in got}) == 2
