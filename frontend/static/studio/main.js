// The edit studio: one live session. The server is authoritative (docs/protocol.md, "Edit
// session"): this page applies its own changes at once, sends them as stack operations, and
// redraws from the server's state and frames. Mask repaint uses the shared canvas modules.

import { csrfToken, errorFromResponse, getJson, listAll } from "../lib/api.js";
import { JobProgress } from "../lib/jobs.js";
import { ReconnectingSocket, socketUrl } from "../lib/socket.js";
import { el, showError, toast } from "../lib/ui.js";
import { Editor } from "../canvas/editor.js";
import { isTypingTarget } from "../canvas/keymap.js";
import { LabelMask } from "../canvas/mask.js";
import { decodeMaskPng, encodeMaskPng } from "../canvas/png.js";
import { toBase64 } from "../canvas/storage.js";
import { MaskView, buildPalette } from "../canvas/view.js";
import { SessionState } from "./session_state.js";
import { StackPanel } from "./stack.js";

const data = JSON.parse(document.getElementById("session-data").textContent);
const resolution = data.model.resolution;
const state = new SessionState();
const $ = (id) => document.getElementById(id);
const jobs = new Map(); // job id -> {progress, entry}
let socket = null;
let nextFrame = null; // the header of the binary message expected next
let afterUrl = null;
let painted = false;

// --- compare view (after / before / split with a draggable divider) ---------------------------
const compare = $("compare");
function setView(view) {
  compare.dataset.view = view;
  for (const button of document.querySelectorAll("[data-view]")) button.setAttribute("aria-pressed", String(button.dataset.view === view));
}
function setSplit(percent) {
  const value = Math.min(100, Math.max(0, percent));
  compare.style.setProperty("--split", `${value}%`);
  $("divider").setAttribute("aria-valuenow", String(Math.round(value)));
}
for (const button of document.querySelectorAll("[data-view]")) button.addEventListener("click", () => setView(button.dataset.view));
$("divider").addEventListener("pointerdown", (event) => {
  const divider = event.currentTarget;
  divider.setPointerCapture(event.pointerId);
  const move = (moved) => {
    const box = compare.getBoundingClientRect();
    setSplit(((moved.clientX - box.left) / box.width) * 100);
  };
  divider.addEventListener("pointermove", move);
  divider.addEventListener("pointerup", () => divider.removeEventListener("pointermove", move), { once: true });
});
$("divider").addEventListener("keydown", (event) => {
  const now = Number($("divider").getAttribute("aria-valuenow"));
  if (event.key === "ArrowLeft") setSplit(now - 5);
  if (event.key === "ArrowRight") setSplit(now + 5);
});
setSplit(50);

// --- segmentation and mask repaint (shared canvas modules) -------------------------------------
const palette = buildPalette(data.model.labels.map((label) => label.colour), { backgroundVisible: true });
const maskCanvas = $("mask-canvas");
const view = new MaskView(maskCanvas.getContext("2d"), new LabelMask(resolution, resolution), palette);
const editor = new Editor(view.mask, { labelCount: data.model.labels.length, onChange: (rect) => view.paint(rect) });
let segmentationRevision = null;

function showSegmentation(mask, revision) {
  if (painted) return; // keep the user's repaint until it is added or undone
  editor.load(mask);
  view.setMask(mask);
  segmentationRevision = revision;
  $("mask-state").textContent = `of revision ${revision}`;
}

function maskPoint(event) {
  const box = maskCanvas.getBoundingClientRect();
  return [((event.clientX - box.left) / box.width) * resolution, ((event.clientY - box.top) / box.height) * resolution];
}

if (data.can_edit) {
  const select = $("paint-label");
  select.replaceChildren(...data.model.labels.map((label) => el("option", { value: String(label.index) }, label.name)));
  select.value = String(editor.label);
  select.addEventListener("change", () => editor.setLabel(Number(select.value)));
  $("paint-size").addEventListener("change", (event) => editor.setSize(Number(event.target.value)));
  editor.setSize(3);
  for (const button of document.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => {
      editor.setTool(button.dataset.tool);
      for (const other of document.querySelectorAll("[data-tool]")) other.setAttribute("aria-pressed", String(other === button));
      sendPresence(button.dataset.tool, null);
    });
  }
  const stage = $("mask-stage");
  stage.addEventListener("contextmenu", (event) => event.preventDefault());
  stage.addEventListener("pointerdown", (event) => {
    if (segmentationRevision === null) { toast("Press Segment first: you repaint the parts the branch sees."); return; }
    stage.setPointerCapture(event.pointerId);
    editor.pointerDown(...maskPoint(event), { erase: event.button === 2 });
    markPainted();
  });
  stage.addEventListener("pointermove", (event) => {
    if (event.buttons) editor.pointerMove(...maskPoint(event));
    const [x, y] = maskPoint(event);
    sendPresence(editor.tool, [Math.min(1, Math.max(0, x / resolution)), Math.min(1, Math.max(0, y / resolution))]);
  });
  stage.addEventListener("pointerup", () => { editor.pointerUp(); markPainted(); });
  $("undo-paint").addEventListener("click", () => { editor.undo(); });
  $("segment").addEventListener("click", () => send({ type: "segment" }));
  $("add-mask-edit").addEventListener("click", addMaskEdit);
}

function markPainted() {
  painted = true;
  $("add-mask-edit").disabled = false;
  $("mask-state").textContent = `repainted (from revision ${segmentationRevision})`;
}

async function addMaskEdit() {
  const png = await encodeMaskPng(editor.mask);
  send({ ...state.operation("add_mask_edit", { mask_png: toBase64(png) }), base_revision: segmentationRevision });
  painted = false;
  $("add-mask-edit").disabled = true;
  $("mask-state").textContent = "sent as a mask edit; segment again to repaint";
}

// --- stack, library and jobs ------------------------------------------------------------------
const stack = new StackPanel($("stack"), {
  canEdit: data.can_edit,
  onChange: (entry, property, value) => send(state.change(entry, property, value)),
  onRemove: (entry) => send(state.operation("remove", { entry })),
  onJob: (kind, entry, steps) => send({ type: kind, entry, steps }),
});

async function loadLibrary() {
  const vectors = await listAll("/api/vectors/", { model: data.model.id });
  for (const vector of vectors) stack.vectors.set(vector.id, vector);
  const choice = $("vector-choice");
  if (choice) {
    choice.replaceChildren(el("option", { value: "" }, "Add a library vector…"),
      ...vectors.map((vector) => el("option", { value: String(vector.id) }, vector.name)));
    const wanted = new URLSearchParams(location.search).get("apply");
    if (wanted && stack.vectors.has(Number(wanted))) choice.value = wanted;
  }
  renderStack();
}

function renderStack() {
  const entries = state.entries();
  const running = new Map([...jobs.values()].filter((job) => job.running).map((job) => [job.entry, job]));
  stack.render(entries, running);
  $("stack-count").textContent = `${entries.length} edit${entries.length === 1 ? "" : "s"}`;
  $("revision").textContent = `rev ${state.revision}`;
}

async function followJob(jobId, entry) {
  if (jobs.has(jobId)) { // announced again (ack, then job_started): learn its entry
    if (entry !== null) { jobs.get(jobId).entry = entry; renderStack(); }
    return;
  }
  const record = { entry, running: true };
  jobs.set(jobId, record);
  const job = await getJson(`/api/jobs/${jobId}/`);
  record.progress = new JobProgress(job, { canCancel: data.can_edit, onDone: (done) => {
    record.running = false;
    if (done.status === "succeeded") toast("The job finished; its vector is in the library.", "ok");
    loadLibrary().catch(showError);
  } });
  $("no-jobs").hidden = true;
  $("jobs").prepend(record.progress.element);
  renderStack();
}

if ($("add-vector")) {
  $("add-vector").addEventListener("submit", (event) => {
    event.preventDefault();
    const vector = Number($("vector-choice").value);
    if (vector) send(state.operation("add_vector", { vector }));
  });
}
if ($("save-vector")) {
  $("save-vector").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const tags = form.elements.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean);
    send({ type: "save_vector", name: form.elements.name.value.trim(), tags, request_id: Date.now() });
    form.reset();
  });
}

// --- participants ----------------------------------------------------------------------------
const participants = new Map();
function renderParticipants() {
  $("participants").replaceChildren(...[...participants.values()].map((client) => {
    const dot = el("span", { class: "presence-dot" });
    dot.style.background = client.colour;
    return el("li", { class: "participant", title: `${client.user} (${client.role})${client.tool ? ` · ${client.tool}` : ""}` },
      dot, client.user, client.self ? el("span", { class: "hint" }, " (you)") : null);
  }));
}
let presenceTimer = null;
function sendPresence(tool, pointer) {
  if (presenceTimer) return;
  presenceTimer = setTimeout(() => { presenceTimer = null; }, 100);
  send({ type: "presence", tool, pointer });
}

// --- the socket -----------------------------------------------------------------------------
function send(message) {
  if (!socket || !socket.send(JSON.stringify(message))) toast("Not connected; the change was not sent.", "error");
}

function onMessage(raw) {
  if (typeof raw !== "string") { onBinary(raw); return; }
  const message = JSON.parse(raw);
  if (message.type === "state" || message.type === "stack") {
    state.receive(message.session);
    if (message.type === "state") {
      participants.clear();
      participants.set(message.you.client_id, { ...message.you, self: true });
      renderParticipants();
      for (const job of message.jobs) followJob(job.job_id, null).catch(showError);
    }
    renderStack();
  } else if (message.type === "frame") {
    nextFrame = message;
  } else if (message.type === "ack") {
    if (message.op_id) state.settle(message.op_id);
    if (message.vector) toast("Saved to the library.", "ok");
    if (message.job) followJob(message.job, null).catch(showError);
  } else if (message.type === "error") {
    if (message.code === "stale_revision") toast("The stack changed meanwhile: segment again and repaint.", "error");
    else toast(`${message.message} (${message.code})`, "error");
    send({ type: "sync" });
  } else if (message.type === "presence") {
    if (message.event === "leave") participants.delete(message.client.client_id);
    else participants.set(message.client.client_id, message.client);
    renderParticipants();
  } else if (message.type === "job_started") {
    followJob(message.job, message.entry).catch(showError);
  } else if (message.type === "library" || message.type === "vector_ready") {
    loadLibrary().catch(showError);
  } else if (message.type === "render_failed") {
    $("frame-info").textContent = `render failed: ${message.message}`;
  }
}

async function onBinary(blob) {
  const header = nextFrame;
  nextFrame = null;
  if (!header) return;
  if (header.kind === "job_preview") {
    const record = jobs.get(header.job);
    if (!record || !record.progress) return;
    if (!record.preview) {
      record.preview = el("img", { class: "job-preview", alt: "The optimisation's current image" });
      record.progress.element.append(record.preview);
    }
    if (record.preview.src) URL.revokeObjectURL(record.preview.src);
    record.preview.src = URL.createObjectURL(blob);
    record.preview.title = `step ${header.step} of ${header.total}`;
    return;
  }
  if (header.kind === "segmentation") {
    showSegmentation(await decodeMaskPng(new Uint8Array(await blob.arrayBuffer())), header.revision);
    $("mask-under").src = afterUrl || "";
    return;
  }
  if (!state.acceptFrame(header.revision)) return;
  const url = URL.createObjectURL(blob);
  $("after-image").src = url;
  if (afterUrl) URL.revokeObjectURL(afterUrl);
  afterUrl = url;
  $("after-image").dataset.revision = String(header.revision);
  $("frame-info").textContent = `revision ${header.revision} · ${header.render_ms} ms`;
}

function connect() {
  socket = new ReconnectingSocket(socketUrl(data.socket), {
    onMessage,
    onStatus: (text) => { $("connection").textContent = text; $("connection").dataset.state = text.startsWith("connected") ? "saved" : "dirty"; },
    onClose: (event, willReconnect) => {
      if (!willReconnect) $("connection").textContent = "You no longer have access to this session.";
    },
  });
}

// --- export and keyboard ----------------------------------------------------------------------
$("export-png").addEventListener("click", () => exportPng().catch((error) => showError(error, "Export failed")));

function download(url, name) {
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

/** The frame as PNG; for an uploaded photo, the server blends it into the full-resolution original. */
async function exportPng() {
  if (!afterUrl) { toast("No frame yet."); return; }
  const name = `session-${data.session.id}-rev${state.shownFrame}`;
  if (data.image.source !== "upload") { download(afterUrl, `${name}.png`); return; }
  toast("Blending the edit into the full-resolution photo…");
  const form = new FormData();
  form.append("edited", await (await fetch(afterUrl)).blob(), "frame.png");
  const response = await fetch(`/api/sessions/${data.session.id}/export/`, { method: "POST", body: form,
    credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } });
  if (!response.ok) throw errorFromResponse(response.status, await response.json().catch(() => ({})));
  const url = URL.createObjectURL(await response.blob());
  download(url, `${name}-full.png`);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

document.addEventListener("keydown", (event) => {
  if (isTypingTarget(event.target)) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "e") { event.preventDefault(); exportPng(); return; }
  if ((event.ctrlKey || event.metaKey) && key === "z" && data.can_edit) { event.preventDefault(); editor.undo(); return; }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (key === "a") setView("after");
  else if (key === "b") setView("before");
  else if (key === "s") setView("split");
  else if (key === "g" && data.can_edit) send({ type: "segment" });
  else if (key === "[" && data.can_edit) editor.setSize(editor.size - 1);
  else if (key === "]" && data.can_edit) editor.setSize(editor.size + 1);
});

loadLibrary().catch(showError);
connect();
