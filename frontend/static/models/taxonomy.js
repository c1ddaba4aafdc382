// The taxonomy editor of the Models page: one row per label (name, colour, context flag), in index order.

import { el } from "../lib/ui.js";

/** Labels as the API wants them, from the editor's rows. */
export function readLabels(rows) {
  return [...rows.querySelectorAll("tr[data-index]")].map((row) => ({
    name: row.querySelector("input[name=name]").value.trim(),
    colour: row.querySelector("input[name=colour]").value,
    is_context: row.querySelector("input[name=context]").checked,
  }));
}

/** A colour for a new label that differs from the taxonomy's: a hue step around the wheel. */
export function nextColour(count) {
  const hue = (count * 137.508) % 360;
  const saturation = 0.65;
  const lightness = 0.55;
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const x = chroma * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = lightness - chroma / 2;
  const [r, g, b] = hue < 60 ? [chroma, x, 0] : hue < 120 ? [x, chroma, 0] : hue < 180 ? [0, chroma, x]
    : hue < 240 ? [0, x, chroma] : hue < 300 ? [x, 0, chroma] : [chroma, 0, x];
  return `#${[r, g, b].map((value) => Math.round((value + m) * 255).toString(16).padStart(2, "0")).join("")}`;
}

function editableRow(label, index) {
  return el("tr", { dataset: { index: String(index) } },
    el("td", { class: "num muted" }, String(index)),
    el("td", {}, el("input", { type: "color", name: "colour", value: label.colour, "aria-label": `Colour of label ${index}` })),
    el("td", {}, el("input", { type: "text", name: "name", value: label.name, maxlength: "64", required: true,
      "aria-label": `Name of label ${index}` })),
    el("td", {}, el("input", { type: "checkbox", name: "context", checked: Boolean(label.is_context),
      "aria-label": `Label ${index} is a context label` })));
}

/** A table body of editable rows for `labels`; `addButton` appends a row. Returns the <tbody>. */
export function editableRows(labels) {
  return el("tbody", {}, labels.map(editableRow));
}

/** Append a new, empty label row to an editor's <tbody>. */
export function appendRow(tbody) {
  const index = tbody.querySelectorAll("tr[data-index]").length;
  const row = editableRow({ name: "", colour: nextColour(index), is_context: false }, index);
  tbody.append(row);
  row.querySelector("input[name=name]").focus();
}

/** The read-only taxonomy table of a model. */
export function taxonomyTable(labels, body = null) {
  const rows = body || el("tbody", {}, labels.map((label) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = label.colour;
    return el("tr", { dataset: { label: label.name } },
      el("td", { class: "num muted" }, String(label.index)),
      el("td", {}, swatch, el("span", { class: "sr-only" }, label.colour)),
      el("td", {}, label.name),
      el("td", {}, label.is_context ? el("span", { class: "badge", title: "Host label: its unchanged pixels stay out of edit regions" }, "context") : ""));
  }));
  return el("table", { class: "table taxonomy" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", class: "num" }, "#"), el("th", { scope: "col" }, "Colour"),
      el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Context"))), rows);
}
