"""User feedback values: rating scales, normalisation and sentiment (SDK core; shared by the SDK, REST and import).

Rules (docs/monitoring.md, "Feedback"):

- A rating is stored as given with its scale (``"0-1"``, ``"1-5"``, ``"thumbs"``, any ``"lo-hi"``) and
  ``normalized`` onto 0..1: ``(rating - lo) / (hi - lo)``; thumbs up is 1, down is 0. Without a scale,
  a rating in 0..1 is read on 0-1 and one in (1, 5] on 1-5 (star ratings).
- Sentiment (-1..1) and its label come from the rating when there is one (``2 * normalized - 1``;
  above 0.5 positive, below negative, 0.5 neutral); else from the comment (VADER's compound score,
  positive at 0.05 or more, negative at -0.05 or less, the VADER authors' cut-offs); else from the
  signal (accept, click, share, copy, thumbs_up +1; re_query, skip, abandon, thumbs_down -1; any
  other signal neutral unless ``sentiment=`` says otherwise).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glassbox.model import Feedback, Trace

SIGNAL_SENTIMENT: dict[str, float] = {
    "accept": 1.0,
    "click": 1.0,
    "share": 1.0,
    "copy": 1.0,
    "thumbs_up": 1.0,
    "re_query": -1.0,
    "skip": -1.0,
    "abandon": -1.0,
    "thumbs_down": -1.0,
}
SIGNALS = tuple(SIGNAL_SENTIMENT)
LABELS = ("positive", "neutral", "negative")
_SIGNAL_NAME = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_SCALE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:-|\.\.|to)\s*(-?\d+(?:\.\d+)?)\s*$")
_THUMBS = {True: 1.0, False: 0.0, "up": 1.0, "down": 0.0, "thumbs_up": 1.0, "thumbs_down": 0.0}  # 1 == True, 0 == False
VADER_POSITIVE, VADER_NEGATIVE = 0.05, -0.05

_vader: list[Any] = []


def _fmt(x: float) -> str:
    return f"{x:g}"


def scale_bounds(scale: Any) -> tuple[str, float, float]:
    """``(name, lo, hi)`` of a scale given as ``"thumbs"``, ``(1, 5)`` or ``"1-5"``; ValueError otherwise."""
    if scale == "thumbs":
        return "thumbs", 0.0, 1.0
    if isinstance(scale, (tuple, list)) and len(scale) == 2:
        lo, hi = (float(v) for v in scale)
    elif isinstance(scale, str) and _SCALE.match(scale):
        m = _SCALE.match(scale)
        lo, hi = float(m.group(1)), float(m.group(2))  # type: ignore[union-attr]
    else:
        raise ValueError(f"scale: expected 'thumbs', a (low, high) pair or 'low-high' such as '1-5', got {scale!r}")
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ValueError(f"scale: low must be below high, got {scale!r}")
    return f"{_fmt(lo)}-{_fmt(hi)}", lo, hi


def normalize(rating: Any, scale: Any = None) -> tuple[float, str, float]:
    """``(rating as stored, scale name, rating on 0..1)``; ValueError for a rating off its scale."""
    if scale == "thumbs" or (scale is None and isinstance(rating, (str, bool))):
        key = rating.strip().lower() if isinstance(rating, str) else rating
        if key not in _THUMBS:
            raise ValueError(f"rating: thumbs take True/False, 1/0 or 'up'/'down', got {rating!r}")
        value = _THUMBS[key]
        return value, "thumbs", value
    if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating):
        raise ValueError(f"rating: expected a finite number, got {rating!r}")
    value = float(rating)
    if scale is None:
        if 0.0 <= value <= 1.0:
            scale = (0, 1)
        elif 1.0 < value <= 5.0:
            scale = (1, 5)
        else:
            raise ValueError(f"rating {_fmt(value)} is off 0-1 and 1-5: give its scale, e.g. scale=(1, 10)")
    name, lo, hi = scale_bounds(scale)
    if not lo <= value <= hi:
        raise ValueError(f"rating {_fmt(value)} is off its scale {name}")
    return value, name, (value - lo) / (hi - lo)


def label_of_rating(normalized: float) -> str:
    return "positive" if normalized > 0.5 else "negative" if normalized < 0.5 else "neutral"


def label_of_sentiment(sentiment: float) -> str:
    return "positive" if sentiment >= VADER_POSITIVE else "negative" if sentiment <= VADER_NEGATIVE else "neutral"


def comment_sentiment(text: str) -> float:
    """VADER's compound score of ``text`` (-1..1); the lexicon ships in the vaderSentiment package."""
    if not _vader:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

        _vader.append(SentimentIntensityAnalyzer())
    return float(_vader[0].polarity_scores(text)["compound"])


def check_signal(signal: str) -> str:
    if not isinstance(signal, str) or not _SIGNAL_NAME.match(signal):
        raise ValueError(
            f"signal: expected a name such as {', '.join(SIGNALS[:5])} (lowercase letters, digits, "
            f"_ . : -; up to 64), got {signal!r}"
        )
    return signal


def _given_sentiment(sentiment: Any) -> float:
    if isinstance(sentiment, str):
        words = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}
        if sentiment not in words:
            raise ValueError(f"sentiment: expected positive, neutral, negative or a number -1..1, got {sentiment!r}")
        return words[sentiment]
    value = float(sentiment)
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"sentiment: expected -1..1, got {sentiment!r}")
    return value


def assess(
    *,
    rating: Any = None,
    scale: Any = None,
    comment: str | None = None,
    signal: str | None = None,
    sentiment: Any = None,
) -> dict[str, Any]:
    """The stored fields of one piece of feedback: kind, rating, scale, normalized, signal, sentiment, label.

    Raises ValueError naming the bad argument; needs a rating, a comment or a signal.
    """
    if rating is None and not comment and signal is None:
        raise ValueError("feedback needs a rating, a comment or a signal")
    if scale is not None and rating is None:
        raise ValueError("scale: given without a rating")
    out: dict[str, Any] = {
        "kind": "explicit" if rating is not None or comment else "implicit",
        "rating": None,
        "scale": None,
        "normalized": None,
        "signal": None,
        "sentiment": None,
        "label": None,
    }
    if signal is not None:
        out["signal"] = check_signal(signal)
    if rating is not None:
        out["rating"], out["scale"], out["normalized"] = normalize(rating, scale)
    if sentiment is not None:
        value = _given_sentiment(sentiment)
        out["sentiment"], out["label"] = value, label_of_sentiment(value)
    elif out["normalized"] is not None:
        out["sentiment"] = 2.0 * out["normalized"] - 1.0
        out["label"] = label_of_rating(out["normalized"])
    elif comment:
        out["sentiment"] = comment_sentiment(comment)
        out["label"] = label_of_sentiment(out["sentiment"])
    else:
        out["sentiment"] = SIGNAL_SENTIMENT.get(out["signal"], 0.0)
        out["label"] = label_of_sentiment(out["sentiment"])
    return out


def record(
    rt: Any,
    trace: Any,
    *,
    rating: Any = None,
    scale: Any = None,
    comment: str | None = None,
    signal: str | None = None,
    user_id: str | None = None,
    sentiment: Any = None,
) -> Any:
    """``gb.feedback``: a run still recording takes the feedback with it; a finished run gets it as an
    annotation (a segment with no spans, written to the store and the trail like any other)."""
    import time

    from glassbox.ids import new_record_id
    from glassbox.model import Feedback

    trace_id = getattr(trace, "trace_id", trace)
    if not isinstance(trace_id, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", trace_id.strip()):
        raise ValueError(f"trace_id: expected the 32 hex digits of a run's id, got {trace!r}")
    trace_id = trace_id.strip().lower()
    if comment is not None and not isinstance(comment, str):
        raise ValueError(f"comment: expected text, got {type(comment).__name__}")
    f = assess(rating=rating, scale=scale, comment=comment, signal=signal, sentiment=sentiment)
    fb = Feedback(
        new_record_id(),
        f["kind"],
        f["rating"],
        f["signal"],
        comment,
        f["sentiment"],
        None if user_id is None else str(user_id),
        time.time_ns(),
        f["scale"],
        f["normalized"],
        f["label"],
    )
    endpoint = getattr(rt.settings, "endpoint", None)
    if endpoint:  # remote mode: OTLP carries no feedback; the server's REST API takes it
        _post_remote(rt, endpoint, trace_id, fb, sentiment)
        return fb
    live = rt.live_trace(trace_id)
    if live is not None:
        live.feedback.append(fb)
        return fb
    rt._submit(annotation(trace_id, rt.project, fb))
    return fb


def annotation(trace_id: str, project: str | None, fb: Feedback, start_ns: int = 0) -> Trace:
    """A segment carrying only ``fb`` for a finished run (no spans, no run row of its own): how feedback
    given after the run reaches the store and the audit trail (SDK) and the server's trail (REST).
    ``start_ns``: the run's start when known, so the trail files the note under the run's day."""
    from glassbox.model import Trace

    note = Trace(trace_id, start_ns=start_ns)
    note.project = project
    note.status = "complete"
    note.feedback = [fb]
    return note


REMOTE_RETRIES = 6  # the run may still be on its way to the server: 404s are retried with backoff


def _post_remote(rt: Any, endpoint: str, trace_id: str, fb: Any, sentiment: Any) -> None:
    """POST the feedback to ``endpoint``/api/v1/feedback on a background thread (never blocks the app)."""
    import threading

    body = {
        "trace_id": trace_id,
        "kind": fb.kind,
        "rating": fb.rating,
        "scale": fb.scale,
        "signal": fb.signal,
        "comment": fb.comment,
        "user_id": fb.user_id,
    }
    if sentiment is not None:
        body["sentiment"] = sentiment
    headers = {"Authorization": f"Bearer {rt.settings.api_key}"} if getattr(rt.settings, "api_key", None) else {}
    url = endpoint.rstrip("/") + "/api/v1/feedback"

    def send() -> None:
        import time

        import httpx

        for attempt in range(REMOTE_RETRIES):
            try:
                r = httpx.post(url, json=body, headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                status, detail = None, str(exc)
            else:
                status, detail = r.status_code, r.text[:200]
                if status == 201:
                    return
            if status not in (None, 404, 429, 502, 503, 504):
                break
            time.sleep(0.25 * 2**attempt)
        rt.internal_error("feedback", RuntimeError(f"server did not take feedback for {trace_id}: {status} {detail}"))

    threading.Thread(target=send, name="glassbox-feedback", daemon=True).start()
