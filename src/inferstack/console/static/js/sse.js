// Reading an OpenAI chat stream (server-sent events) from a fetch() response.

/** Yield each `data:` payload of the stream, parsed, until `[DONE]`. */
export async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

/** Fold a chunk's delta into `message` ({content, tool_calls}). */
export function merge(message, chunk) {
  for (const choice of chunk.choices || []) {
    const delta = choice.delta || {};
    if (delta.content) message.content += delta.content;
    for (const call of delta.tool_calls || []) {
      const index = call.index ?? 0;
      const into = (message.tool_calls[index] ||= { id: "", type: "function", function: { name: "", arguments: "" } });
      if (call.id) into.id = call.id;
      if (call.function && call.function.name) into.function.name += call.function.name;
      if (call.function && call.function.arguments) into.function.arguments += call.function.arguments;
    }
    if (choice.finish_reason) message.finish_reason = choice.finish_reason;
  }
  if (chunk.usage) message.usage = chunk.usage;
  return message;
}
