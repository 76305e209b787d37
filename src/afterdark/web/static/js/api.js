// Thin wrapper over the JSON API: same-origin cookies, CSRF header, readable errors.

const rootMeta = document.querySelector('meta[name="afterdark-root"]');

/** Path prefix the app is served under ("" at the domain root). */
export const ROOT = rootMeta ? rootMeta.content.replace(/\/$/, "") : "";
export const API = `${ROOT}/api/v1`;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An API answer with a 4xx/5xx status; `message` is meant for people. */
export class ApiError extends Error {
  constructor(status, code, message, detail = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function url(path) {
  return `${ROOT}${path}`;
}

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function csrfHeaders(method) {
  const headers = {};
  if (UNSAFE.has(method)) {
    const token = readCookie("afterdark_csrf");
    if (token) headers["X-CSRF-Token"] = token;
  }
  return headers;
}

export function loginUrl() {
  const here = window.location.pathname + window.location.search;
  return `${url("/login")}?next=${encodeURIComponent(here)}`;
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy page or an empty body
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.message === "string") {
    return new ApiError(response.status, err.code || "error", err.message, err);
  }
  if (body && Array.isArray(body.detail)) {
    // FastAPI's default validation shape, should a route answer with it
    const text = body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    return new ApiError(response.status, "invalid", text, body);
  }
  const fallback = response.status >= 500
    ? "The server had a problem. Please try again."
    : `Request failed (${response.status}).`;
  return new ApiError(response.status, "http_" + response.status, fallback, body);
}

/**
 * Call the API. `path` is relative to /api/v1. Resolves to the parsed JSON body, or null for 204.
 * On 401 the browser goes to the login page unless `{auth: false}` is passed.
 */
export async function api(method, path, body = undefined, { auth = true, signal } = {}) {
  const headers = { Accept: "application/json", ...csrfHeaders(method) };
  const init = { method, headers, credentials: "same-origin", signal };
  if (body instanceof FormData) {
    // multipart: the browser writes the Content-Type with its boundary
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection and try again.");
  }
  if (response.status === 401 && auth) {
    window.location.assign(loginUrl());
    // keep callers waiting while the browser leaves
    return new Promise(() => {});
  }
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : null;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const patch = (path, body, opts) => api("PATCH", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);
/** DELETE with a JSON body (such as a password that confirms it). */
export const delWithBody = (path, body, opts) => api("DELETE", path, body, opts);

/** Send files: `fields` maps a form field name to a File, a list of Files, or a string. */
export function upload(method, path, fields, opts) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string") {
      form.append(name, value);
      continue;
    }
    for (const file of Array.isArray(value) ? value : [value]) form.append(name, file, file.name);
  }
  return api(method, path, form, opts);
}

/** The signed-in user, or a trip to the login page. Shows the Admin nav link to admins. */
export async function requireUser() {
  const me = await get("/me");
  const adminLink = document.getElementById("nav-admin");
  if (adminLink) adminLink.hidden = !me.is_admin;
  return me;
}

/** The browser's IANA time zone, such as "Europe/Paris" ("" when it does not say). */
export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

/** The user's own usage report, counted in this browser's time zone when the server knows it. */
export async function getUsage(opts) {
  const tz = browserTimeZone();
  if (tz) {
    try {
      return await get(`/me/usage?tz=${encodeURIComponent(tz)}`, opts);
    } catch (err) {
      if (err.status !== 422) throw err;
    }
  }
  return get("/me/usage", opts);
}
