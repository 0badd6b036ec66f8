// Request logs with filters and cursor paging (/spend/logs?cursor=…), each linked to its trace
// when the gateway traces requests.

import { optional } from "../api.js";
import { clear, field, formValues, h, money, table, when } from "../dom.js";
import { unavailable } from "./common.js";

const PAGE = 50;

function traceLink(template, traceId) {
  if (!template || !traceId) return "—";
  const href = template.replace("{trace_id}", encodeURIComponent(traceId));
  return h("a", { href, target: "_blank", rel: "noopener noreferrer", "data-testid": "trace-link" }, "trace");
}

export async function render(main, ctx) {
  const input = (name, placeholder, props = {}) => h("input", { name, placeholder, ...props });
  const filters = h(
    "form",
    { class: "grid card", "data-testid": "log-filters" },
    field("Key id", input("key_id", "key_…")),
    field("Team id", input("team_id", "")),
    field("User id", input("user_id", "")),
    field("Model", input("model", "chat")),
    field(
      "Status",
      h("select", { name: "status" }, [["", "any"], ["success", "success"], ["error", "error"]].map(([v, label]) => h("option", { value: v }, label))),
    ),
    field("From", input("start", "", { type: "datetime-local" })),
    field("To", input("end", "", { type: "datetime-local" })),
    h("button", { type: "submit" }, "Filter"),
  );
  const body = h("div", { class: "card", "data-testid": "logs" });
  const pager = h("div", { class: "row" });
  const cursors = [null];
  const load = async (index) => {
    const values = formValues(filters);
    for (const name of ["start", "end"]) if (values[name]) values[name] = new Date(values[name]).toISOString();
    const query = { ...values, limit: PAGE, paginate: true, cursor: cursors[index] || undefined };
    const page = await optional("/spend/logs", { query });
    clear(body);
    clear(pager);
    if (page === null || Array.isArray(page)) {
      body.append(h("p", { class: "muted" }, unavailable("Paged request logs")));
      return;
    }
    cursors.length = index + 1;
    if (page.next_cursor) cursors.push(page.next_cursor);
    body.append(
      table(
        [
          { label: "Time", value: (r) => when(r.created_at) },
          { label: "Request", value: (r) => h("code", {}, r.request_id || "—") },
          { label: "Key", value: (r) => r.key_id },
          { label: "Team / user", value: (r) => [r.team_id, r.user_id].filter(Boolean).join(" / ") || "—" },
          { label: "Model", value: (r) => r.model_group },
          { label: "Deployment", value: (r) => r.deployment },
          { label: "Status", num: true, value: (r) => h("span", { class: r.status_code === 200 ? "pill ok" : "pill bad" }, String(r.status_code)) },
          { label: "Tokens", num: true, value: (r) => `${r.prompt_tokens ?? 0} + ${r.completion_tokens ?? 0}` },
          { label: "Latency", num: true, value: (r) => (r.latency_ms === null ? "—" : `${Math.round(r.latency_ms)} ms`) },
          { label: "TTFT", num: true, value: (r) => (r.ttft_ms === null || r.ttft_ms === undefined ? "—" : `${Math.round(r.ttft_ms)} ms`) },
          { label: "Cost", num: true, value: (r) => money(r.cost) },
          { label: "Trace", value: (r) => traceLink(ctx.config.trace_url_template, r.trace_id) },
        ],
        page.data,
        "No requests match.",
      ),
    );
    if (index > 0) pager.append(h("button", { class: "secondary", type: "button", onClick: () => load(index - 1) }, "← Newer"));
    if (page.next_cursor) pager.append(h("button", { class: "secondary", type: "button", "data-testid": "older", onClick: () => load(index + 1) }, "Older →"));
  };
  filters.addEventListener("submit", async (event) => {
    event.preventDefault();
    cursors.length = 1;
    await load(0);
  });
  main.append(h("h1", {}, "Request logs"), filters, body, pager);
  await load(0);
}
