// glassbox dashboard: sortable tables and charts. No inline handlers; data comes from JSON blocks.
"use strict";

function sortTable(table, col, kind, dir) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => r.cells.length > col);
  const key = (r) => {
    const cell = r.cells[col];
    if (kind === "num") return parseFloat(cell.dataset.value || cell.textContent) || 0;
    return cell.textContent.trim().toLowerCase();
  };
  rows.sort((a, b) => (key(a) < key(b) ? -dir : key(a) > key(b) ? dir : 0));
  rows.forEach((r) => body.appendChild(r));
}

function setupSorting() {
  document.querySelectorAll("table.sortable").forEach((table) => {
    table.querySelectorAll("th[data-sort]").forEach((th, i) => {
      th.classList.add("clickable");
      th.addEventListener("click", () => {
        const dir = th.dataset.dir === "asc" ? -1 : 1;
        th.dataset.dir = dir === 1 ? "asc" : "desc";
        sortTable(table, i, th.dataset.sort, dir);
      });
    });
  });
}

function chart(id, traces, layout) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  const base = { title: { text: el.dataset.title, font: { size: 14 } }, margin: { t: 40, r: 50, b: 40, l: 50 },
                 height: 300, legend: { orientation: "h" }, xaxis: { type: "category" } };
  Plotly.newPlot(el, traces, Object.assign(base, layout || {}), { displayModeBar: false, responsive: true });
}

function setupCharts() {
  const block = document.getElementById("chart-data");
  if (!block) return;
  const d = JSON.parse(block.textContent);
  chart("chart-runs", [
    { type: "bar", name: "runs", x: d.days, y: d.runs },
    { type: "scatter", mode: "lines+markers", name: "error rate", x: d.days, y: d.error_rate, yaxis: "y2" },
  ], { yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", rangemode: "tozero" } });
  chart("chart-latency", ["p50", "p95", "p99"].map((p) => ({ type: "bar", name: p, x: d.latency.workflows, y: d.latency[p] })),
        { barmode: "group" });
  chart("chart-cost", [{ type: "bar", name: "cost", x: d.days, y: d.cost }]);
  chart("chart-models", [{ type: "bar", name: "cost", x: d.models.names, y: d.models.cost }]);
  chart("chart-quality", [
    { type: "scatter", mode: "lines+markers", name: "avg quality", x: d.days, y: d.quality },
    { type: "scatter", mode: "lines+markers", name: "pass rate", x: d.days, y: d.pass_rate, yaxis: "y2" },
  ], { yaxis2: { overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1] } });
  document.body.dataset.charts = "ready";
}

document.addEventListener("DOMContentLoaded", () => {
  setupSorting();
  setupCharts();
});
