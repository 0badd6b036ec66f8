// Teams (budgets, limits, allowed models, members) and users (roles, passwords).

import { api, optional } from "../api.js";
import { armedButton, clear, field, formValues, h, money, table, when } from "../dom.js";
import { fill, unavailable } from "./common.js";

const PAGE = 50;
const ROLES = ["internal_user", "internal_user_viewer", "proxy_admin_viewer", "proxy_admin"];

function submitter(form, error, send) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await send(formValues(form));
      form.reset();
    } catch (err) {
      error.textContent = err.message;
    }
  });
}

function teamSection(teams, users, refresh, canCreate, manages) {
  const error = h("p", { class: "error" });
  const form = h(
    "form",
    { class: "grid", "data-testid": "team-form" },
    field("Team name", h("input", { name: "team_alias", required: true, maxlength: 255 })),
    field("Models (comma-separated)", h("input", { name: "models" })),
    field("Max budget (USD)", h("input", { name: "max_budget", type: "number", step: "any", min: 0 })),
    field("Budget period", h("input", { name: "budget_duration", placeholder: "30d" })),
    field("RPM limit", h("input", { name: "rpm_limit", type: "number", min: 1 })),
    field("TPM limit", h("input", { name: "tpm_limit", type: "number", min: 1 })),
    h("button", { type: "submit" }, "Create team"),
  );
  submitter(form, error, async (values) => {
    const body = fill({}, values, { numbers: ["max_budget"], ints: ["rpm_limit", "tpm_limit"], lists: ["models"], strings: ["team_alias", "budget_duration"] });
    await api("/team/new", { method: "POST", body });
    await refresh();
  });
  const userOptions = (users || []).map((u) => h("option", { value: u.user_id }, u.user_email || u.user_id));
  const members = (team) => {
    // an admin picks from the users; a team admin (who may not list users) types the id
    const who = h("input", { name: "user_id", list: "team-users", placeholder: "user id", "aria-label": "user id" });
    const role = h("select", { name: "role" }, h("option", { value: "user" }, "member"), h("option", { value: "admin" }, "team admin"));
    const add = h("button", { class: "secondary", type: "button" }, "Add");
    add.addEventListener("click", async () => {
      await api("/team/member_add", { method: "POST", body: { team_id: team.team_id, member: { user_id: who.value, role: role.value } } });
      await refresh();
    });
    const list = (team.members_with_roles || []).map((m) => h("div", {}, `${m.user_id} (${m.role})`));
    const canAdd = manages(team);
    return h("div", {}, list, canAdd ? h("div", { class: "row" }, who, role, add) : null);
  };
  const rows = table(
    [
      { label: "Team", value: (t) => h("span", { "data-testid": "team-alias" }, t.team_alias || t.team_id) },
      { label: "Id", value: (t) => h("code", {}, t.team_id) },
      { label: "Models", value: (t) => (t.models && t.models.length ? t.models.join(", ") : "all") },
      { label: "Spend / budget", num: true, value: (t) => `${money(t.spend)} / ${t.max_budget == null ? "∞" : money(t.max_budget)}` },
      { label: "Limits", value: (t) => [t.rpm_limit && `${t.rpm_limit} rpm`, t.tpm_limit && `${t.tpm_limit} tpm`].filter(Boolean).join(", ") || "—" },
      { label: "Members", value: members },
      { label: "", value: (t) => (canCreate ? armedButton("Delete", "Confirm delete", async () => { await api("/team/delete", { method: "POST", body: { team_ids: [t.team_id] } }); await refresh(); }) : "") },
    ],
    teams,
    "No teams yet.",
  );
  const known = h("datalist", { id: "team-users" }, userOptions);
  return h("div", { class: "card" }, h("h2", {}, "Teams"), canCreate ? form : null, error, rows, known);
}

/** Per user: change the role, set a new password (the admin tells the user). */
function userAdmin(user, refresh) {
  const role = h("select", { name: "user_role", "aria-label": "role" }, ROLES.map((r) => h("option", { value: r, selected: r === user.user_role }, r)));
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", placeholder: "new password", "aria-label": "new password" });
  const save = h("button", { class: "secondary", type: "button" }, "Save");
  const note = h("span", { class: "muted" });
  save.addEventListener("click", async () => {
    const body = { user_id: user.user_id };
    if (role.value !== user.user_role) body.user_role = role.value;
    if (password.value) body.password = password.value;
    try {
      await api("/user/update", { method: "POST", body });
      await refresh();
    } catch (err) {
      note.textContent = err.message;
    }
  });
  return h("div", { class: "row" }, role, password, save, note);
}

function userSection(users, refresh, pager) {
  const error = h("p", { class: "error" });
  const form = h(
    "form",
    { class: "grid", "data-testid": "user-form" },
    field("User id", h("input", { name: "user_id", maxlength: 255 })),
    field("Email", h("input", { name: "user_email", type: "email" })),
    field("Role", h("select", { name: "user_role" }, ROLES.map((r) => h("option", { value: r }, r)))),
    field("Password (optional)", h("input", { name: "password", type: "password", autocomplete: "new-password" })),
    field("Max budget (USD)", h("input", { name: "max_budget", type: "number", step: "any", min: 0 })),
    h("button", { type: "submit" }, "Create user"),
  );
  submitter(form, error, async (values) => {
    const body = fill({}, values, { numbers: ["max_budget"], strings: ["user_id", "user_email", "user_role", "password"] });
    await api("/user/new", { method: "POST", body });
    await refresh();
  });
  const rows = table(
    [
      { label: "User", value: (u) => h("span", { "data-testid": "user-id" }, u.user_id) },
      { label: "Email", value: (u) => u.user_email },
      { label: "Role and password", value: (u) => userAdmin(u, refresh) },
      { label: "Spend", num: true, value: (u) => money(u.spend) },
      { label: "Created", value: (u) => when(u.created_at) },
      { label: "", value: (u) => armedButton("Delete", "Confirm delete", async () => { await api("/user/delete", { method: "POST", body: { user_ids: [u.user_id] } }); await refresh(); }) },
    ],
    users,
    "No users yet.",
  );
  return h("div", { class: "card" }, h("h2", {}, "Users"), form, error, rows, pager);
}

export async function render(main, ctx) {
  const admin = ctx.me.can_write;
  main.append(h("h1", {}, admin ? "Teams and users" : "Your teams"));
  const body = h("div");
  main.append(body);
  const cursors = [null]; // users a page at a time (there may be thousands)
  let page = 0;
  const refresh = async () => {
    const query = { limit: PAGE, cursor: cursors[page] || undefined };
    const [teams, users] = await Promise.all([
      optional("/team/list"),
      ctx.me.is_admin ? optional("/user/list", { query }) : Promise.resolve({ users: null }),
    ]);
    clear(body);
    if (teams === null || users === null) {
      body.append(h("p", { class: "muted" }, unavailable("Teams and users")));
      return;
    }
    const teamList = Array.isArray(teams) ? teams : teams.data || teams.teams || [];
    const manages = (team) => admin || (ctx.me.admin_team_ids || []).includes(team.team_id);
    body.append(teamSection(teamList, users.users, refresh, admin, manages));
    cursors.length = page + 1;
    if (users.next_cursor) cursors.push(users.next_cursor);
    const pager = h("div", { class: "row" });
    if (page > 0) pager.append(h("button", { class: "secondary", type: "button", onClick: () => { page -= 1; refresh(); } }, "← Previous users"));
    if (users.next_cursor) pager.append(h("button", { class: "secondary", type: "button", onClick: () => { page += 1; refresh(); } }, "Next users →"));
    if (admin) body.append(userSection(users.users, refresh, pager));
  };
  await refresh();
}
