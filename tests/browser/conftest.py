"""A real `glassbox serve` (uvicorn on loopback, web dashboard mounted) filled with demo runs, and Chromium."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "server"))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture
def demo_store(store_url, tmp_path):
    import glassbox as gb
    from glassbox.demo import run_demo

    run = run_demo(12, 7, store=store_url, trail_dir=str(tmp_path / "trail"), pace=0)
    gb.configure(project="demo", store=store_url, trail_dir=None, flush_interval=0.05)
    with gb.trace(XSS, workflow="search_qa", intent=XSS, tags=[XSS]) as t:
        with gb.stage("retrieve", kind="retrieval", attributes={"query": XSS}):
            gb.decision(XSS, why=XSS, confidence=0.5, alternatives={XSS: 0.4})
        t.output = XSS
    gb.flush()
    gb.shutdown()
    return store_url, run, t.trace_id


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        why = f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (.ci/run does)"
        if os.environ.get("GLASSBOX_REQUIRE_BROWSER") == "1":
            pytest.fail(why)  # CI: a missing browser is a failure, never a silent skip
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = ctx.new_page()
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.errors.append(f"dialog: {d.message}"), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "")
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    ctx.close()
