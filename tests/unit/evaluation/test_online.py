"""Online evaluation: a sampled evaluator runs in the writer (not the app's thread) and its score is stored."""

from __future__ import annotations

import threading

import pytest

import glassbox as gb
from glassbox.analysis.query import Query
from glassbox.errors import ConfigError
from glassbox.evaluation import online
from glassbox.evaluation.evaluators import RegexMatch
from glassbox.scoring import registered, unregister
from glassbox.store.store import Store


@pytest.fixture(autouse=True)
def _clean():
    yield
    for sc in registered():
        if sc.name.startswith(online.PREFIX):
            unregister(sc.name)


def test_sampling_is_deterministic_and_near_the_rate():
    ids = [f"{i:032x}" for i in range(20_000)]
    picked = [online.sampled(t, 0.1) for t in ids]
    assert picked == [online.sampled(t, 0.1) for t in ids]
    assert 0.09 < sum(picked) / len(ids) < 0.11
    assert all(online.sampled(t, 1.0) for t in ids[:10]) and not any(online.sampled(t, 0.0) for t in ids[:10])


def test_configured_evaluator_scores_every_sampled_trace_off_the_app_thread(store_url, tmp_path, monkeypatch):
    threads = []

    class Recorder(RegexMatch):
        def evaluate(self, case, trace):
            threads.append(threading.current_thread().name)
            return super().evaluate(case, trace)

    import sys
    import types

    mod = types.ModuleType("online_evals_test")
    mod.cites = Recorder(r"\[\d+\]", name="cites")
    monkeypatch.setitem(sys.modules, "online_evals_test", mod)
    (tmp_path / "glassbox.toml").write_text(
        '[evaluation]\nonline = { evaluator = "online_evals_test:cites", sample = 1.0 }\n'
    )
    gb.configure(store=store_url, trail_dir=None, flush_interval=0.05)
    ids = []
    for answer in ("See [1].", "no source"):
        with gb.trace("q") as t:
            t.output = answer
            ids.append(t.trace_id)
    gb.flush()
    q = Query(Store(store_url))
    got = [next(s for s in q.trace(i).scores if s.name == "cites") for i in ids]
    assert [(s.value, s.passed) for s in got] == [(1.0, True), (0.0, False)]
    assert threads and all(name == "glassbox-scorer" for name in threads)


def test_bad_online_settings_are_clear():
    with pytest.raises(ConfigError, match="expected module:attribute"):
        online.configure({"evaluator": "nomodule"})
    with pytest.raises(ConfigError, match="unknown key 'rate'"):
        online.configure({"evaluator": "x:y", "rate": 1})
    with pytest.raises(ConfigError, match="between 0 and 1"):
        online.enable(RegexMatch("x"), sample=2)
    with pytest.raises(ConfigError, match="ModuleNotFoundError"):
        online.configure([{"evaluator": "no_such_mod_zz:judge"}])
