"""Feedback: scales, sentiment on a fixed labelled corpus, gb.feedback during and after a run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import glassbox as gb
from glassbox.store.store import Store
from glassbox.user_feedback import assess, normalize, scale_bounds


@pytest.mark.parametrize(
    ("rating", "scale", "expected"),
    [
        (4, (1, 5), (4.0, "1-5", 0.75)),
        (1, (1, 5), (1.0, "1-5", 0.0)),
        (5, "1-5", (5.0, "1-5", 1.0)),
        (7, (0, 10), (7.0, "0-10", 0.7)),
        (0.3, None, (0.3, "0-1", 0.3)),
        (1, None, (1.0, "0-1", 1.0)),  # 1 without a scale is the top of 0-1
        (4, None, (4.0, "1-5", 0.75)),  # seed 004's stars without a scale
        (True, None, (1.0, "thumbs", 1.0)),
        ("down", "thumbs", (0.0, "thumbs", 0.0)),
        (0, "thumbs", (0.0, "thumbs", 0.0)),
    ],
)
def test_scales_normalise_onto_0_1(rating, scale, expected):
    assert normalize(rating, scale) == expected


@pytest.mark.parametrize(
    ("rating", "scale", "message"),
    [
        (6, (1, 5), "off its scale 1-5"),
        (7, None, "give its scale"),
        (3, (5, 1), "low must be below high"),
        (3, "stars", "expected 'thumbs'"),
        ("sideways", "thumbs", "thumbs take"),
        (float("nan"), None, "finite number"),
    ],
)
def test_bad_ratings_name_the_problem(rating, scale, message):
    with pytest.raises(ValueError, match=message):
        normalize(rating, scale)


def test_scale_names():
    assert scale_bounds((1, 10)) == ("1-10", 1.0, 10.0) and scale_bounds("0..100") == ("0-100", 0.0, 100.0)


# A fixed corpus with known labels: VADER (shipped lexicon, no download) must label each as given.
CORPUS = [
    ("This answer was perfect, thank you so much!", "positive"),
    ("Great recommendations, I love it", "positive"),
    ("Really helpful and accurate.", "positive"),
    ("This is wrong and useless.", "negative"),
    ("Terrible suggestion, I hate this", "negative"),
    ("The answer was awful and confusing", "negative"),
    ("I asked about pasta.", "neutral"),
    ("The recipe has four steps.", "neutral"),
]


@pytest.mark.parametrize(("comment", "label"), CORPUS)
def test_comment_sentiment_on_a_labelled_corpus(comment, label):
    got = assess(comment=comment)
    assert got["label"] == label and got["kind"] == "explicit"
    assert (
        (got["sentiment"] > 0)
        if label == "positive"
        else (got["sentiment"] < 0)
        if label == "negative"
        else (got["sentiment"] == 0)
    )


def test_sentiment_from_rating_signal_and_override():
    assert assess(rating=4, scale=(1, 5), comment="awful")[("label")] == "positive"  # the rating speaks first
    assert assess(rating=3, scale=(1, 5))["label"] == "neutral"
    assert assess(rating=2, scale=(1, 5))["sentiment"] == pytest.approx(-0.5)
    for signal, label in (
        ("accept", "positive"),
        ("share", "positive"),
        ("click", "positive"),
        ("re_query", "negative"),
        ("skip", "negative"),
        ("bookmarked", "neutral"),
    ):
        got = assess(signal=signal)
        assert (got["kind"], got["label"]) == ("implicit", label), signal
    assert assess(signal="bookmarked", sentiment="positive")["label"] == "positive"
    with pytest.raises(ValueError, match="signal"):
        assess(signal="Not A Name")
    with pytest.raises(ValueError, match="needs a rating, a comment or a signal"):
        assess()


def test_gb_feedback_during_and_after_a_run_reaches_store_and_trail(store_url, tmp_path):
    gb.configure(store=store_url, trail_dir=str(tmp_path / "trail"), flush_interval=0.05)
    with gb.trace("what should I cook?", workflow="recommend") as t:
        live = gb.feedback(t, 5, scale=(1, 5), user_id="u1")
    gb.flush()
    after = gb.feedback(t.trace_id, signal="share")
    comment = gb.feedback(t.trace_id.upper(), comment="Terrible suggestion, I hate this")
    gb.flush()
    assert live.normalized == 1.0 and after.label == "positive" and comment.label == "negative"
    store = Store(store_url)
    back = store.get_trace(t.trace_id)
    got = {f.id: f for f in back.feedback}
    assert set(got) == {live.id, after.id, comment.id}
    assert (got[live.id].rating, got[live.id].scale, got[live.id].user_id) == (5.0, "1-5", "u1")
    assert got[after.id].signal == "share" and got[after.id].kind == "implicit"
    assert back.status == "complete" and back.workflow == "recommend"  # the annotation left the run as it was
    assert gb.query(store).summary()["runs"] == 1

    # The trail holds the annotations too: a fresh store rebuilt from it has the same feedback.
    from glassbox.store.importer import import_trails
    from glassbox.store.retention import old_trail_files

    gb.shutdown()
    # Feedback on a finished run is filed under the day it was given, not 1970-01-01 (which any
    # `glassbox gc` cutoff would delete with the feedback in it).
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert {p.name for p in (tmp_path / "trail").glob("*.jsonl")} == {f"{today}.jsonl"}
    assert old_trail_files(tmp_path / "trail", datetime.now(UTC) - timedelta(days=1)) == []
    rebuilt = Store(f"sqlite:///{tmp_path}/rebuilt.db")
    import_trails(rebuilt, [tmp_path / "trail"])
    assert {f.id for f in rebuilt.get_trace(t.trace_id).feedback} == set(got)
    assert gb.query(rebuilt).summary()["runs"] == 1


def test_bad_feedback_warns_and_returns_none(tmp_path, caplog):
    gb.configure(store=f"sqlite:///{tmp_path}/f.db", trail_dir=None)
    with caplog.at_level(logging.WARNING, logger="glassbox"):
        assert gb.feedback("0" * 32, 9) is None
        assert gb.feedback("not-an-id", 1) is None
    assert "give its scale" in caplog.text and "32 hex digits" in caplog.text


def test_feedback_in_show_and_on_the_run_page(tmp_path):
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from glassbox.cli.app import app
    from glassbox.server.app import create_app
    from glassbox.server.web import router

    url = f"sqlite:///{tmp_path}/s.db"
    gb.configure(store=url, trail_dir=None, flush_interval=0.05)
    with gb.trace("q", workflow="qa") as t:
        pass
    gb.flush()
    gb.feedback(t.trace_id, 4, scale=(1, 5), comment="<b>nice</b>", user_id="u1")
    gb.feedback(t.trace_id, signal="skip")
    gb.flush()
    runner = CliRunner()
    compact = runner.invoke(app, ["show", t.trace_id, "--store", url]).output
    assert "Feedback: 2 (1 positive, 1 negative) · avg rating 0.75" in compact
    verbose = runner.invoke(app, ["show", t.trace_id, "--store", url, "-v"]).output
    assert "rating 4 on 1-5  positive +0.50" in verbose and "signal skip  negative -1.00" in verbose
    with TestClient(create_app(url, routers=[router])) as c:
        html = c.get(f"/runs/{t.trace_id}").text
    assert "rating 4 (1-5)" in html and '<span class="badge pass">positive</span>' in html
    assert "&lt;b&gt;nice&lt;/b&gt;" in html and "<b>nice</b>" not in html


@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6), st.floats(0, 1))
def test_property_any_scale_normalises_into_0_1(lo, width, share):
    hi = lo + width
    rating = min(hi, lo + share * width)
    value, _, norm = normalize(rating, (lo, hi))
    assert 0.0 <= norm <= 1.0 and value == rating
    assert norm == pytest.approx((rating - lo) / (hi - lo), abs=1e-9)
    got = assess(rating=rating, scale=(lo, hi))
    assert got["label"] == ("positive" if norm > 0.5 else "negative" if norm < 0.5 else "neutral")
    assert got["sentiment"] == pytest.approx(2 * norm - 1)
