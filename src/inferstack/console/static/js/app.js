// The console's shell: who is signed in, the navigation, and one page per #/route.

import { api, ApiError, setCsrf } from "./api.js";
import { clear, h } from "./dom.js";
import * as audit from "./pages/audit.js";
import * as keys from "./pages/keys.js";
import * as login from "./pages/login.js";
import * as logs from "./pages/logs.js";
import * as models from "./pages/models.js";
import * as playground from "./pages/playground.js";
import * as teams from "./pages/teams.js";
import * as usage from "./pages/usage.js";

const PAGES = [
  { route: "keys", title: "Keys", page: keys },
  { route: "teams", title: "Teams & users", page: teams, teamAdmin: true },
  { route: "models", title: "Models", page: models, admin: true },
  { route: "usage", title: "Usage", page: usage },
  { route: "logs", title: "Logs", page: logs },
  { route: "playground", title: "Playground", page: playground, chats: true },
  { route: "audit", title: "Audit", page: audit, admin: true },
];

const ctx = { me: null, config: { password_login: false, trace_url_template: null } };
let renders = 0;

/** Mark the page as rendered (body[data-page], body[data-rendered]): tests and the page-load
 * benchmark wait on it. */
function rendered(route) {
  document.body.dataset.page = route;
  document.body.dataset.rendered = String(++renders);
}

function visible() {
  const me = ctx.me || {};
  const managesTeams = me.is_admin || (me.admin_team_ids || []).length > 0;
  // a viewer signed in by password has no key to chat with (and may not mint one)
  const chats = me.session === "key" || me.session === "master" || me.makes_keys;
  return PAGES.filter((p) => (!p.admin || me.is_admin) && (!p.teamAdmin || managesTeams) && (!p.chats || chats));
}

function renderShell() {
  const nav = clear(document.getElementById("nav"));
  const who = clear(document.getElementById("who"));
  if (!ctx.me) return;
  const current = (window.location.hash.slice(2) || "keys").split("?")[0];
  for (const p of visible()) {
    nav.append(h("a", { href: `#/${p.route}`, class: p.route === current ? "active" : null }, p.title));
  }
  const name = ctx.me.user_id || ctx.me.alias || ctx.me.key_id || (ctx.me.kind === "master" ? "admin (master key)" : "key");
  who.append(
    h("span", { "data-testid": "who" }, name),
    ctx.me.role ? h("span", { class: "pill" }, ctx.me.role) : null,
    h("button", { class: "secondary", type: "button", onClick: signOut }, "Sign out"),
  );
}

async function signOut() {
  await api("/ui/api/logout", { method: "POST" });
  playground.forget();
  ctx.me = null;
  setCsrf(null);
  window.location.hash = "#/login";
  await route();
}

export async function signedIn(answer) {
  setCsrf(answer.csrf_token);
  ctx.me = answer.principal;
  if (!window.location.hash || window.location.hash === "#/login") {
    window.location.hash = "#/keys"; // the hashchange renders it
    return;
  }
  await route();
}

async function route() {
  // NOTE: each route renders into a fresh element: a slower earlier render (the page before a
  // quick second navigation) keeps writing into its own detached element, never into this one.
  const main = h("div");
  clear(document.getElementById("main")).append(main);
  if (!ctx.me) {
    renderShell();
    await login.render(main, ctx, signedIn);
    rendered("login");
    return;
  }
  const name = (window.location.hash.slice(2) || "keys").split("?")[0];
  const found = visible().find((p) => p.route === name) || visible()[0];
  renderShell();
  document.title = `${found.title} · inferstack console`;
  try {
    await found.page.render(main, ctx);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      ctx.me = null;
      await route();
      return;
    }
    main.append(h("p", { class: "error", "data-testid": "page-error" }, String(err.message || err)));
  }
  rendered(found.route);
}

async function start() {
  try {
    ctx.config = await api("/ui/api/config");
  } catch {
    // keep the defaults: sign-in with a key still works
  }
  try {
    const answer = await api("/ui/api/me");
    setCsrf(answer.csrf_token);
    ctx.me = answer.principal;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
