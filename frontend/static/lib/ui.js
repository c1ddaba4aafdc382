// Small DOM helpers shared by the studio pages: element building, toasts, errors, empty states.

/**
 * Create an element: el("button", {class: "button", type: "button", onclick: fn}, "Save").
 * Attributes starting with "on" become event listeners; `dataset` is an object of data- values;
 * null/false attributes are left out; children are nodes or strings (text, never HTML).
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** What the server decided for this page: team, role and permissions from <body data-*>. */
export function pageContext() {
  const data = document.body.dataset;
  return {
    user: data.user || "",
    team: data.team ? Number(data.team) : null,
    role: data.role || "",
    canEdit: data.canEdit === "true",
    canAnnotate: data.canAnnotate === "true",
  };
}

/** Show a short message in the toast area; errors stay until dismissed, others fade. */
export function toast(message, kind = "info", timeoutMs = 5000) {
  const area = document.getElementById("toasts");
  if (!area) return null;
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const item = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : null },
    el("span", { class: "toast-text" }, message), close);
  close.addEventListener("click", () => item.remove());
  area.append(item);
  if (kind !== "error") setTimeout(() => item.remove(), timeoutMs);
  return item;
}

/** The text shown to people for an error (an ApiError's message, with its code for support). */
export function errorText(error) {
  if (error && error.code && error.message) return `${error.message} (${error.code})`;
  return error && error.message ? error.message : String(error);
}

/** Show an error as a toast (and log it). */
export function showError(error, prefix = "") {
  console.error(error);
  return toast(prefix ? `${prefix}: ${errorText(error)}` : errorText(error), "error");
}

/** Replace `container`'s content with an empty state: a title, a line of text and optional actions. */
export function emptyState(container, title, text, ...actions) {
  container.replaceChildren(el("div", { class: "empty-state" },
    el("p", { class: "empty-title" }, title), el("p", { class: "muted" }, text),
    actions.length ? el("div", { class: "actions" }, ...actions) : null));
}

/** Replace `container`'s content with an inline error box. */
export function errorState(container, title, error) {
  container.replaceChildren(el("div", { class: "alert error", role: "alert" },
    el("strong", {}, title), " ", errorText(error)));
}

/** A date-time for people: "25 Nov, 07:30". */
export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

/** A duration in seconds for people: "42 s", "3 min 5 s", "1 h 2 min". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Disable `button` while `work` (a promise-returning function) runs; errors are shown. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } catch (error) {
    showError(error);
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
