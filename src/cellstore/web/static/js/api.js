// The JSON API, called with the API key kept for this browser session only.

const KEY = "cellstore.apiKey";
const listeners = new Set();

export const auth = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
    for (const name of Object.keys(sessionStorage)) {
      if (name.startsWith("cellstore.")) sessionStorage.removeItem(name);
    }
  },
  onUnauthorized(fn) {
    listeners.add(fn);
  },
};

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail || {};
  }
}

// What to tell a person, by status, in front of the server's own message.
function words(status, body) {
  const message = (body && typeof body.message === "string" && body.message) || "";
  switch (status) {
    case 401:
      return "This API key was not accepted. Check it, or ask your administrator for a new one.";
    case 403:
      return `You are not allowed to do this${message ? `: ${message}` : "."}`;
    case 404:
      return message ? `Not found: ${message}` : "Not found.";
    case 409:
      return message || "This conflicts with existing data.";
    case 413:
      return message || "The file or request is too large for this server.";
    case 422:
      return message ? `The request was not valid: ${message}` : "The request was not valid.";
    default:
      if (status >= 500) return `The server failed (HTTP ${status})${message ? `: ${message}` : ""}.`;
      return message || `The request failed (HTTP ${status}).`;
  }
}

export async function errorFromResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const code = body && body.error_code;
  return new ApiError(response.status, code || `HTTP_${response.status}`, words(response.status, body), body?.detail);
}

export function networkError() {
  return new ApiError(0, "NETWORK", "cellstore did not answer. Is the server running and reachable?");
}

export function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(name, String(one));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  if (auth.key) out["X-API-Key"] = auth.key;
  return out;
}

export async function request(method, path, { query, body, signal } = {}) {
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url(path, query), init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw networkError();
  }
  if (!response.ok) {
    const error = await errorFromResponse(response);
    if (response.status === 401) for (const fn of listeners) fn(error);
    throw error;
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.startsWith("application/json") ? response.json() : response;
}

export const get = (path, query, signal) => request("GET", path, { query, signal });
export const post = (path, body, signal) => request("POST", path, { body, signal });
export const patch = (path, body, signal) => request("PATCH", path, { body, signal });
export const del = (path, signal) => request("DELETE", path, { signal });

// A download endpoint answers a redirect to a signed storage URL that needs no key. Follow it
// with the key, keep only the final URL and let the browser fetch it as a normal link.
export async function signedUrl(path, query) {
  let response;
  try {
    response = await fetch(url(path, query), { headers: headers() });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await errorFromResponse(response);
  response.body?.cancel();
  return response.url;
}

// The bytes of a download endpoint, for showing images inline (as blob: URLs).
export async function blob(path) {
  let response;
  try {
    response = await fetch(path, { headers: headers() });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response.blob();
}
