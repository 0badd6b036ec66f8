// Helpers the pages share: turning form text into API fields.

export function list(text) {
  return text ? text.split(",").map((x) => x.trim()).filter(Boolean) : [];
}

/** Copy the non-empty fields of `values` into `body`, converting numbers. */
export function fill(body, values, { numbers = [], ints = [], lists = [], strings = [] }) {
  for (const name of numbers) if (values[name]) body[name] = Number(values[name]);
  for (const name of ints) if (values[name]) body[name] = parseInt(values[name], 10);
  for (const name of lists) if (values[name]) body[name] = list(values[name]);
  for (const name of strings) if (values[name]) body[name] = values[name];
  return body;
}

export function unavailable(what) {
  return `${what} is not available on this gateway yet.`;
}
