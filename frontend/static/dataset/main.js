// The Dataset page: the model's images with annotation state, sampling, uploads with a crop box,
// embedding progress on the cards, and branch training.

import { getJson, listAll, postForm, postJson } from "../lib/api.js";
import { emptyState, errorState, pageContext, showError, toast } from "../lib/ui.js";
import { CropBox } from "./crop.js";
import { imageCard } from "./grid.js";
import { setUpMostUncertain } from "./next.js";
import { TrainingPanel, defaultHeldOut } from "./training.js";

const context = pageContext();
const modelId = Number(document.body.dataset.model);
const recommended = Number(document.body.dataset.recommended);
const grid = document.getElementById("image-grid");
const filters = document.getElementById("image-filters");
const IMAGE_JOB_TYPES = new Set(["embed_image", "render"]);
let model = null;
let cards = [];
let counts = { total: 0, done: 0, draft: 0, ready: 0 };
let retryTimer = null;
const RETRY_MS = 2000;

/** Running or queued embed/render jobs of the team, by image id. */
async function activeImageJobs() {
  const jobs = new Map();
  for (const status of ["running", "queued"]) {
    const page = await getJson("/api/jobs/", { team: context.team, status, page_size: 200 });
    for (const job of page.results) {
      if (IMAGE_JOB_TYPES.has(job.type) && job.parameters.image) jobs.set(job.parameters.image, job);
    }
  }
  return jobs;
}

async function count(query) {
  const page = await getJson("/api/images/", { model: modelId, page_size: 1, ...query });
  return page.count;
}

async function refreshCounts() {
  const [total, done, draft, ready] = await Promise.all([count({}), count({ annotation: "done" }),
    count({ annotation: "draft" }), count({ status: "ready" })]);
  counts = { total, done, draft, ready };
  document.getElementById("annotated-count").textContent = String(done);
  const bar = document.getElementById("annotated-progress");
  bar.value = Math.min(done, recommended);
  const notes = [`${total} image${total === 1 ? "" : "s"}`, `${draft} draft${draft === 1 ? "" : "s"}`,
    `${ready} with a latent`];
  if (done >= recommended) notes.push("enough to train a good branch");
  document.getElementById("dataset-counts").textContent = notes.join(" · ");
}

function filterQuery() {
  const values = Object.fromEntries(new FormData(filters).entries());
  return { model: modelId, ...values };
}

function cardFor(image, jobs) {
  return imageCard(image, { job: jobs.get(image.id) || null, canEdit: context.canEdit,
    canAnnotate: context.canAnnotate, actions: { embed, onJobDone } });
}

async function loadImages() {
  try {
    const [images, jobs] = await Promise.all([listAll("/api/images/", filterQuery()), activeImageJobs()]);
    for (const card of cards) if (card.jobProgress) card.jobProgress.close();
    if (!images.length) {
      const filtered = Object.values(Object.fromEntries(new FormData(filters).entries())).some(Boolean);
      emptyState(grid, filtered ? "No image matches these filters" : "No images yet",
        filtered ? "Change or clear a filter." : context.canEdit
          ? "Sample images from the generator or upload photos to start the dataset."
          : "An editor of this team adds images by sampling the generator or uploading photos.");
      cards = [];
      return;
    }
    cards = images.map((image) => cardFor(image, jobs));
    grid.replaceChildren(...cards);
    // A job that ended between the two requests above left its image without a job to follow.
    const waiting = images.some((image) => !jobs.has(image.id)
      && (image.status === "processing" || (image.source === "sample" && !image.files.normalized)));
    clearTimeout(retryTimer);
    if (waiting) retryTimer = setTimeout(loadImages, RETRY_MS);
  } catch (error) {
    errorState(grid, "Could not load the images.", error);
  }
}

async function replaceCard(imageId) {
  const old = grid.querySelector(`[data-image-id="${imageId}"]`);
  if (!old) return;
  try {
    const [image, jobs] = await Promise.all([getJson(`/api/images/${imageId}/`), activeImageJobs()]);
    const card = cardFor(image, jobs);
    old.replaceWith(card);
    cards = cards.map((existing) => (existing === old ? card : existing));
  } catch (error) {
    showError(error, "Could not refresh an image");
  }
}

function onJobDone(image, state) {
  if (state.status === "failed") showError({ message: state.error }, `Job for ${image.name || `image ${image.id}`} failed`);
  replaceCard(image.id);
  refreshCounts().catch(() => {});
}

async function embed(image, button, steps = 100) {
  button.disabled = true;
  try {
    await postJson("/api/jobs/", { team: context.team, type: "embed_image", parameters: { image: image.id, steps } });
    await replaceCard(image.id);
  } catch (error) {
    button.disabled = false;
    showError(error, "Could not start the embedding");
  }
}

function dialog(id, opener) {
  const element = document.getElementById(id);
  document.getElementById(opener).addEventListener("click", () => element.showModal());
  for (const close of element.querySelectorAll("[data-close]")) close.addEventListener("click", () => element.close());
  return element;
}

function setUpSampling() {
  const sampleDialog = dialog("sample-dialog", "open-sample");
  const form = document.getElementById("sample-form");
  form.elements.seed.value = String(Math.floor(Math.random() * 100000));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const countWanted = Number(form.elements.count.value);
    const first = Number(form.elements.seed.value);
    const psi = Number(form.elements.psi.value);
    sampleDialog.close();
    let started = 0;
    try {
      for (let index = 0; index < countWanted; index += 1) {
        await postJson("/api/jobs/", { team: context.team, type: "render",
          parameters: { model: modelId, seed: first + index, psi } });
        started += 1;
      }
      toast(`Sampling ${started} image${started === 1 ? "" : "s"}…`, "success");
    } catch (error) {
      showError(error, `Sampling stopped after ${started}`);
    }
    form.elements.seed.value = String(first + countWanted);
    await Promise.all([loadImages(), refreshCounts()]);
  });
}

function setUpUpload() {
  const uploadDialog = dialog("upload-dialog", "open-upload");
  const files = document.getElementById("upload-files");
  const area = document.getElementById("crop-area");
  const caption = document.getElementById("crop-caption");
  const submit = document.getElementById("upload-submit");
  const skip = document.getElementById("upload-skip");
  const nameInput = document.getElementById("upload-name");
  let queue = [];
  const crop = new CropBox(document.getElementById("crop-canvas"), document.getElementById("crop-size"),
    (box) => { caption.textContent = `${queue[0] ? queue[0].name : ""}: crop ${box.size}×${box.size} px at (${box.x}, ${box.y})`; });
  document.getElementById("upload-resolution").textContent = String(model.resolution);

  async function showNext() {
    submit.disabled = true;
    skip.hidden = queue.length < 2;
    if (!queue.length) {
      area.hidden = true;
      files.value = "";
      return;
    }
    try {
      const bitmap = await createImageBitmap(queue[0]);
      area.hidden = false;
      nameInput.value = queue[0].name.replace(/\.[^.]+$/, "");
      crop.load(bitmap);
      submit.disabled = false;
      document.getElementById("crop-canvas").focus();
    } catch (error) {
      showError({ message: `${queue[0].name} is not an image this browser can read.` });
      queue.shift();
      showNext();
    }
  }

  files.addEventListener("change", () => { queue = [...files.files]; showNext(); });
  skip.addEventListener("click", () => { queue.shift(); showNext(); });
  uploadDialog.addEventListener("close", () => { queue = []; area.hidden = true; files.value = ""; });
  document.getElementById("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = queue[0];
    if (!file || !crop.box) return;
    submit.disabled = true;
    const form = new FormData();
    form.append("model", String(modelId));
    form.append("file", file);
    form.append("name", nameInput.value.trim());
    form.append("crop_x", String(crop.box.x));
    form.append("crop_y", String(crop.box.y));
    form.append("crop_size", String(crop.box.size));
    try {
      const image = await postForm("/api/images/", form);
      const steps = Number(document.getElementById("upload-steps").value);
      try {
        await postJson("/api/jobs/", { team: context.team, type: "embed_image", parameters: { image: image.id, steps } });
      } catch (error) {
        showError(error, `${file.name} was uploaded, but its embedding did not start (use “Embed” on its card)`);
      }
      toast(`${file.name} uploaded.`, "success");
      queue.shift();
      await Promise.all([loadImages(), refreshCounts()]);
      if (queue.length) showNext();
      else uploadDialog.close();
    } catch (error) {
      submit.disabled = false;
      showError(error, `Could not upload ${file.name}`);
    }
  });
}

function setUpTraining(panel) {
  const trainDialog = dialog("train-dialog", "open-train");
  const form = document.getElementById("train-form");
  document.getElementById("open-train").addEventListener("click", () => {
    const annotated = counts.done + counts.draft;
    form.elements.held_out.value = String(defaultHeldOut(annotated));
    form.elements.held_out.max = String(Math.max(0, annotated - 1));
    document.getElementById("train-summary").textContent = annotated
      ? `Trains on the current version of each annotated image: ${annotated} (${counts.done} done, ${counts.draft} drafts).`
      : "No image is annotated yet: annotate a few images first.";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    trainDialog.close();
    try {
      await panel.start(Number(form.elements.held_out.value), Number(form.elements.steps.value));
      panel.section.scrollIntoView({ behavior: "smooth", block: "nearest" });
    } catch (error) {
      showError(error, "Could not start the training");
    }
  });
}

/** Images added or annotated by teammates show up without a reload (checked every 15 s). */
function watchForChanges() {
  setInterval(async () => {
    if (document.visibilityState !== "visible" || document.querySelector("dialog[open]")) return;
    const before = JSON.stringify(counts);
    await refreshCounts().catch(() => {});
    if (JSON.stringify(counts) !== before) await loadImages();
  }, 15000);
}

async function start() {
  if (!modelId) return;
  try {
    model = await getJson(`/api/models/${modelId}/`);
  } catch (error) {
    errorState(grid, "Could not load the model.", error);
    return;
  }
  const panel = new TrainingPanel(document.getElementById("training"), { team: context.team, model,
    canEdit: context.canEdit });
  if (context.canEdit) {
    setUpSampling();
    setUpUpload();
    setUpTraining(panel);
  }
  const nextButton = document.getElementById("most-uncertain");
  if (nextButton) {
    setUpMostUncertain({ button: nextButton, status: document.getElementById("most-uncertain-status"),
      team: context.team, modelId });
  }
  filters.addEventListener("change", loadImages);
  document.getElementById("model-select").addEventListener("change", (event) => event.target.form.requestSubmit());
  await Promise.all([loadImages(), refreshCounts().catch((error) => showError(error)),
    panel.showLatest().catch((error) => showError(error, "Could not load the latest training"))]);
  watchForChanges();
}

start();
