"""gb.variant / gb.flag: the exposure lands on the stored trace and in the exposures table."""

from __future__ import annotations

from sqlalchemy import select

import glassbox as gb
from glassbox.experiments import registry
from glassbox.store.store import Store
from glassbox.store.tables.experiments import exposures


def test_variant_and_flag_record_exposures(configured) -> None:
    store = Store(configured)
    registry.save(store, "experiment", {"name": "prompt", "variants": ["control", "concise"]}, actor="t")
    registry.save(store, "flag", {"name": "rerank", "default": False, "value": True}, actor="t")
    with gb.trace("q", workflow="qa") as t:
        v = gb.variant("prompt", "user-1", {"plan": "pro"})
        on = gb.flag("rerank", "user-1", default=False)
    assert v in ("control", "concise") and on is True
    assert gb.flag("missing", "user-1", default="dflt") == "dflt"
    assert gb.variant("missing", "user-1") is None
    gb.flush()
    from glassbox.flags.client import default_client

    default_client().exposures.flush()
    stored = store.get_trace(t.trace_id)
    assert (stored.experiment, stored.variant) == ("prompt", v)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                exposures.c.kind, exposures.c.experiment, exposures.c.variant, exposures.c.unit_id, exposures.c.trace_id
            ).order_by(exposures.c.kind)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("experiment", "prompt", v, "user-1", t.trace_id),
        ("flag", "rerank", "rule-0", "user-1", t.trace_id),
    ]
    store.close()


def test_never_raises_without_configuration() -> None:
    gb.shutdown()
    assert gb.flag("x", None, default=3) == 3
    assert gb.variant("x", None) is None


def test_flags_without_a_store_stay_light(tmp_path) -> None:
    """gb.flag / gb.variant on glassbox.toml definitions, no store: no SQLAlchemy, scipy or numpy imported."""
    import json
    import subprocess
    import sys

    (tmp_path / "glassbox.toml").write_text(
        '[[flag]]\nname = "beta"\ndefault = false\nvalue = true\n\n[[experiment]]\nname = "p"\nvariants = ["a", "b"]\n'
    )
    code = (
        "import sys, json, glassbox as gb; gb.configure(store=None, trail_dir=None); "
        "r = [gb.flag('beta', 'u1', False), gb.variant('p', 'u1') in ('a', 'b')]; "
        "print(json.dumps([r, sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'scipy', 'numpy', 'fastapi', 'typer', 'rich'))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[True, True], []]
