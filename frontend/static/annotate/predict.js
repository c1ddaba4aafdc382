// "Predict": the model's active branch segments the image on a worker (a predict_mask job,
// progress shown like every job); its labels replace the mask as one undo step and the pixels
// its ensemble disagrees on are shaded on a canvas over the mask.

import { postJson, request } from '../lib/api.js';
import { JobProgress } from '../lib/jobs.js';
import { showError, toast } from '../lib/ui.js';
import { decodeMaskPng } from '../canvas/png.js';

const SHADE = [255, 0, 140]; // magenta: never a plausible label colour over a photo

/** The bytes of a base64 string. */
function bytesOf(base64) {
  const binary = atob(base64);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

/** Draw the disagreement map (0-255) as magenta whose opacity grows with it. */
export function shade(canvas, map) {
  canvas.width = map.width;
  canvas.height = map.height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(map.width, map.height);
  for (let i = 0; i < map.data.length; i += 1) {
    image.data.set(SHADE, i * 4);
    image.data[i * 4 + 3] = Math.round(map.data[i] * 0.85);
  }
  context.putImageData(image, 0, 0);
}

/** Wire the Predict button: `apply(mask)` puts the predicted labels into the editor. */
export function setUpPredict(data, apply) {
  const button = document.getElementById('predict-button');
  if (!button || button.disabled) return;
  const status = document.getElementById('predict-status');
  const canvas = document.getElementById('uncertainty');
  const toggle = document.getElementById('uncertainty-toggle');
  const visible = document.getElementById('uncertainty-visible');
  visible.addEventListener('change', () => { canvas.hidden = !visible.checked; });
  const finished = async (state) => {
    button.disabled = false;
    if (state.status !== 'succeeded') return;
    try {
      const job = await request(`${data.urls.jobs}${state.id}/`);
      const labels = await decodeMaskPng(bytesOf(job.result.labels_png));
      const disagreement = await decodeMaskPng(bytesOf(job.result.uncertainty_png));
      apply(labels);
      shade(canvas, disagreement);
      canvas.hidden = !visible.checked;
      toggle.hidden = false;
      document.getElementById('uncertainty-mean').textContent =
        `${Math.round(job.result.mean_uncertainty * 100)}% mean`;
      toast('Predicted mask applied: correct the shaded pixels first. Ctrl+Z restores your mask.', 'success');
    } catch (error) {
      showError(error, 'Could not apply the prediction');
    }
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const job = await postJson(data.urls.jobs, { team: data.team, type: 'predict_mask',
        parameters: { image: data.image.id } });
      const progress = new JobProgress(job, { label: 'Prediction', onDone: finished });
      status.replaceChildren(progress.element);
    } catch (error) {
      button.disabled = false;
      showError(error, 'Could not start the prediction');
    }
  });
}
