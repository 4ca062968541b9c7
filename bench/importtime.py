"""Import time: ``import glassbox`` against ``import opentelemetry.sdk.trace``, and what it loads.

Each measurement is a fresh ``python -X importtime`` process; the two imports alternate and
the median cumulative time of each is reported. A tiny stdlib module (``colorsys``) is
imported first as a marker: the cumulative times of the top-level imports after it are
summed, so interpreter start-up (``site``, ``.pth`` files) counts for neither side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import Results, interleaved, log, median

MARKER = "colorsys"
FORBIDDEN = ("sqlalchemy", "fastapi", "typer", "rich", "pydantic", "pydantic_core", "pydantic_settings")
HEAVY = (
    *FORBIDDEN,
    "alembic",
    "psycopg",
    "opentelemetry",
    "google.protobuf",
    "orjson",
    "numpy",
    "scipy",
    "uvicorn",
    "starlette",
    "jinja2",
    "httpx",
    "requests",
    "prometheus_client",
    "structlog",
)


def import_ms(module: str) -> float:
    """Cumulative import time (ms) of ``module`` in a fresh interpreter, start-up excluded."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {MARKER}; import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    total_us, seen_marker = 0, False
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.strip() == MARKER and not name.startswith("  "):
            seen_marker = True
            continue
        if seen_marker and not name[1:].startswith(" "):  # top level: one space after the bar, no indent
            total_us += int(cumulative)
    if not seen_marker:
        raise RuntimeError(f"marker import not found in -X importtime output for {module}")
    return total_us / 1000


def loaded_modules() -> list[str]:
    code = "import sys, json, glassbox; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    res = Results("import")
    log(f"import time: {args.repeats} fresh processes each")
    times = interleaved(
        {"glassbox": lambda: import_ms("glassbox"), "otel": lambda: import_ms("opentelemetry.sdk.trace")}, args.repeats
    )
    g, o = median(times["glassbox"]), median(times["otel"])
    res.figure("import glassbox", g, "ms", "-X importtime cumulative, median")
    res.figure("import opentelemetry.sdk.trace", o, "ms", "-X importtime cumulative, median")
    res.check("import glassbox vs opentelemetry.sdk.trace", g / o, "x", "<= 1x", g <= o)

    modules = set(loaded_modules())
    present = [h for h in HEAVY if h in modules]
    res.note("heavy modules loaded by `import glassbox`: " + (", ".join(present) or "none"))
    bad = [m for m in FORBIDDEN if m in modules]
    res.check("import glassbox loads no sqlalchemy/fastapi/typer/rich/pydantic", len(bad), " loaded", "0", not bad)
    if bad:
        res.note("forbidden modules loaded: " + ", ".join(bad))
    res.emit()


if __name__ == "__main__":
    main()
