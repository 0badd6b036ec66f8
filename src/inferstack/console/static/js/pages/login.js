// Sign in with the master key, a virtual key, or (when the gateway has users) a password.

import { api } from "../api.js";
import { field, formValues, h } from "../dom.js";

export async function render(main, ctx, signedIn) {
  const error = h("p", { class: "error", "data-testid": "login-error" });
  const submit = (body) => async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await signedIn(await api("/ui/api/login", { method: "POST", body: body(event.target) }));
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const keyForm = h(
    "form",
    { onSubmit: submit((form) => ({ key: formValues(form).key })), "data-testid": "login-key" },
    field("API key (master or virtual)", h("input", { name: "key", type: "password", autocomplete: "off", required: true })),
    h("button", { type: "submit" }, "Sign in"),
  );
  const card = h("div", { class: "card login" }, h("h1", {}, "Sign in to inferstack"), keyForm);
  if (ctx.config.password_login) {
    const passwordForm = h(
      "form",
      { onSubmit: submit((form) => formValues(form)), "data-testid": "login-password" },
      field("Username or email", h("input", { name: "username", autocomplete: "username", required: true })),
      field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
      h("button", { type: "submit" }, "Sign in with password"),
    );
    card.append(h("h2", {}, "or as a user"), passwordForm);
  }
  card.append(error);
  main.append(card);
}
