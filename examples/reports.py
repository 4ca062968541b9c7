"""Reports: record a few runs, then write this week's report as Markdown and as one self-contained HTML file.

Run it:  python examples/reports.py   (writes into ./report-example/)
"""

from __future__ import annotations

import random

import glassbox as gb
from glassbox.analysis.query import Query
from glassbox.reports import archive
from glassbox.reports.build import build
from glassbox.reports.period import period
from glassbox.store.store import Store

STORE = "report-example/glassbox.db"


def answer(question: str, rng: random.Random) -> None:
    with gb.trace(question, workflow="search_qa", domain=rng.choice(["billing", "devops"])) as t:
        with gb.stage("retrieval", kind="retrieval"):
            gb.decision("use bm25", why="short query", confidence=0.8, alternatives={"dense": 0.6})
        quality = round(rng.uniform(0.5, 0.95), 2)
        gb.score("quality", quality, passed=quality >= 0.7, dimensions={"grounding": quality, "clarity": 0.8})
        t.output = "Refunds are accepted within 30 days."


def main() -> None:
    rng = random.Random(3)
    gb.configure(project="support-bot", store=STORE, trail_dir=None)
    for i in range(12):
        answer(f"question {i}", rng)
    gb.shutdown()

    store = Store(STORE)
    report = build("weekly", Query(store), period(days=7))
    md = archive.write(report, "md", "report-example/reports", store=store)
    page = archive.write(report, "html", "report-example/reports", store=store)
    print(report.executive_summary())
    print(f"wrote {md} and {page} ({len(archive.listed(store))} reports listed; `glassbox reports --store {STORE}`)")
    store.close()


if __name__ == "__main__":
    main()
