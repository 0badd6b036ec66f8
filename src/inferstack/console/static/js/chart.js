// Line charts as inline SVG, drawn from the data with no library.

import { h, s } from "./dom.js";

const W = 800;
const H = 240;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function short(value) {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  if (value > 0 && value < 0.01) return value.toExponential(1);
  return String(Math.round(value * 100) / 100);
}

/**
 * series: [{name, points: [[Date, number], ...]}] → an <svg> with one line per series, axes,
 * and a legend below it. Up to six colours; more series share the last.
 */
export function lineChart(series, { label = "", testid, from, to } = {}) {
  const all = series.flatMap((x) => x.points);
  if (!all.length) return h("p", { class: "muted" }, "No data in this range.");
  // the x axis spans the range asked for (`from`/`to`), else the data's own extent
  const t0 = from ? from.getTime() : Math.min(...all.map((p) => p[0].getTime()));
  const t1 = to ? to.getTime() : Math.max(...all.map((p) => p[0].getTime()));
  const top = niceMax(Math.max(...all.map((p) => p[1])));
  const x = (t) => PAD.left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-testid": testid });
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    svg.append(
      s("line", { class: "grid", x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      s("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, short(v)),
    );
  }
  svg.append(s("line", { class: "axis", x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom }));
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    svg.append(s("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, new Date(t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })));
  }
  series.forEach((one, i) => {
    const colour = `c${Math.min(i, 5)}`;
    const points = one.points.slice().sort((a, b) => a[0] - b[0]);
    if (points.length === 1) {
      svg.append(s("circle", { class: colour, cx: x(points[0][0].getTime()), cy: y(points[0][1]), r: 4 }));
    } else {
      const d = points.map((p, j) => `${j ? "L" : "M"}${x(p[0].getTime()).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
      svg.append(s("path", { class: `line ${colour}`, d }));
    }
  });
  const legend = h("div", { class: "legend" }, series.map((one, i) => h("span", {}, h("span", { class: `swatch c${Math.min(i, 5)}` }), one.name)));
  return h("div", {}, svg, legend);
}
