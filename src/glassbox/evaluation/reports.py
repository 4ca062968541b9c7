"""Regression run reports: the JSON document and JUnit XML (one testcase per case) that CI systems read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from glassbox.evaluation.regress import RegressionRun


def json_report(run: RegressionRun) -> str:
    return json.dumps(run.to_dict(), indent=2, default=str, ensure_ascii=False)


def junit_xml(run: RegressionRun) -> str:
    """JUnit XML: a failed case is a ``<failure>`` listing its failed assertions, a raising one an ``<error>``."""
    suite_name = f"glassbox.regress.{run.dataset_name or 'dataset'}"
    suite = ET.Element(
        "testsuite",
        name=suite_name,
        tests=str(len(run.results)),
        failures=str(run.failed),
        errors=str(run.errors),
        skipped="0",
        time=f"{(run.duration_ms or 0) / 1000:.3f}",
        timestamp=(run.started_at.isoformat() if run.started_at else ""),
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", run.run_id), ("target", run.target), ("dataset_version", run.dataset_version)):
        ET.SubElement(props, "property", name=key, value=str(value or ""))
    for r in run.results:
        tc = ET.SubElement(
            suite, "testcase", classname=suite_name, name=r.case_id, time=f"{(r.duration_ms or 0) / 1000:.6f}"
        )
        if r.error:
            el = ET.SubElement(tc, "error", message=r.error[:500], type=r.error.split(":", 1)[0])
            el.text = r.error
        elif not r.passed:
            lines = [a.message or a.name for a in r.failures]
            el = ET.SubElement(tc, "failure", message="; ".join(lines)[:500], type="AssertionError")
            el.text = "\n".join(lines)
        if r.trace_id:
            out = ET.SubElement(tc, "system-out")
            out.text = f"trace {r.trace_id}"
    suites = ET.Element(
        "testsuites",
        name="glassbox regress",
        tests=str(len(run.results)),
        failures=str(run.failed),
        errors=str(run.errors),
    )
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write(path: str | Path, text: str) -> None:
    """Write a report whole (to a temporary file first, so a failure leaves nothing half-written)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(p)
