// The Sessions page: the team's edit sessions with their image, participants and stack size.

import { getJson } from "../lib/api.js";
import { el, emptyState, errorState, formatTime, pageContext } from "../lib/ui.js";

const context = pageContext();
const container = document.getElementById("sessions");

function row(session) {
  return el("tr", { dataset: { sessionId: String(session.id) } },
    el("td", {}, el("img", { class: "thumb", src: `/api/images/${session.image}/normalized/`, alt: "", width: "40",
      height: "40", loading: "lazy" })),
    el("td", {}, el("a", { href: `/sessions/${session.id}/` }, el("strong", {}, session.title || `Session ${session.id}`))),
    el("td", {}, session.participants.join(", ") || "—"),
    el("td", { class: "num" }, String(session.entries.length)),
    el("td", { class: "num" }, String(session.revision)),
    el("td", {}, formatTime(session.updated_at)));
}

async function load() {
  try {
    const page = await getJson("/api/sessions/", { team: context.team });
    if (!page.results.length) {
      emptyState(container, "No edit sessions yet", "Open one from the Library (“Apply to image”): the team then edits the image together, live.");
      return;
    }
    container.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, ""), el("th", { scope: "col" }, "Title"),
        el("th", { scope: "col" }, "Participants"), el("th", { scope: "col", class: "num" }, "Edits"),
        el("th", { scope: "col", class: "num" }, "Revision"), el("th", { scope: "col" }, "Updated"))),
      el("tbody", {}, page.results.map(row)))));
  } catch (error) {
    errorState(container, "Could not load the sessions.", error);
  }
}

load();
