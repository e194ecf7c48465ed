// The Reports page: draws each chart of the embedded report with uPlot (vendored in
// static/vendor/uplot, loaded before this module as the global `uPlot`).
//
// Colours are read from app.css's variables when a chart is drawn, so the charts
// follow the colour scheme; a change of scheme draws them again. Each chart takes its
// container's width and follows it (a phone, a resized window).

const HEIGHT = 240;
const SERIES_COLOURS = ["--accent", "--p1-fg", "--p2-fg", "--danger-text", "--p3-fg", "--p4-fg"];
const source = document.getElementById("report-data");
const report = source ? JSON.parse(source.textContent) : null;
const plots = new Map();

function palette() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return {
    text: read("--text"),
    muted: read("--muted"),
    grid: read("--border"),
    series: SERIES_COLOURS.map(read),
  };
}

function yRange(unit) {
  if (unit === "%") return () => [0, 100];
  return (_plot, _min, max) => [0, max > 0 ? Math.ceil(max * 1.1) : 1];
}

function format(unit) {
  const suffix = unit === "%" ? " %" : unit === "seconds" ? " s" : "";
  return (_plot, value) => (value == null ? "–" : `${value}${suffix}`);
}

// Daily buckets are ticked by whole days (no "12pm" between them), as dates.
const DAYS = [1, 2, 7, 14, 30, 61, 91, 182, 365].map((days) => days * 86400);

function xAxis(axis) {
  if (report.bucket !== "day") return axis;
  return { ...axis, incrs: DAYS, values: "{MMM} {D}" };
}

function options(chart, width, colours) {
  const axis = {
    stroke: colours.muted,
    grid: { stroke: colours.grid, width: 1 },
    ticks: { stroke: colours.grid, width: 1 },
  };
  const few = report.starts.length <= 48;
  return {
    width,
    height: HEIGHT,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: yRange(chart.unit) } },
    axes: [xAxis(axis), { ...axis, size: 48 }],
    series: [
      { label: report.bucket === "day" ? "Day (UTC)" : "Hour (UTC)" },
      ...chart.series.map((series, index) => ({
        label: series.label,
        stroke: colours.series[index % colours.series.length],
        width: 2,
        points: { show: few },
        value: format(chart.unit),
      })),
    ],
  };
}

function draw(container) {
  const chart = report.charts.find((item) => item.key === container.dataset.chart);
  if (!chart) return;
  plots.get(container)?.destroy();
  container.replaceChildren();
  const data = [report.starts, ...chart.series.map((series) => series.values)];
  const width = Math.max(container.clientWidth, 200);
  plots.set(container, new uPlot(options(chart, width, palette()), data, container));
}

function drawAll() {
  for (const container of document.querySelectorAll(".report-plot[data-chart]")) draw(container);
}

function followWidth() {
  const resized = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const plot = plots.get(entry.target);
      const width = Math.max(Math.floor(entry.contentRect.width), 200);
      if (plot && plot.width !== width) plot.setSize({ width, height: HEIGHT });
    }
  });
  for (const container of plots.keys()) resized.observe(container);
}

if (report && typeof uPlot === "function") {
  drawAll();
  followWidth();
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawAll);
}
