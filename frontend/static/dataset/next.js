// "Annotate the most uncertain next": the active branch's ensemble ranks the images not yet
// annotated (docs/api.md, "Which image to annotate next"); when none is scored yet, a
// score_uncertainty job runs first, with its progress shown like every job's.

import { getJson, postJson } from "../lib/api.js";
import { JobProgress } from "../lib/jobs.js";
import { showError, toast } from "../lib/ui.js";

/** The annotation page of the most uncertain scored image of the model, or null when none is scored. */
export async function mostUncertainPage(modelId) {
  const page = await getJson(`/api/models/${modelId}/uncertainty/`, { page_size: 1 });
  return page.results.length ? `/images/${page.results[0].image}/annotate/` : null;
}

/** What to tell the user when scoring cannot start, by the API's error code (null: show the error). */
export function scoringRefusal(code) {
  if (code === "nothing_to_score") return "Every image with a latent is already annotated.";
  return null;
}

/**
 * Show the button when the model has an active branch; a click opens the most uncertain image,
 * scoring the images first when needed. ``status`` receives the scoring job's progress.
 */
export async function setUpMostUncertain({ button, status, team, modelId, open = (path) => location.assign(path) }) {
  try {
    await mostUncertainPage(modelId);
  } catch (error) {
    if (error.code !== "no_branch") showError(error, "Could not rank the images");
    return;
  }
  button.hidden = false;
  const finish = async (state) => {
    button.disabled = false;
    if (state.status !== "succeeded") return;
    const next = await mostUncertainPage(modelId);
    if (next) open(next);
    else toast("No image is left to annotate.");
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const next = await mostUncertainPage(modelId);
      if (next) {
        open(next);
        return;
      }
      const job = await postJson("/api/jobs/", { team, type: "score_uncertainty", parameters: { model: modelId } });
      const progress = new JobProgress(job, { label: "Ranking images by uncertainty",
        onDone: (state) => finish(state).catch((error) => showError(error)) });
      status.replaceChildren(progress.element);
    } catch (error) {
      button.disabled = false;
      const refusal = scoringRefusal(error.code);
      if (refusal) toast(refusal);
      else showError(error, "Could not rank the images");
    }
  });
}
