"""Drift and feedback: two releases of a recommender, user feedback on their runs, a drift check, health checks.

Release v1's decisions are confident; v2's are less so. The drift check compares v2's runs with
every run of v1 (a pinned reference release) and finds the shift; feedback (1-5 stars, thumbs,
signals, comments) is normalised, given a sentiment, and aggregated per release by the query API.
Run it twice and the numbers stay the same shape (new runs are added to .glassbox/glassbox.db).
"""

from __future__ import annotations

import random

import glassbox as gb
from glassbox.app_health import registry
from glassbox.monitoring import drift

gb.configure(project="drift-example")
rng = random.Random(7)

for release, mean in (("v1", 0.84), ("v2", 0.70)):
    for i in range(60):
        with gb.trace("something warm for a rainy evening", workflow="recommend", release=release) as t:
            gb.decision("ml_validated", why="the classifier agreed", confidence=round(rng.gauss(mean, 0.05), 3))
            t.output = "tomato soup"
        if i % 3 == 0:  # a third of the users rate; v2's ratings are poorer
            stars = rng.choice((4, 5, 5) if release == "v1" else (2, 3, 4))
            gb.feedback(t, stars, scale=(1, 5), user_id=f"user-{i}")
        if i % 5 == 0:
            gb.feedback(t.trace_id, signal="share" if release == "v1" else "re_query")
gb.feedback(t.trace_id, comment="This is wrong and useless.")  # sentiment from the words (VADER)
gb.feedback(t.trace_id, "down", scale="thumbs")
gb.flush()

q = gb.query()
for row in q.group_by("release", ["runs", "feedback", "avg_rating", "positive_share"], project="drift-example"):
    print(
        f"release {row['release']}: {row['runs']} runs, {row['feedback']} feedback, "
        f"avg rating {row['avg_rating']:.2f} (0-1), positive {100 * row['positive_share']:.0f}%"
    )

report = drift.check(
    q.store,
    ["confidence"],
    current="1h",
    reference_release="v1",
    release="v2",
    project="drift-example",
    save=False,
    alert=False,
)
for r in report.results:
    print(r.describe())

gb.health_check("recommender_model", lambda: {"ok": True, "version": "v2"})
gb.health_check("cache", lambda: ("warn", "hit rate 41%"), critical=False)
status, body = registry.evaluate_sync()  # what GET /health/full of gb.health_app() answers
print(f"health: HTTP {status}, {body['status']}, score {body['score']}%")
