// glassbox dashboard, drift page: score lines per field and the weekly feedback trend. Data from a JSON block.
function driftChart(id, traces, layout) {
  const el = document.getElementById(id);
  if (!el || typeof Plotly === "undefined") return;
  const base = { title: { text: el.dataset.title, font: { size: 14 } }, margin: { t: 40, r: 50, b: 40, l: 50 },
                 height: 300, legend: { orientation: "h" } };
  Plotly.newPlot(el, traces, Object.assign(base, layout || {}), { displayModeBar: false, responsive: true });
}

document.addEventListener("DOMContentLoaded", () => {
  const block = document.getElementById("drift-data");
  if (!block) return;
  const d = JSON.parse(block.textContent);
  driftChart("chart-drift", d.drift.map((s) => ({ type: "scatter", mode: "lines+markers", name: s.name, x: s.x, y: s.y })),
             { xaxis: { type: "date" } });
  driftChart("chart-feedback", [
    { type: "scatter", mode: "lines+markers", name: "avg rating", x: d.feedback.weeks, y: d.feedback.avg_rating },
    { type: "scatter", mode: "lines+markers", name: "positive share", x: d.feedback.weeks, y: d.feedback.positive_share },
    { type: "bar", name: "feedback", x: d.feedback.weeks, y: d.feedback.count, yaxis: "y2", opacity: 0.3 },
  ], { xaxis: { type: "category" }, yaxis: { range: [0, 1] }, yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" } });
  document.body.dataset.driftCharts = "ready";
});
