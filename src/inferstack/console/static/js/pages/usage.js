// Usage and spend over time by key, team, user or model, from the gateway's rollups
// (/usage/timeseries and /usage/top). Non-admins get their own usage: the gateway forces it.

import { optional } from "../api.js";
import { clear, field, h, money, table } from "../dom.js";
import { lineChart } from "../chart.js";
import { unavailable } from "./common.js";

const RANGES = { "1h": [3600, "minute"], "24h": [86400, "hour"], "7d": [7 * 86400, "hour"], "30d": [30 * 86400, "day"] };
const TOP_SERIES = 5;

/** Names to show for team ids (one bounded call); keys, users and models show their ids. */
async function names(groupBy) {
  const out = new Map();
  if (groupBy !== "team") return out;
  try {
    for (const t of (await optional("/team/list")) || []) out.set(t.team_id, t.team_alias || t.team_id);
  } catch {
    // a caller who may not list teams sees the ids
  }
  return out;
}

function series(data, metric, label) {
  const totals = new Map();
  for (const row of data) totals.set(row.group, (totals.get(row.group) || 0) + row[metric]);
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP_SERIES).map((e) => e[0]);
  return top.map((group) => ({
    name: label(group),
    points: data.filter((r) => r.group === group).map((r) => [new Date(r.bucket), r[metric]]),
  }));
}

function stat(label, value, testid) {
  return h("div", { class: "stat" }, h("div", { class: "value", "data-testid": testid }, value), h("div", { class: "label" }, label));
}

export async function render(main) {
  const groupBy = h("select", { name: "group_by", "data-testid": "group-by" }, ["model", "key", "team", "user"].map((g) => h("option", { value: g }, g)));
  const range = h("select", { name: "range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === "24h" }, `last ${r}`)));
  const body = h("div");
  const load = async () => {
    const [seconds, granularity] = RANGES[range.value];
    // NOTE: the rollups sum whole minutes in [start, end): ending at the next whole minute
    // counts the current one, so a request made a moment ago shows.
    const end = new Date(Math.ceil((Date.now() + 1) / 60000) * 60000);
    const start = new Date(end.getTime() - seconds * 1000);
    const query = { group_by: groupBy.value, granularity, start: start.toISOString(), end: end.toISOString() };
    const [timeseries, top, known] = await Promise.all([
      optional("/usage/timeseries", { query }),
      optional("/usage/top", { query: { group_by: groupBy.value, start: query.start, end: query.end, limit: 20 } }),
      names(groupBy.value),
    ]);
    const label = (group) => (group === null || group === undefined ? "—" : known.get(group) || group);
    clear(body);
    if (timeseries === null || top === null) {
      body.append(h("p", { class: "muted" }, unavailable("Usage")));
      return;
    }
    const sum = (m) => timeseries.data.reduce((acc, r) => acc + (r[m] || 0), 0);
    body.append(
      h(
        "div",
        { class: "stats" },
        stat("Requests", String(sum("requests")), "total-requests"),
        stat("Tokens", String(sum("prompt_tokens") + sum("completion_tokens")), "total-tokens"),
        stat("Spend", money(sum("cost")), "total-spend"),
        stat("Errors", String(sum("errors")), "total-errors"),
      ),
      h("div", { class: "card" }, h("h2", {}, `Requests per ${timeseries.granularity} by ${groupBy.value}`), lineChart(series(timeseries.data, "requests", label), { label: "requests", testid: "chart-requests", from: new Date(timeseries.start), to: end })),
      h("div", { class: "card" }, h("h2", {}, `Spend per ${timeseries.granularity} by ${groupBy.value}`), lineChart(series(timeseries.data, "cost", label), { label: "spend", testid: "chart-spend", from: new Date(timeseries.start), to: end })),
      h(
        "div",
        { class: "card" },
        h("h2", {}, `Top by ${groupBy.value}`),
        table(
          [
            { label: groupBy.value, value: (r) => h("span", { "data-testid": "top-group" }, label(r.group)) },
            { label: "Requests", num: true, value: (r) => String(r.requests) },
            { label: "Tokens", num: true, value: (r) => String(r.tokens) },
            { label: "Spend", num: true, value: (r) => money(r.cost) },
          ],
          top.data,
          "No usage in this range.",
        ),
      ),
    );
  };
  groupBy.addEventListener("change", load);
  range.addEventListener("change", load);
  const refresh = h("button", { class: "secondary", type: "button", onClick: load }, "Refresh");
  main.append(h("h1", {}, "Usage and spend"), h("div", { class: "row card" }, field("Group by", groupBy), field("Range", range), refresh), body);
  await load();
}
