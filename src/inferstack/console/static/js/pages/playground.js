// Chat against any model the key may use, streamed, with tools and JSON mode. The page sends
// the key as a bearer to /v1/chat/completions like any client; it keeps it in memory only.

import { api, errorFrom } from "../api.js";
import { clear, field, h } from "../dom.js";
import { events, merge } from "../sse.js";

const SAMPLE_TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

let sessionKey = null;

/** Drop the session's key from memory (at sign-out). */
export function forget() {
  sessionKey = null;
}

async function bearer(pasted) {
  if (pasted) return pasted;
  if (!sessionKey) sessionKey = (await api("/ui/api/playground/key", { method: "POST" })).key;
  return sessionKey;
}

function bubble(role, text) {
  const body = h("span", { class: "content" }, text);
  const el = h("div", { class: `msg ${role}`, "data-testid": `msg-${role}` }, h("span", { class: "role" }, role), body);
  return { el, body };
}

export async function render(main) {
  const history = [];
  const chat = h("div", { class: "chat", "data-testid": "chat" });
  const error = h("p", { class: "error", "data-testid": "playground-error" });
  const keyInput = h("input", { name: "key", type: "password", autocomplete: "off", placeholder: "empty: this session's key" });
  const model = h("select", { name: "model", "data-testid": "model" });
  const system = h("textarea", { name: "system", placeholder: "System prompt (optional)" });
  const prompt = h("textarea", { name: "prompt", "data-testid": "prompt", placeholder: "Say something…" });
  const temperature = h("input", { name: "temperature", type: "number", step: "0.1", min: 0, max: 2, value: "0.7" });
  const maxTokens = h("input", { name: "max_tokens", type: "number", min: 1, value: "128" });
  const stream = h("input", { type: "checkbox", name: "stream", checked: true });
  const jsonMode = h("input", { type: "checkbox", name: "json", "data-testid": "json-mode" });
  const useTools = h("input", { type: "checkbox", name: "tools", "data-testid": "use-tools" });
  const toolChoice = h("select", { name: "tool_choice", "aria-label": "Tool choice" }, ["auto", "required", "none"].map((c) => h("option", { value: c }, c)));
  const tools = h("textarea", { name: "tools_json", rows: 6 }, JSON.stringify(SAMPLE_TOOLS, null, 2));
  const send = h("button", { type: "submit", "data-testid": "send" }, "Send");
  const reset = h("button", { type: "button", class: "secondary" }, "New chat");

  const loadModels = async () => {
    error.textContent = "";
    clear(model);
    try {
      const response = await fetch("/v1/models", { headers: { authorization: `Bearer ${await bearer(keyInput.value.trim())}` } });
      if (!response.ok) throw await errorFrom(response);
      for (const m of (await response.json()).data) model.append(h("option", { value: m.id }, m.id));
    } catch (err) {
      error.textContent = err.message;
    }
  };
  keyInput.addEventListener("change", loadModels);
  reset.addEventListener("click", () => {
    history.length = 0;
    clear(chat);
    error.textContent = "";
  });

  const form = h(
    "form",
    { class: "card" },
    h("div", { class: "row" }, field("API key", keyInput), field("Model", model), field("Temperature", temperature), field("Max tokens", maxTokens)),
    h(
      "div",
      { class: "row" },
      h("label", { class: "inline" }, stream, "Stream"),
      h("label", { class: "inline" }, jsonMode, "JSON mode"),
      h("label", { class: "inline" }, useTools, "Tools"),
      toolChoice,
    ),
    h("details", {}, h("summary", {}, "System prompt and tools"), system, tools),
    chat,
    prompt,
    h("div", { class: "row" }, send, reset),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const text = prompt.value;
    if (!text.trim()) return;
    history.push({ role: "user", content: text });
    chat.append(bubble("user", text).el);
    prompt.value = "";
    send.disabled = true;
    try {
      await complete();
    } catch (err) {
      history.pop();
      error.textContent = err.message;
    } finally {
      send.disabled = false;
    }
  });

  async function complete() {
    const messages = system.value.trim() ? [{ role: "system", content: system.value }, ...history] : [...history];
    const body = {
      model: model.value,
      messages,
      temperature: Number(temperature.value),
      max_tokens: parseInt(maxTokens.value, 10),
      stream: stream.checked,
    };
    if (stream.checked) body.stream_options = { include_usage: true };
    if (jsonMode.checked) body.response_format = { type: "json_object" };
    if (useTools.checked) {
      body.tools = JSON.parse(tools.value);
      body.tool_choice = toolChoice.value;
    }
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await bearer(keyInput.value.trim())}` },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorFrom(response);
    const reply = bubble("assistant", "");
    chat.append(reply.el);
    const message = { content: "", tool_calls: [], finish_reason: null, usage: null };
    if (stream.checked) {
      for await (const chunk of events(response)) {
        if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`);
        merge(message, chunk);
        reply.body.textContent = message.content;
      }
    } else {
      const answer = await response.json();
      const choice = answer.choices[0];
      message.content = choice.message.content || "";
      message.tool_calls = choice.message.tool_calls || [];
      message.finish_reason = choice.finish_reason;
      message.usage = answer.usage;
    }
    reply.body.textContent = message.content;
    for (const call of message.tool_calls) {
      reply.el.append(h("pre", { class: "mono", "data-testid": "tool-call" }, `${call.function.name}(${call.function.arguments})`));
    }
    const usage = message.usage ? `${message.usage.prompt_tokens} + ${message.usage.completion_tokens} tokens` : "";
    reply.el.append(h("span", { class: "role", "data-testid": "finish" }, [message.finish_reason, usage].filter(Boolean).join(" · ")));
    const kept = { role: "assistant", content: message.content };
    if (message.tool_calls.length) kept.tool_calls = message.tool_calls;
    history.push(kept);
  }

  main.append(h("h1", {}, "Playground"), form);
  await loadModels();
}
