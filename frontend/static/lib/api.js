// The REST API client of the studio pages: same-origin session auth, CSRF, one error shape.
//
// Every error the server sends is {"error": {"code", "message", "details"}} (docs/api.md); it is
// thrown as an ApiError carrying those fields and the HTTP status, so pages can show the
// message and branch on the code. A request that never reaches the server is an ApiError too
// (status 0, code "network_error").

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached).
   * @param {string} code Stable error code, e.g. "stale_version".
   * @param {string} message Text meant for people.
   * @param {object} details Structured facts (field errors, the current version ...).
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Build the ApiError of a failed response from its status and parsed JSON body (or null). */
export function errorFromResponse(status, body) {
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error.code === "string") {
    return new ApiError(status, error.code, error.message || `Request failed (${status}).`, error.details || {});
  }
  const fallback = status >= 500
    ? "The server had a problem with this request. Try again; if it persists, tell an operator."
    : `The request failed (HTTP ${status}).`;
  return new ApiError(status, status >= 500 ? "server_error" : "http_error", fallback, {});
}

/** The value of cookie `name` in `cookieString` (document.cookie), or "". */
export function readCookie(cookieString, name) {
  for (const part of cookieString.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** The CSRF token: Django's csrftoken cookie, else the page's <meta name="csrf-token">. */
export function csrfToken() {
  const fromCookie = readCookie(document.cookie, "csrftoken");
  if (fromCookie) return fromCookie;
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

/** `path` with `query` (an object; null, undefined and "" values left out) as its query string. */
export function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

/**
 * One API call. Options: method, query (object), json (body sent as JSON), form (FormData, sent
 * as multipart), signal (AbortSignal). Resolves to the parsed JSON (null for an empty answer);
 * rejects with ApiError.
 */
export async function request(path, { method = "GET", query, json, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (!SAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();
  let response;
  try {
    response = await fetch(withQuery(path, query), { method, headers, body, signal, credentials: "same-origin" });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "The server could not be reached. Check the connection and try again.");
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw errorFromResponse(response.status, data);
  return data;
}

/** GET JSON. */
export const getJson = (path, query) => request(path, { query });
/** POST a JSON body (or nothing). */
export const postJson = (path, json) => request(path, { method: "POST", json });
/** PATCH a JSON body. */
export const patchJson = (path, json) => request(path, { method: "PATCH", json });
/** DELETE. */
export const deleteJson = (path, query) => request(path, { method: "DELETE", query });
/** POST a FormData as multipart (file uploads). */
export const postForm = (path, form) => request(path, { method: "POST", form });

/** Every item of a paginated list (follows `next` links; at most `maxPages` pages). */
export async function listAll(path, query, maxPages = 50) {
  const items = [];
  let page = await getJson(path, { page_size: 200, ...query });
  items.push(...page.results);
  for (let pages = 1; page.next && pages < maxPages; pages += 1) {
    const next = new URL(page.next, location.origin);
    page = await getJson(next.pathname + next.search);
    items.push(...page.results);
  }
  return items;
}
