"""Send traces to a glassbox server instead of a local file, then read them back over the REST API.

Starts `glassbox serve`'s app in-process on a free loopback port (in production: `glassbox serve`
on a host, and GLASSBOX_ENDPOINT / GLASSBOX_API_KEY in each app's environment). Nothing leaves
this machine: the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

import glassbox as gb
from glassbox.server.app import create_app
from glassbox.store.keys import create_key
from glassbox.store.store import Store

store = Store("sqlite:///.glassbox/server.db")
key, _ = create_key(store, project="support-bot", scope="write")  # `glassbox keys create` does the same

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = uvicorn.Server(
    uvicorn.Config(create_app(store, auth_required=True), host="127.0.0.1", port=port, log_level="warning")
)
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.05)
url = f"http://127.0.0.1:{port}"

# Remote mode: the SDK's writer sends batched, gzipped OTLP to the server (retrying 429/503).
gb.configure(endpoint=url, api_key=key)
with gb.trace("What is our refund policy?", workflow="search_qa") as t:
    with gb.stage("retrieval", kind="retrieval"):
        gb.decision("use bm25", why="short keyword query", confidence=0.8, alternatives={"dense": 0.6})
    gb.score("quality", 0.82, passed=True)
    t.output = "Refunds are accepted within 30 days."
gb.flush()

auth = {"Authorization": f"Bearer {key}"}
with httpx.Client(base_url=url, headers=auth) as api:
    deadline = time.monotonic() + 10
    while (r := api.get(f"/api/v1/traces/{t.trace_id}")).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)  # the server's writer stores the batch in the background
    doc = r.json()
    print(
        f"stored on the server: {doc['trace_id']} project={doc['project']} "
        f"decision={doc['decisions'][0]['what']!r} quality={doc['quality_score']}"
    )
    api.post("/api/v1/feedback", json={"trace_id": t.trace_id, "kind": "implicit", "signal": "accept"})
    print("feedback:", api.get("/api/v1/feedback/summary").json()["implicit"])
    print("summary:", api.get("/api/v1/summary").json()["runs"], "run(s)")
print("without a key:", httpx.get(f"{url}/api/v1/summary").json()["error"]["code"])
gb.shutdown()
server.should_exit = True
