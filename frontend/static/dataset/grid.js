// The Dataset page's image cards: photo (and its reconstruction), annotation state, latent state, jobs.

import { JobProgress } from "../lib/jobs.js";
import { el, formatTime } from "../lib/ui.js";

// Below this PSNR the reconstruction differs visibly from the photo and edits may not be faithful
// (docs/model_card.md, "Embedding": ~24 dB in-domain, ~18 dB for out-of-domain photos).
export const LOW_PSNR_DB = 20;

export const ANNOTATION_WORDS = { none: "not annotated", draft: "draft", done: "done" };

/** The annotation page of an image. */
export function annotateUrl(image) {
  return `/images/${image.id}/annotate/`;
}

/** Whether an image's reconstruction is too far from its photo for faithful edits. */
export function reconstructionIsFar(image) {
  const psnr = image.embedding_metrics && image.embedding_metrics.psnr;
  return image.source === "upload" && typeof psnr === "number" && psnr < LOW_PSNR_DB;
}

function picture(src, alt, caption) {
  return el("figure", { class: "thumb-figure" },
    src ? el("img", { src, alt, width: "128", height: "128", loading: "lazy" })
      : el("div", { class: "thumb-missing", role: "img", "aria-label": alt }, "rendering…"),
    caption ? el("figcaption", {}, caption) : null);
}

function placeholder(text) {
  return el("figure", { class: "thumb-figure" }, el("div", { class: "thumb-empty" }, text));
}

function annotationLine(annotation) {
  if (annotation.state === "none") return "No annotation yet";
  const who = annotation.author ? ` by ${annotation.author}` : "";
  return `v${annotation.version}${who} · ${formatTime(annotation.saved_at)}`;
}

function sourceLine(image) {
  if (image.source === "sample") return `sampled · seed ${image.seed} · ψ ${Number(image.truncation_psi).toFixed(2)}`;
  const size = image.original_width ? ` · ${image.original_width}×${image.original_height}` : "";
  return `uploaded${size}`;
}

/**
 * One image card. `job` is the image's running embed/render job (or null); `actions` are the
 * page's callbacks: embed(image, button), onJobDone(image, state).
 */
export function imageCard(image, { job, canEdit, canAnnotate, actions }) {
  const psnr = image.embedding_metrics && image.embedding_metrics.psnr;
  const name = image.name || `image ${image.id}`;
  const state = image.annotation.state;
  // Two pictures on every card: the photo, and beside it the reconstruction (uploads) or the parts.
  const pictures = [picture(image.files.normalized, `${name}: photo`, "photo")];
  if (image.source === "upload") {
    pictures.push(image.files.reconstruction
      ? picture(image.files.reconstruction, `${name}: reconstruction`, `rebuilt · ${Number(psnr).toFixed(1)} dB`)
      : placeholder(image.status === "failed" ? "no reconstruction" : "reconstruction after embedding"));
  } else if (state !== "none") {
    // The current annotation as an indexed PNG: its palette is the taxonomy's colours.
    pictures.push(picture(`/api/images/${image.id}/annotation.png?v=${image.annotation.version}`,
      `${name}: part labels`, `parts · v${image.annotation.version}`));
  } else {
    pictures.push(placeholder("no parts yet"));
  }
  const card = el("article", { class: "card image-card", dataset: { imageId: String(image.id), annotation: state,
    status: image.status } });
  const link = el("a", { class: "thumbs", href: annotateUrl(image),
    "aria-label": `${canAnnotate ? "Annotate" : "Open"} ${image.name || `image ${image.id}`}` }, pictures);
  const body = el("div", { class: "card-body" },
    el("div", { class: "card-title" }, el("h3", {}, image.name || `Image ${image.id}`),
      el("span", { class: `badge annotation-${state}` }, ANNOTATION_WORDS[state])),
    el("p", { class: "hint annotation-line" }, annotationLine(image.annotation)),
    el("p", { class: "hint" }, sourceLine(image)));
  if (reconstructionIsFar(image)) {
    body.append(el("p", { class: "alert warn small reconstruction-warning", role: "note" },
      `The reconstruction is far from the photo (${Number(psnr).toFixed(1)} dB): edits may not be faithful.`));
  }
  if (image.status === "failed") {
    body.append(el("p", { class: "alert error small" }, image.status_message || "Embedding failed."));
  }
  if (job) {
    const progress = new JobProgress(job, { canCancel: canEdit, onDone: (final) => actions.onJobDone(image, final) });
    body.append(progress.element);
    card.jobProgress = progress;
  } else if (image.status === "pending" && image.source === "sample") {
    body.append(el("p", { class: "hint" }, "waiting for its render…"));
  }
  const buttons = el("div", { class: "card-actions" },
    el("a", { class: `button small${canAnnotate ? " primary" : ""}`, href: annotateUrl(image) },
      canAnnotate ? "Annotate" : "View"));
  if (canEdit && image.source === "upload" && !job) {
    const embed = el("button", { type: "button", class: "button small ghost" },
      image.files.latent ? "Embed again" : "Embed");
    embed.addEventListener("click", () => actions.embed(image, embed));
    buttons.append(embed);
  }
  body.append(buttons);
  card.append(link, body);
  return card;
}
