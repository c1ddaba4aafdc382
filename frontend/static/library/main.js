// The Library page: the team's edit vectors with before/after thumbnails, filtered by part, tag or text.

import { getJson } from "../lib/api.js";
import { el, emptyState, errorState, formatTime, pageContext } from "../lib/ui.js";

const context = pageContext();
const container = document.getElementById("vectors");
const filters = document.getElementById("vector-filters");

function thumbnail(src, alt) {
  return src ? el("img", { src, alt, width: "96", height: "96", loading: "lazy" })
    : el("div", { class: "thumb-missing" }, "no preview");
}

function card(vector) {
  const labels = vector.labels.map((label) =>
    el("span", { class: "badge" }, el("span", { class: "swatch", dataset: { colour: label.colour } }), label.name));
  return el("article", { class: "card vector-card", dataset: { vectorId: String(vector.id) } },
    el("div", { class: "before-after" },
      thumbnail(vector.files.before, `${vector.name}: before`), el("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      thumbnail(vector.files.after, `${vector.name}: after`)),
    el("div", { class: "vector-body" },
      el("h3", {}, vector.name),
      vector.description ? el("p", { class: "muted" }, vector.description) : null,
      el("div", { class: "row tags" }, labels, vector.tags.map((tag) => el("span", { class: "badge tag" }, `#${tag}`))),
      el("p", { class: "hint" }, `scale ${vector.min_scale} … ${vector.max_scale} (default ${vector.default_scale})`,
        ` · used ${vector.usage_count}×`, vector.author ? ` · by ${vector.author}` : "", ` · ${formatTime(vector.created_at)}`)));
}

async function load() {
  const query = { team: context.team, q: filters.elements.q.value.trim(), label: filters.elements.label.value.trim(),
    tag: filters.elements.tag.value.trim() };
  try {
    const page = await getJson("/api/vectors/", query);
    if (!page.results.length) {
      const filtered = query.q || query.label || query.tag;
      emptyState(container, filtered ? "No vector matches these filters" : "The library is empty",
        filtered ? "Clear a filter to see more." : "Vectors are added when an edit is optimised in a session, or uploaded over the API.");
      return;
    }
    container.replaceChildren(...page.results.map(card));
    for (const swatch of container.querySelectorAll(".swatch[data-colour]")) swatch.style.background = swatch.dataset.colour;
  } catch (error) {
    errorState(container, "Could not load the library.", error);
  }
}

filters.addEventListener("submit", (event) => { event.preventDefault(); load(); });
load();
