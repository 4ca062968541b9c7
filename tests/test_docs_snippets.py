"""Every Python snippet in the README and docs/ runs, in order, as a user pasting them would.

A page's ```python blocks run one after another in one fresh interpreter (so a later block may use an
earlier one's names), in an empty folder with no GLASSBOX_* settings. A block that cannot run on its own
(it needs an API key, a remote server, a user's module) is preceded by ``<!-- not run: the reason -->``;
the reason stays visible to anyone editing the page. Stand-ins for the user's own functions go in a
``<!-- setup … -->`` comment, run before the page's blocks and not shown to readers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"(?P<marker><!--\s*not run:[^>]*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)
SETUP = re.compile(r"<!--\s*setup[^\n]*\n(?P<code>.*?)-->", re.S)


def snippets(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    setup = "\n".join(m["code"] for m in SETUP.finditer(text))
    blocks = [m["code"] for m in BLOCK.finditer(text) if not m["marker"]]
    return [f"import glassbox as gb\n{setup}", *blocks] if blocks else []


RUNNABLE = [p for p in PAGES if snippets(p)]


def test_docs_have_snippets_to_check():
    assert {p.name for p in RUNNABLE} >= {"README.md", "sdk.md", "costs.md"}


@pytest.mark.parametrize("page", RUNNABLE, ids=[p.name for p in RUNNABLE])
def test_every_snippet_on_the_page_runs(page: Path, tmp_path: Path):
    script = "\n\n".join(f"# --- block {i + 1}\n{code}" for i, code in enumerate(snippets(page)))
    (tmp_path / "snippets.py").write_text(script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_")}
    proc = subprocess.run(
        [sys.executable, "snippets.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, f"{page.name}: a snippet failed\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
