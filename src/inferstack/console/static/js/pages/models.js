// Model deployments: health and cooldowns, and the ones added at run time (add, edit, delete).

import { api, optional } from "../api.js";
import { armedButton, clear, field, formValues, h, table, when } from "../dom.js";
import { fill, unavailable } from "./common.js";

function health(m) {
  const state = m.health || {};
  if (state.cooldown_until && new Date(state.cooldown_until) > new Date()) {
    return h("span", { class: "pill bad" }, `cooling down until ${when(state.cooldown_until)}`);
  }
  if (state.healthy === false) return h("span", { class: "pill bad" }, "unhealthy");
  if (state.healthy === true) return h("span", { class: "pill ok" }, "healthy");
  return h("span", { class: "pill" }, "unknown");
}

function editForm(model, refresh, error) {
  const params = model.litellm_params || {};
  const form = h(
    "form",
    { class: "row" },
    h("input", { name: "api_base", value: params.api_base || "", "aria-label": "api_base" }),
    h("input", { name: "model", value: params.model || "", "aria-label": "upstream model" }),
    h("button", { class: "secondary", type: "submit" }, "Save"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    try {
      // only the fields edited here: the gateway merges them into the deployment's params
      await api("/model/update", { method: "POST", body: { model_id: model.model_info.id, litellm_params: fill({}, values, { strings: ["api_base", "model"] }) } });
      await refresh();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

export async function render(main) {
  main.append(h("h1", {}, "Models"));
  const error = h("p", { class: "error" });
  const listing = h("div", { class: "card" });
  const refresh = async () => {
    const info = await optional("/model/info");
    clear(listing);
    if (info === null) {
      listing.append(h("p", { class: "muted" }, unavailable("Model management")));
      return;
    }
    listing.append(
      table(
        [
          { label: "Model group", value: (m) => h("span", { "data-testid": "model-name" }, m.model_name) },
          { label: "Deployment", value: (m) => (m.model_info.db_model ? editForm(m, refresh, error) : `${(m.litellm_params || {}).model || "—"} @ ${(m.litellm_params || {}).api_base || "—"}`) },
          { label: "Source", value: (m) => (m.model_info.db_model ? "added at run time" : "config file") },
          { label: "Access groups", value: (m) => (m.model_info.access_groups || []).join(", ") || "—" },
          { label: "In flight", num: true, value: (m) => String((m.health || {}).outstanding ?? "—") },
          { label: "Health", value: health },
          { label: "", value: (m) => (m.model_info.db_model ? armedButton("Delete", "Confirm delete", async () => { await api("/model/delete", { method: "POST", body: { id: m.model_info.id } }); await refresh(); }) : "") },
        ],
        info.data,
        "No models configured.",
      ),
    );
  };
  const form = h(
    "form",
    { class: "grid", "data-testid": "model-form" },
    field("Model group", h("input", { name: "model_name", required: true })),
    field("Upstream model", h("input", { name: "model", required: true })),
    field("API base", h("input", { name: "api_base", required: true, placeholder: "http://127.0.0.1:8001/v1" })),
    field("Input $/1M tokens", h("input", { name: "input_cost_per_million", type: "number", step: "any", min: 0 })),
    field("Output $/1M tokens", h("input", { name: "output_cost_per_million", type: "number", step: "any", min: 0 })),
    field("RPM", h("input", { name: "rpm", type: "number", min: 1 })),
    field("Access groups (comma-separated)", h("input", { name: "access_groups" })),
    h("button", { type: "submit" }, "Add deployment"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const values = formValues(form);
    const params = fill({}, values, { strings: ["model", "api_base"], numbers: ["input_cost_per_million", "output_cost_per_million"], ints: ["rpm"] });
    const info = fill({}, values, { lists: ["access_groups"] });
    try {
      await api("/model/new", { method: "POST", body: { model_name: values.model_name, litellm_params: params, model_info: info } });
      form.reset();
      await refresh();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  main.append(h("div", { class: "card" }, h("h2", {}, "Add a deployment"), form, error), listing);
  await refresh();
}
