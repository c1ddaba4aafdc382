// The stack panel: one row per entry (vector: slider over its allowed range with its value and a
// typed input, double-click resets to its default; mask edit: optimise), enable toggles, drag
// reorder, remove. It renders what `state` holds and reports the user's changes through callbacks.

import { el } from "../lib/ui.js";

/** The slider step of a vector's range (100 steps, at least 0.01). */
export function sliderStep(min, max) {
  return Math.max(0.01, Math.round((max - min)) / 100);
}

/** Renders the stack into `list`; `vectors` maps vector id -> library vector. */
export class StackPanel {
  constructor(list, { canEdit, onChange, onRemove, onJob }) {
    Object.assign(this, { list, canEdit, onChange, onRemove, onJob });
    this.vectors = new Map();
    this.dragged = null;
  }

  /** Show `entries` (sorted) with `jobsByEntry` (entry id -> running job). */
  render(entries, jobsByEntry = new Map()) {
    const active = document.activeElement;
    const dragging = active && active.matches && active.matches("input[type=range]") && this.list.contains(active)
      ? active.closest("[data-entry-id]").dataset.entryId : null;
    const shown = [...this.list.children].map((row) => row.dataset.entryId);
    const same = shown.length === entries.length && entries.every((entry, i) => String(entry.id) === shown[i]);
    if (dragging && same) { // keep the row under a dragging pointer; rebuild the others in place
      [...this.list.children].forEach((row, i) => {
        if (row.dataset.entryId !== dragging) row.replaceWith(this.row(entries[i], jobsByEntry));
      });
      return;
    }
    this.list.replaceChildren(...entries.map((entry) => this.row(entry, jobsByEntry)));
    if (!entries.length) this.list.append(el("li", { class: "hint empty-stack" }, "No edits yet: add a library vector or repaint the parts."));
  }

  row(entry, jobsByEntry) {
    const vector = this.vectors.get(entry.vector || entry.result_vector);
    const title = entry.kind === "vector" ? (vector ? vector.name : `Vector ${entry.vector}`)
      : entry.result_vector ? `Mask edit → ${vector ? vector.name : "vector"}` : "Mask edit (not optimised)";
    const disabled = !this.canEdit;
    const enabled = el("input", { type: "checkbox", checked: entry.enabled, disabled, "aria-label": `Apply ${title}`,
      onchange: (event) => this.onChange(entry.id, "enabled", event.target.checked) });
    const row = el("li", { class: `stack-row${entry.enabled ? "" : " off"}`, draggable: this.canEdit ? "true" : null,
      dataset: { entryId: String(entry.id), kind: entry.kind } },
      el("span", { class: "grip", "aria-hidden": "true" }, "⋮⋮"), enabled,
      el("div", { class: "stack-main" }, el("div", { class: "stack-title" }, el("strong", {}, title)),
        entry.kind === "vector" ? this.slider(entry, vector, disabled) : this.maskControls(entry, jobsByEntry, disabled)),
      this.canEdit ? el("button", { type: "button", class: "button ghost small remove", "aria-label": `Remove ${title}`,
        onclick: () => this.onRemove(entry.id) }, "×") : null);
    if (this.canEdit) this.draggable(row, entry);
    return row;
  }

  slider(entry, vector, disabled) {
    const min = vector ? vector.min_scale : -2; const max = vector ? vector.max_scale : 2;
    const reset = vector ? vector.default_scale : 1;
    const range = el("input", { type: "range", min, max, step: sliderStep(min, max), value: entry.scale, disabled,
      "aria-label": "Strength" });
    const number = el("input", { type: "number", min, max, step: 0.01, value: entry.scale, disabled, class: "scale-input",
      "aria-label": "Strength value" });
    const send = (value) => {
      const clamped = Math.min(max, Math.max(min, Number(value)));
      if (!Number.isFinite(clamped)) return;
      range.value = String(clamped); number.value = clamped.toFixed(2);
      this.onChange(entry.id, "scale", clamped);
    };
    range.addEventListener("input", () => send(range.value));
    range.addEventListener("dblclick", () => send(reset));
    number.addEventListener("change", () => send(number.value));
    number.value = Number(entry.scale).toFixed(2);
    const refine = this.canEdit ? el("div", { class: "row refine" },
      el("button", { type: "button", class: "button ghost small", onclick: () => this.onJob("refine", entry.id, 10) }, "Refine 10"),
      el("button", { type: "button", class: "button ghost small", onclick: () => this.onJob("refine", entry.id, 30) }, "Refine 30"))
      : null;
    return el("div", { class: "stack-controls" }, el("div", { class: "row slider-row" }, range, number), refine);
  }

  maskControls(entry, jobsByEntry, disabled) {
    if (entry.result_vector) return el("p", { class: "hint" }, "Applied at strength 1 (its vector is in the library).");
    const running = jobsByEntry.get(entry.id);
    return el("div", { class: "row" }, el("button", { type: "button", class: "button small primary", disabled: disabled || Boolean(running),
      onclick: () => this.onJob("optimize", entry.id, 30) }, running ? "Optimising…" : "Optimise this mask edit"));
  }

  draggable(row, entry) {
    row.addEventListener("dragstart", (event) => { this.dragged = entry.id; event.dataTransfer.effectAllowed = "move"; });
    row.addEventListener("dragover", (event) => { event.preventDefault(); row.classList.add("drop"); });
    row.addEventListener("dragleave", () => row.classList.remove("drop"));
    row.addEventListener("drop", (event) => {
      event.preventDefault();
      row.classList.remove("drop");
      if (this.dragged !== null && this.dragged !== entry.id) this.onChange(this.dragged, "position", entry.position);
      this.dragged = null;
    });
  }
}
