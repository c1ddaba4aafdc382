// The Library page: the team's edit vectors as a filterable grid (text, model, part, tag,
// author) with before/after thumbnails, provenance, the loss curve, usage count and
// "Apply to image", which opens an edit session with the vector in its stack.

import { getJson, listAll, postJson } from "../lib/api.js";
import { el, emptyState, errorState, formatTime, pageContext, showError } from "../lib/ui.js";
import { applicableTo, curvePoints, provenanceText, stripScales } from "./provenance.js";

const context = pageContext();
const container = document.getElementById("vectors");
const filters = document.getElementById("vector-filters");
const models = new Map();
const SVG = "http://www.w3.org/2000/svg";

function thumbnail(src, alt) {
  return src ? el("img", { src, alt, width: "112", height: "112", loading: "lazy" })
    : el("div", { class: "thumb-missing" }, "no preview");
}

function lossChart(curve) {
  const points = curvePoints(curve, 120, 28);
  if (!points) return null;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("class", "loss-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Loss over ${curve.length} steps, from ${curve[0]} to ${curve[curve.length - 1]}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  return el("div", { class: "loss" }, el("span", { class: "hint" }, "loss"), svg);
}

// A strength strip is rendered once per vector by a worker: 202 until it exists, then the PNG.
async function loadStrip(image, url, attempt = 0) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (response.status === 202 && attempt < 40) {
    setTimeout(() => loadStrip(image, url, attempt + 1).catch(() => {}), 1500);
    return;
  }
  if (!response.ok) { image.closest(".strip").hidden = true; return; }
  image.src = URL.createObjectURL(await response.blob());
}

function strip(vector) {
  const image = el("img", { alt: `${vector.name} at strengths ${stripScales(vector).join(", ")}`, class: "strip-image" });
  loadStrip(image, vector.files.strip).catch(() => { image.closest(".strip").hidden = true; });
  return el("figure", { class: "strip" }, image,
    el("figcaption", { class: "strip-scales" }, stripScales(vector).map((scale) => el("span", {}, scale > 0 ? `+${scale}` : String(scale)))));
}

function card(vector) {
  const model = models.get(vector.model);
  const labels = vector.labels.filter((label) => !label.is_context).map((label) =>
    el("span", { class: "badge" }, el("span", { class: "swatch", dataset: { colour: label.colour } }), label.name));
  const apply = applicableTo(vector, model) && context.canEdit
    ? el("button", { type: "button", class: "button small primary", onclick: () => openApply(vector) }, "Apply to image")
    : el("span", { class: "hint" }, model && model.is_active === false ? "its model is retired" : "");
  return el("article", { class: "card vector-card", dataset: { vectorId: String(vector.id) } },
    el("div", { class: "before-after" },
      el("figure", {}, thumbnail(vector.files.before, `${vector.name}: before`), el("figcaption", {}, "before")),
      el("figure", {}, thumbnail(vector.files.after, `${vector.name}: after`), el("figcaption", {}, "after"))),
    el("div", { class: "vector-body" },
      el("div", { class: "vector-title" }, el("h3", {}, vector.name),
        el("span", { class: "badge", title: "Times applied in sessions" }, `used ${vector.usage_count}×`)),
      vector.description ? el("p", { class: "muted" }, vector.description) : null,
      strip(vector),
      el("div", { class: "row tags" }, labels, vector.tags.map((tag) => el("span", { class: "badge tag" }, `#${tag}`))),
      el("p", { class: "hint provenance" }, provenanceText(vector)),
      el("p", { class: "hint" }, `${model ? model.name : `model ${vector.model}`} · scale ${vector.min_scale} … ${vector.max_scale}`,
        vector.author ? ` · by ${vector.author}` : "", ` · ${formatTime(vector.created_at)}`),
      el("div", { class: "vector-foot" }, lossChart(vector.loss_curve), apply)));
}

async function loadFilters() {
  const [teamModels, tags] = await Promise.all([listAll("/api/models/", { team: context.team }),
    listAll("/api/tags/", { team: context.team })]);
  for (const model of teamModels) models.set(model.id, model);
  filters.elements.model.append(...teamModels.map((model) => el("option", { value: String(model.id) }, model.name)));
  const labelNames = [...new Set(teamModels.flatMap((model) => model.labels.filter((label) => !label.is_context)
    .map((label) => label.name)))];
  filters.elements.label.append(...labelNames.map((name) => el("option", { value: name }, name)));
  filters.elements.tag.append(...tags.map((tag) => el("option", { value: tag.name }, `${tag.name} (${tag.vector_count})`)));
}

async function load() {
  const form = filters.elements;
  const query = { team: context.team, q: form.q.value.trim(), model: form.model.value, label: form.label.value,
    tag: form.tag.value, author: form.author.value.trim() };
  try {
    const vectors = await listAll("/api/vectors/", query);
    document.getElementById("vector-count").textContent = `${vectors.length} vector${vectors.length === 1 ? "" : "s"}`;
    if (!vectors.length) {
      const filtered = query.q || query.label || query.tag || query.author || query.model;
      emptyState(container, filtered ? "No vector matches these filters" : "The library is empty",
        filtered ? "Clear a filter to see more." : "Vectors are added when an edit is optimised in a session, or uploaded over the API.");
      return;
    }
    container.replaceChildren(...vectors.map(card));
    for (const swatch of container.querySelectorAll(".swatch[data-colour]")) swatch.style.background = swatch.dataset.colour;
  } catch (error) {
    errorState(container, "Could not load the library.", error);
  }
}

// --- apply to an image: choose an image of the vector's model, open a session with it ---------
const dialog = document.getElementById("apply-dialog");
let applying = null;
let chosenImage = null;

async function openApply(vector) {
  applying = vector;
  chosenImage = null;
  document.getElementById("apply-open").disabled = true;
  document.getElementById("apply-summary").textContent =
    `“${vector.name}” applies to images of ${models.get(vector.model).name} only. Pick one:`;
  const list = document.getElementById("apply-images");
  list.replaceChildren(el("p", { class: "loading" }, "Loading images…"));
  dialog.showModal();
  try {
    const images = (await listAll("/api/images/", { team: context.team, model: vector.model, status: "ready" }));
    if (!images.length) { list.replaceChildren(el("p", { class: "muted" }, "No ready image of this model yet: sample or upload one on the Dataset page.")); return; }
    list.replaceChildren(...images.map((image) => el("button", { type: "button", class: "apply-image", role: "radio",
      "aria-checked": "false", title: image.name || `Image ${image.id}`, onclick: (event) => {
        chosenImage = image.id;
        for (const other of list.children) other.setAttribute("aria-checked", String(other === event.currentTarget));
        document.getElementById("apply-open").disabled = false;
      } }, el("img", { src: `/api/images/${image.id}/normalized/`, alt: image.name || `Image ${image.id}`, width: "72", height: "72" }))));
  } catch (error) {
    showError(error, "Could not load the images");
  }
}

document.getElementById("apply-cancel").addEventListener("click", () => dialog.close());
document.getElementById("apply-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!applying || !chosenImage) return;
  try {
    const session = await postJson("/api/sessions/", { image: chosenImage, title: applying.name });
    await postJson(`/api/sessions/${session.id}/entries/`, { base_revision: session.revision, vector: applying.id,
      scale: applying.default_scale });
    location.assign(`/sessions/${session.id}/`);
  } catch (error) {
    showError(error, "Could not open a session");
  }
});

filters.addEventListener("submit", (event) => { event.preventDefault(); load(); });
filters.addEventListener("change", () => load());
loadFilters().catch((error) => showError(error, "Could not load the filters")).finally(load);
