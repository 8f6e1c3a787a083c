// The REST API, as any client sees it. The session cookie rides along; every call also sends the header
// that lets the server tell the Admin UI's writes from a cross-site form.

const BASE = location.pathname.replace(/\/ui\/?$/, "");

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || `HTTP_${status}`;
    this.details = error.details || [];
  }
}

// The API's full address of a path, as a target outside the browser would call it.
export const address = (path) => new URL(BASE + path, location.origin);

export async function call(method, path, { body, query } = {}) {
  const url = address(path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json", "X-Requested-With": "scheduler-ui" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, next: response.headers.get("X-Next-Cursor") };
}

export const get = (path, query) => call("GET", path, { query }).then((reply) => reply.data);
export const page = (path, query) => call("GET", path, { query });
export const post = (path, body) => call("POST", path, { body: body === undefined ? {} : body }).then((r) => r.data);
export const put = (path, body) => call("PUT", path, { body }).then((reply) => reply.data);
export const del = (path) => call("DELETE", path).then((reply) => reply.data);
