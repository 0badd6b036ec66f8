// The audit log: every admin action, newest first, a page at a time.

import { optional } from "../api.js";
import { clear, h, table, when } from "../dom.js";
import { unavailable } from "./common.js";

const PAGE = 50;

const SKIP = new Set(["created_at", "updated_at"]);

/** The fields an action changed, one line each: "field: before → after". */
function change(row) {
  const before = row.before || {};
  const after = row.after || {};
  const lines = [];
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (SKIP.has(name)) continue;
    const was = JSON.stringify(before[name] ?? null);
    const now = JSON.stringify(after[name] ?? null);
    if (was === now) continue;
    if (!row.before) {
      if (now !== "null" && now !== "[]" && now !== "{}") lines.push(`${name}: ${now}`);
    } else lines.push(`${name}: ${was} → ${now}`);
  }
  if (!lines.length) return "—";
  return h("div", { class: "mono" }, lines.map((line) => h("div", {}, line)));
}

export async function render(main) {
  main.append(h("h1", {}, "Audit log"));
  const body = h("div", { class: "card", "data-testid": "audit" });
  const pager = h("div", { class: "row" });
  main.append(body, pager);
  const cursors = [null];
  const load = async (index) => {
    const page = await optional("/audit", { query: { limit: PAGE, cursor: cursors[index] || undefined } });
    clear(body);
    clear(pager);
    if (page === null) {
      body.append(h("p", { class: "muted" }, unavailable("The audit log")));
      return;
    }
    cursors.length = index + 1;
    if (page.next_cursor) cursors.push(page.next_cursor);
    body.append(
      table(
        [
          { label: "When", value: (r) => when(r.at) },
          { label: "Who", value: (r) => r.actor },
          { label: "Action", value: (r) => h("span", { class: "pill" }, r.action) },
          { label: "Target", value: (r) => `${r.target_type} ${r.target_id ?? ""}` },
          { label: "Change", value: change },
        ],
        page.data,
        "No admin actions yet.",
      ),
    );
    if (index > 0) pager.append(h("button", { class: "secondary", type: "button", onClick: () => load(index - 1) }, "← Newer"));
    if (page.next_cursor) pager.append(h("button", { class: "secondary", type: "button", onClick: () => load(index + 1) }, "Older →"));
  };
  await load(0);
}
