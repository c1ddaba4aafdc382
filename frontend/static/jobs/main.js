// The Jobs page: the team's jobs with status, live progress, requester, duration, cancel, error.

import { getJson } from "../lib/api.js";
import { JOB_TYPE_NAMES, JobProgress, TERMINAL_STATUSES, jobSeconds, jobState } from "../lib/jobs.js";
import { el, emptyState, errorState, formatDuration, formatTime, pageContext } from "../lib/ui.js";

const context = pageContext();
const container = document.getElementById("jobs");
const filters = document.getElementById("job-filters");
const moreButton = document.getElementById("more-jobs");
const REFRESH_MS = 10000;
let progresses = [];
let nextPage = null;
let shown = "";

function summary(job) {
  const parameters = job.parameters || {};
  if (parameters.image) return `image ${parameters.image}`;
  if (parameters.entry) return `session entry ${parameters.entry}`;
  if (job.type === "train_branch") {
    const count = (parameters.annotations || []).length;
    return `${count} annotation${count === 1 ? "" : "s"}, ${parameters.steps} steps`;
  }
  return "";
}

function resultLink(job) {
  const result = job.result || {};
  if (result.image) return el("a", { href: `/dataset/?model=${job.parameters.model || ""}` }, `image ${result.image}`);
  if (result.branch) return el("a", { href: "/models/" }, `branch ${result.branch}`);
  if (result.vector) return el("a", { href: "/library/" }, `vector ${result.vector}`);
  return "";
}

function row(job) {
  const state = jobState(job);
  const running = !TERMINAL_STATUSES.has(job.status);
  const progressCell = el("td", { class: "progress-cell" });
  const statusBadge = el("span", { class: `badge status-${job.status}` }, job.status);
  const durationCell = el("td", { class: "num" }, formatDuration(jobSeconds(state)));
  if (running) {
    const progress = new JobProgress(job, {
      canCancel: context.canEdit,
      compact: true,
      onDone: (final) => {
        statusBadge.className = `badge status-${final.status}`;
        statusBadge.textContent = final.status;
        durationCell.textContent = formatDuration(jobSeconds(final));
      },
    });
    progressCell.append(progress.element);
    progresses.push(progress);
  } else if (job.status === "failed") {
    progressCell.append(el("span", { class: "job-error" }, job.error));
  } else if (job.status === "succeeded") {
    progressCell.append(el("span", { class: "muted" }, resultLink(job)));
  } else {
    progressCell.append(el("span", { class: "muted" }, job.cancel_requested ? "cancelled on request" : ""));
  }
  return el("tr", { dataset: { jobId: String(job.id), status: job.status } },
    el("td", {}, el("div", { class: "job-name" }, `${JOB_TYPE_NAMES[job.type] || job.type} #${job.id}`),
      el("div", { class: "hint" }, summary(job))),
    el("td", {}, statusBadge),
    progressCell,
    el("td", {}, job.requested_by || "—"),
    el("td", {}, formatTime(job.created_at)),
    durationCell);
}

function table(rows) {
  return el("div", { class: "table-wrap" }, el("table", { class: "table jobs-table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Job"), el("th", { scope: "col" }, "Status"),
      el("th", { scope: "col" }, "Progress / outcome"), el("th", { scope: "col" }, "Requested by"),
      el("th", { scope: "col" }, "Created"), el("th", { scope: "col", class: "num" }, "Duration"))),
    el("tbody", { id: "jobs-body" }, rows)));
}

function query() {
  return { team: context.team, status: filters.elements.status.value, type: filters.elements.type.value, page_size: 50 };
}

/** Load the first page; `onlyIfChanged` keeps the table (and its live sockets) when nothing new happened. */
async function load(onlyIfChanged = false) {
  try {
    const page = await getJson("/api/jobs/", query());
    const signature = page.results.map((job) => `${job.id}:${job.status}`).join(",");
    if (onlyIfChanged && signature === shown) return;
    shown = signature;
    for (const progress of progresses) progress.close();
    progresses = [];
    nextPage = page.next;
    moreButton.hidden = !nextPage;
    if (!page.results.length) {
      emptyState(container, "No jobs yet",
        "Jobs appear here when someone samples or uploads images, trains a branch or optimises an edit.");
      return;
    }
    container.replaceChildren(table(page.results.map(row)));
  } catch (error) {
    errorState(container, "Could not load the jobs.", error);
  }
}

async function loadMore() {
  if (!nextPage) return;
  const url = new URL(nextPage, location.origin);
  try {
    const page = await getJson(url.pathname + url.search);
    nextPage = page.next;
    moreButton.hidden = !nextPage;
    document.getElementById("jobs-body").append(...page.results.map(row));
  } catch (error) {
    errorState(container, "Could not load older jobs.", error);
  }
}

filters.addEventListener("change", () => load());
filters.addEventListener("submit", (event) => { event.preventDefault(); load(); });
document.getElementById("refresh-jobs").addEventListener("click", () => load());
moreButton.addEventListener("click", loadMore);
// New jobs of teammates show up without a reload (running ones update live over their sockets).
setInterval(() => { if (document.visibilityState === "visible") load(true); }, REFRESH_MS);
load();
