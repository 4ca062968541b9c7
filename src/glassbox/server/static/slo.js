// glassbox dashboard, SLO page: the error budget burn-down of each SLO. Data from a JSON block (no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const block = document.getElementById("slo-data");
  if (!block || typeof Plotly === "undefined") return;
  const data = JSON.parse(block.textContent);
  document.querySelectorAll("[data-slo]").forEach((el) => {
    const d = data[el.dataset.slo];
    if (!d) return;
    const layout = { title: { text: el.dataset.title, font: { size: 14 } }, margin: { t: 40, r: 30, b: 40, l: 50 },
                     height: 260, xaxis: { type: "date" }, yaxis: { tickformat: ".0%", zeroline: true },
                     shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { dash: "dot", width: 1 } }] };
    Plotly.newPlot(el, [{ type: "scatter", mode: "lines", name: "budget remaining", x: d.x, y: d.y, fill: "tozeroy" }],
                   layout, { displayModeBar: false, responsive: true });
  });
  document.body.dataset.sloCharts = "ready";
});
