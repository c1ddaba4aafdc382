// Job progress, the same everywhere in the studio: follows /ws/jobs/<id>/ (docs/jobs.md) and
// renders a progress bar with step / total and loss, the status and a cancel button.

import { postJson } from "./api.js";
import { ReconnectingSocket, socketUrl } from "./socket.js";
import { el, formatDuration, showError } from "./ui.js";

export const TERMINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

export const JOB_TYPE_NAMES = {
  embed_image: "Embedding",
  train_branch: "Branch training",
  optimize_edit: "Edit optimisation",
  refine: "Refinement",
  render: "Render",
  predict_mask: "Prediction",
};

/** Normalise a REST job or a socket event to {id, type, status, step, total, loss, error, result, ...}. */
export function jobState(source) {
  const progress = source.progress || source;
  return {
    id: source.job_id ?? source.id,
    type: source.job_type ?? source.type,
    status: source.status,
    step: progress.step ?? 0,
    total: progress.total ?? 0,
    loss: progress.loss ?? null,
    error: source.error || "",
    result: source.result || {},
    startedAt: source.started_at || null,
    finishedAt: source.finished_at || null,
  };
}

/** The share of the work done, 0..1 (1 for a succeeded job; 0 before the first report). */
export function progressFraction(state) {
  if (state.status === "succeeded") return 1;
  if (!state.total) return 0;
  return Math.min(1, state.step / state.total);
}

/** A one-line description: "running · step 40 / 200 · loss 0.0123". */
export function progressText(state) {
  const parts = [state.status];
  if (state.total) parts.push(`step ${state.step} / ${state.total}`);
  if (state.loss !== null && state.loss !== undefined) parts.push(`loss ${formatLoss(state.loss)}`);
  return parts.join(" · ");
}

/** A loss value with 4 significant digits. */
export function formatLoss(loss) {
  return Number(loss).toPrecision(4);
}

/** Seconds a job ran (to `now` while running), or null before it started. */
export function jobSeconds(state, now = Date.now()) {
  if (!state.startedAt) return null;
  const end = state.finishedAt ? Date.parse(state.finishedAt) : now;
  return (end - Date.parse(state.startedAt)) / 1000;
}

/**
 * Follow a job's events: onUpdate(state) for the snapshot and every event; onDone(state) once
 * at a terminal status. Returns the socket (close() to stop following).
 */
export function followJob(jobId, { onUpdate, onDone }) {
  let done = false;
  const socket = new ReconnectingSocket(socketUrl(`/ws/jobs/${jobId}/`), {
    onMessage: (data) => {
      if (typeof data !== "string") return;
      const message = JSON.parse(data);
      if (message.type === "error") return;
      const state = jobState(message);
      if (onUpdate) onUpdate(state);
      if (TERMINAL_STATUSES.has(state.status) && !done) {
        done = true;
        socket.close();
        if (onDone) onDone(state);
      }
    },
  });
  return socket;
}

export class JobProgress {
  /**
   * A progress card for one job, kept current over its socket.
   * @param {object} job The job as the REST API returns it.
   * @param {{canCancel?: boolean, onDone?: Function, label?: string, compact?: boolean}} options
   *   compact: no title (where the row already says which job it is).
   */
  constructor(job, { canCancel = false, onDone, label, compact = false } = {}) {
    this.state = jobState(job);
    this.onDone = onDone;
    this.bar = el("progress", { max: "1", value: "0", "aria-label": `${label || "Job"} progress` });
    this.text = el("span", { class: "job-text" });
    this.cancelButton = canCancel
      ? el("button", { type: "button", class: "button small ghost job-cancel", onclick: () => this.cancel() }, "Cancel")
      : null;
    this.errorLine = el("p", { class: "job-error", hidden: true });
    const title = compact ? null
      : el("span", { class: "job-title" }, label || JOB_TYPE_NAMES[this.state.type] || this.state.type);
    this.element = el("div", { class: "job-progress", dataset: { jobId: String(this.state.id) } },
      el("div", { class: "job-head" }, title, this.text, this.cancelButton),
      this.bar, this.errorLine);
    this.render();
    if (TERMINAL_STATUSES.has(this.state.status)) {
      if (onDone) queueMicrotask(() => onDone(this.state));
    } else {
      this.socket = followJob(this.state.id, {
        onUpdate: (state) => this.update(state),
        onDone: (state) => { if (this.onDone) this.onDone(state); },
      });
    }
  }

  /** Show a new state of the job. */
  update(state) {
    this.state = { ...this.state, ...state };
    this.render();
  }

  render() {
    const { state } = this;
    this.bar.value = progressFraction(state);
    this.bar.setAttribute("aria-valuetext", progressText(state));
    this.text.textContent = progressText(state);
    this.element.dataset.status = state.status;
    this.element.dataset.step = String(state.step);
    this.element.dataset.total = String(state.total);
    if (this.cancelButton) this.cancelButton.hidden = TERMINAL_STATUSES.has(state.status);
    this.errorLine.hidden = !state.error;
    this.errorLine.textContent = state.error;
    const seconds = jobSeconds(state);
    this.element.title = seconds === null ? "" : `ran ${formatDuration(seconds)}`;
  }

  /** Ask the server to cancel the job (it stops at its next step). */
  async cancel() {
    this.cancelButton.disabled = true;
    try {
      const job = await postJson(`/api/jobs/${this.state.id}/cancel/`);
      this.update(jobState(job));
    } catch (error) {
      showError(error, "Could not cancel the job");
    } finally {
      this.cancelButton.disabled = false;
    }
  }

  /** Stop following the job. */
  close() {
    if (this.socket) this.socket.close();
  }
}
