// Branch training on the Dataset page: start a train_branch job, follow it live, show the
// per-label IoU of the result and activate it.

import { getJson, postJson } from "../lib/api.js";
import { iouChart } from "../lib/charts.js";
import { JobProgress } from "../lib/jobs.js";
import { el, showError, toast } from "../lib/ui.js";

/** The default held-out share: a fifth of the annotations, none with fewer than 5 (the job's default). */
export function defaultHeldOut(count) {
  return count >= 5 ? Math.floor(count / 5) : 0;
}

export class TrainingPanel {
  /**
   * @param {HTMLElement} section The training section (shown once there is something to show).
   * @param {{team: number, model: object, canEdit: boolean}} options
   */
  constructor(section, { team, model, canEdit }) {
    this.section = section;
    this.body = section.querySelector("#training-body");
    this.team = team;
    this.model = model;
    this.canEdit = canEdit;
    this.progress = null;
  }

  /** Show the model's latest training job (running or finished), if any. */
  async showLatest() {
    const page = await getJson("/api/jobs/", { team: this.team, type: "train_branch", page_size: 20 });
    const job = page.results.find((candidate) => candidate.parameters.model === this.model.id);
    if (job) this.follow(job);
  }

  /** Request a training job with `held_out` annotations kept aside and `steps` steps. */
  async start(heldOut, steps) {
    const job = await postJson("/api/jobs/", { team: this.team, type: "train_branch",
      parameters: { model: this.model.id, held_out: heldOut, steps, activate: false } });
    toast(`Branch training started (job ${job.id}).`, "success");
    this.follow(job);
    return job;
  }

  follow(job) {
    if (this.progress) this.progress.close();
    this.section.hidden = false;
    const count = (job.parameters.annotations || []).length;
    this.progress = new JobProgress(job, { canCancel: this.canEdit, label: `Training on ${count} annotations`,
      onDone: (state) => this.finished(state) });
    this.result = el("div", { class: "training-result" });
    this.body.replaceChildren(this.progress.element, this.result);
  }

  async finished(state) {
    if (state.status !== "succeeded") {
      this.result.replaceChildren(el("p", { class: "muted" },
        state.status === "cancelled" ? "Training was cancelled; nothing was stored." : ""));
      return;
    }
    try {
      const branch = await getJson(`/api/branches/${state.result.branch}/`);
      this.showBranch(branch);
    } catch (error) {
      showError(error, "Could not load the trained branch");
    }
  }

  showBranch(branch) {
    const metrics = branch.metrics || {};
    const summary = metrics.mean_iou === null || metrics.mean_iou === undefined
      ? `Branch ${branch.id}: trained on ${metrics.trained_on} annotations; none were held out, so there is no IoU.`
      : `Branch ${branch.id}: mean IoU ${Number(metrics.mean_iou).toFixed(3)} on ${metrics.held_out.length} held-out `
        + `annotation${metrics.held_out.length === 1 ? "" : "s"} (trained on ${metrics.trained_on}).`;
    const parts = [el("p", { class: "branch-summary" }, summary)];
    if (metrics.per_label_iou) parts.push(iouChart(metrics.per_label_iou, this.model.labels));
    parts.push(this.activation(branch));
    this.result.replaceChildren(...parts);
    this.result.dataset.branchId = String(branch.id);
  }

  activation(branch) {
    if (branch.is_active) return el("p", {}, el("span", { class: "badge active" }, "active branch"));
    if (!this.canEdit) return el("p", { class: "hint" }, "Not active; an editor can activate it.");
    const button = el("button", { type: "button", class: "button primary", id: "activate-branch" }, "Activate this branch");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const active = await postJson(`/api/branches/${branch.id}/activate/`);
        toast("The branch is now the model's active branch.", "success");
        button.replaceWith(this.activation(active));
      } catch (error) {
        button.disabled = false;
        showError(error, "Could not activate the branch");
      }
    });
    return el("div", { class: "row" }, button,
      el("span", { class: "hint" }, "Predictions and edits of this model use the active branch."));
  }
}
