// Virtual keys: create (with models, budget, limits, expiry; the secret is shown once), list
// and revoke. A non-admin sees the key it signed in with.

import { api, optional } from "../api.js";
import { armedButton, clear, field, formValues, h, money, table, when } from "../dom.js";
import { fill } from "./common.js";

const PAGE = 50;

function createForm(teams, users, onCreated) {
  const error = h("p", { class: "error" });
  const input = (name, props = {}) => h("input", { name, ...props });
  const select = (name, options) =>
    h("select", { name }, h("option", { value: "" }, "—"), options.map(([v, label]) => h("option", { value: v }, label)));
  const form = h(
    "form",
    { class: "grid", "data-testid": "key-form" },
    field("Alias", input("alias", { maxlength: 255 })),
    field("Models (comma-separated; empty = all)", input("models", { placeholder: "chat, embed" })),
    field("Max budget (USD)", input("max_budget", { type: "number", step: "any", min: 0 })),
    field("Budget period", input("budget_duration", { placeholder: "30d" })),
    field("RPM limit", input("rpm_limit", { type: "number", min: 1 })),
    field("TPM limit", input("tpm_limit", { type: "number", min: 1 })),
    field("Parallel requests", input("max_parallel_requests", { type: "number", min: 1 })),
    field("Expires after", input("duration", { placeholder: "7d (empty = never)" })),
    teams ? field("Team", select("team_id", teams.map((t) => [t.team_id, t.team_alias || t.team_id]))) : null,
    // a user id typed or picked from the first page of users (there may be thousands)
    users ? field("User", h("input", { name: "user_id", list: "key-users", placeholder: "user id" })) : null,
    users ? h("datalist", { id: "key-users" }, users.map((u) => h("option", { value: u.user_id }, u.user_email || u.user_id))) : null,
    h("button", { type: "submit" }, "Create key"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const values = formValues(form);
    const body = fill({}, values, {
      numbers: ["max_budget"],
      ints: ["rpm_limit", "tpm_limit", "max_parallel_requests"],
      lists: ["models"],
      strings: ["alias", "budget_duration", "duration", "team_id", "user_id"],
    });
    try {
      const created = await api("/key/generate", { method: "POST", body });
      form.reset();
      await onCreated(created);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return h("div", { class: "card" }, h("h2", {}, "New key"), form, error);
}

function shownOnce(created) {
  const code = h("code", { "data-testid": "new-key" }, created.key);
  const copy = h("button", { class: "secondary", type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    await navigator.clipboard.writeText(created.key);
    copy.textContent = "Copied";
  });
  return h(
    "div",
    { class: "secret" },
    h("strong", {}, "New key — copy it now, it is not shown again:"),
    code,
    copy,
  );
}

function keyTable(keys, canWrite, onRevoke) {
  const limits = (k) =>
    [k.rpm_limit && `${k.rpm_limit} rpm`, k.tpm_limit && `${k.tpm_limit} tpm`, k.max_parallel_requests && `${k.max_parallel_requests} parallel`]
      .filter(Boolean)
      .join(", ") || "—";
  const columns = [
    { label: "Alias", value: (k) => h("span", { "data-testid": "key-alias" }, k.alias || "—") },
    { label: "Key", value: (k) => h("code", {}, k.key_hint) },
    { label: "Owner", value: (k) => [k.team_id, k.user_id].filter(Boolean).join(" / ") || "—" },
    { label: "Models", value: (k) => (k.models.length ? k.models.join(", ") : "all") },
    { label: "Spend / budget", num: true, value: (k) => `${money(k.spend)} / ${k.max_budget === null ? "∞" : money(k.max_budget)}` },
    { label: "Limits", value: limits },
    { label: "Expires", value: (k) => when(k.expires_at) },
    { label: "Status", value: (k) => h("span", { class: k.revoked ? "pill bad" : "pill ok" }, k.revoked ? "revoked" : "active") },
  ];
  if (canWrite) {
    columns.push({
      label: "",
      value: (k) => (k.revoked ? "" : armedButton("Revoke", "Confirm revoke", () => onRevoke(k))),
    });
  }
  return table(columns, keys, "No keys yet.");
}

export async function render(main, ctx) {
  const me = ctx.me;
  main.append(h("h1", {}, "Keys"));
  if (!me.makes_keys) {
    const own = me.key_id ? await api("/key/info", { query: { key_id: me.key_id } }) : null;
    main.append(h("div", { class: "card" }, keyTable(own ? [own] : [], false, null)));
    return;
  }
  // a team admin or a user makes keys too: the gateway lists and allows only their own
  const [teams, users] = await Promise.all([
    optional("/team/list"),
    me.is_admin ? optional("/user/list", { query: { limit: PAGE } }) : Promise.resolve(null),
  ]);
  const secret = h("div");
  const listing = h("div", { class: "card" });
  const pager = h("div", { class: "row" });
  const cursors = [null]; // a page of 50 at a time, oldest first (the API's keyset order)
  let page = 0;
  const refresh = async () => {
    const query = { include_revoked: true, limit: PAGE, cursor: cursors[page] || undefined };
    const { keys, next_cursor: next } = await api("/key/list", { query });
    cursors.length = page + 1;
    if (next) cursors.push(next);
    clear(listing).append(keyTable(keys, true, revoke));
    clear(pager);
    if (page > 0) pager.append(h("button", { class: "secondary", type: "button", onClick: () => { page -= 1; refresh(); } }, "← Previous"));
    if (next) pager.append(h("button", { class: "secondary", type: "button", onClick: () => { page += 1; refresh(); } }, "Next →"));
  };
  const revoke = async (key) => {
    await api("/key/delete", { method: "POST", body: { key_ids: [key.key_id] } });
    await refresh();
  };
  const created = async (answer) => {
    clear(secret).append(shownOnce(answer));
    await refresh();
  };
  main.append(secret, createForm(teams, users && users.users, created), listing, pager);
  await refresh();
}
