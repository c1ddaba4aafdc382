// The Models page: the team's generator models with their taxonomy (editable by editors) and
// active branch (per-label IoU chart); registering a model from a checkpoint.

import { getJson, listAll, postJson, request } from "../lib/api.js";
import { iouChart } from "../lib/charts.js";
import { el, emptyState, errorState, formatTime, pageContext, showError, toast } from "../lib/ui.js";
import { appendRow, editableRows, readLabels, taxonomyTable } from "./taxonomy.js";
import { setUpRegistration } from "./register.js";

const context = pageContext();
const container = document.getElementById("models");

function branchPanel(model, branch) {
  const panel = el("section", { class: "branch-panel", "aria-label": `Segmentation branch of ${model.name}` },
    el("h3", {}, "Segmentation branch"));
  if (!branch) {
    panel.append(el("p", { class: "muted" }, "No active branch yet. Annotate images on the ",
      el("a", { href: `/dataset/?model=${model.id}` }, "Dataset"), " page and train one there."));
    return panel;
  }
  const metrics = branch.metrics || {};
  const facts = [`branch ${branch.id}`, `trained on ${metrics.trained_on ?? branch.trained_on.length} annotations`,
    formatTime(branch.created_at)];
  panel.append(el("p", { class: "hint" }, facts.join(" · ")));
  const heldOut = (metrics.held_out || []).length;
  const measuredOn = metrics.evaluated_on || `${heldOut} held-out annotation${heldOut === 1 ? "" : "s"}`;
  if (metrics.mean_iou !== undefined && metrics.mean_iou !== null) {
    panel.append(el("p", { class: "mean-iou" }, el("strong", {}, Number(metrics.mean_iou).toFixed(3)),
      ` mean IoU · measured on ${measuredOn}`));
  }
  if (metrics.per_label_iou) {
    panel.append(iouChart(metrics.per_label_iou, model.labels, { width: 460, title: `Per-label IoU on ${measuredOn}` }));
  }
  else panel.append(el("p", { class: "muted" }, "No annotations were held out, so there is no IoU to show."));
  return panel;
}

function meanIou(branch) {
  const value = (branch.metrics || {}).mean_iou;
  return value === null || value === undefined ? "no IoU" : `mean IoU ${Number(value).toFixed(3)}`;
}

/** The model's other branches, newest first, each with "Activate" for editors. */
function otherBranches(branches) {
  const others = branches.filter((branch) => !branch.is_active);
  if (!others.length) return null;
  return el("details", { class: "other-branches" },
    el("summary", {}, `${others.length} other branch${others.length === 1 ? "" : "es"}`),
    el("ul", {}, others.map((branch) => {
      const item = el("li", { dataset: { branchId: String(branch.id) } },
        el("span", {}, `Branch ${branch.id} · ${meanIou(branch)} · ${formatTime(branch.created_at)}`));
      if (context.canEdit) {
        const activate = el("button", { type: "button", class: "button small" }, "Activate");
        activate.addEventListener("click", async () => {
          activate.disabled = true;
          try {
            await postJson(`/api/branches/${branch.id}/activate/`);
            toast(`Branch ${branch.id} is now active.`, "success");
            await load();
          } catch (error) {
            activate.disabled = false;
            showError(error, "Could not activate the branch");
          }
        });
        item.append(activate);
      }
      return item;
    })));
}

function taxonomyPanel(model, hasBranches) {
  const panel = el("section", { class: "taxonomy-panel", "aria-label": `Taxonomy of ${model.name}` });
  const head = el("div", { class: "panel-head" }, el("h3", {}, `Taxonomy · ${model.labels.length} labels`));
  panel.append(head, taxonomyTable(model.labels));
  if (!context.canEdit) return panel;
  const edit = el("button", { type: "button", class: "button small", dataset: { action: "edit-taxonomy" } }, "Edit taxonomy");
  head.append(edit);
  edit.addEventListener("click", () => {
    const body = editableRows(model.labels);
    const add = el("button", { type: "button", class: "button small ghost", disabled: hasBranches,
      title: hasBranches ? "Labels can only be added before the first branch is trained" : null }, "+ Add label");
    add.addEventListener("click", () => appendRow(body));
    const save = el("button", { type: "submit", class: "button small primary" }, "Save taxonomy");
    const cancel = el("button", { type: "button", class: "button small ghost" }, "Cancel");
    const form = el("form", { class: "taxonomy-editor stack" }, taxonomyTable(model.labels, body),
      el("div", { class: "row" }, add, el("span", { class: "spacer" }), cancel, save),
      el("p", { class: "hint" }, "Masks store label indices, so labels keep their place and cannot be removed."));
    cancel.addEventListener("click", () => {
      form.replaceWith(taxonomyTable(model.labels));
      edit.hidden = false;
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        const updated = await request(`/api/models/${model.id}/labels/`, { method: "PUT", json: { labels: readLabels(body) } });
        toast(`Taxonomy of ${model.name} saved.`, "success");
        Object.assign(model, updated);
        await load();
      } catch (error) {
        save.disabled = false;
        showError(error, "Could not save the taxonomy");
      }
    });
    panel.querySelector("table.taxonomy").replaceWith(form);
    edit.hidden = true;
    body.querySelector("input[name=name]").focus();
  });
  return panel;
}

function modelCard(model, branches) {
  const active = branches.find((branch) => branch.is_active) || null;
  const meta = [`${model.resolution} px`, `W+ ${model.num_ws} × ${model.w_dim}`, `weights ${model.weights_hash.slice(0, 12)}`,
    `registered ${formatTime(model.created_at)}`];
  return el("article", { class: "card model-card", dataset: { modelId: String(model.id) } },
    el("header", { class: "model-head" },
      el("div", {}, el("h2", {}, model.name, " ", el("span", { class: `badge ${model.is_active ? "ok" : ""}` },
        model.is_active ? "active" : "retired")),
      el("p", { class: "hint" }, meta.join(" · "))),
      el("a", { class: "button small", href: `/dataset/?model=${model.id}` }, "Open dataset →")),
    el("div", { class: "model-body" }, taxonomyPanel(model, branches.length > 0),
      el("div", { class: "stack" }, branchPanel(model, active), otherBranches(branches))));
}

async function load() {
  try {
    const models = await listAll("/api/models/", { team: context.team });
    if (!models.length) {
      emptyState(container, "No generator model yet",
        context.canEdit ? "Register one from a checkpoint: the project's own format, a rosinality .pt or an NVIDIA .pkl."
          : "An editor of this team registers models from checkpoints.");
      return;
    }
    const branches = await Promise.all(models.map((model) => getJson("/api/branches/", { model: model.id, page_size: 200 })));
    container.replaceChildren(...models.map((model, index) => modelCard(model, branches[index].results)));
  } catch (error) {
    errorState(container, "Could not load the models.", error);
  }
}

if (context.canEdit) setUpRegistration({ team: context.team, onRegistered: load });
load();
