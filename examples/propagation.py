"""One trace across two services: W3C traceparent in the headers, merged in the store.

The "frontend" injects its context into the request headers; the "backend" (here a thread
standing in for another process) extracts it and records its stages in the same trace.
"""

from __future__ import annotations

import threading

import glassbox as gb
from glassbox.store.store import Store


def backend(headers: dict[str, str]) -> str:
    with gb.extract(headers):  # the remote parent becomes current
        with gb.trace("rank", workflow="ranker") as t:  # continues the frontend's trace
            with gb.stage("score-candidates"):
                gb.decision("top=doc-7", confidence=0.9, alternatives={"doc-7": 0.9, "doc-2": 0.4})
    return t.trace_id


gb.configure(project="propagation-example")
with gb.trace("search: refunds", workflow="frontend") as front:
    with gb.stage("call-backend"):
        headers = gb.inject({})  # {"traceparent": "00-<trace>-<span>-01", ...}
        result: list[str] = []
        worker = threading.Thread(target=lambda: result.append(backend(headers)))
        worker.start()
        worker.join()
gb.flush()

assert result[0] == front.trace_id
merged = Store("sqlite:///.glassbox/glassbox.db").get_trace(front.trace_id)
print(f"headers sent: {headers}")
print(f"trace {merged.trace_id}: {sorted(s.name for s in merged.spans)}")
