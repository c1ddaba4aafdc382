// The preview page: wires the seed field and truncation slider to the preview socket.

import { socketUrl } from "../lib/socket.js";
import { PreviewSocket } from "./preview_socket.js";

const seedInput = document.getElementById("seed");
const psiInput = document.getElementById("psi");
const psiValue = document.getElementById("psi-value");
const frame = document.getElementById("frame");
const status = document.getElementById("status");
let frameCount = 0;

function showStatus(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function showFrame(header, blob) {
  const previous = frame.src;
  frame.src = URL.createObjectURL(blob);
  if (previous.startsWith("blob:")) URL.revokeObjectURL(previous);
  frameCount += 1;
  frame.dataset.frameCount = String(frameCount);
  frame.dataset.seed = String(header.seed);
  frame.dataset.psi = header.psi.toFixed(2);
  showStatus(`seed ${header.seed} · ψ ${header.psi.toFixed(2)} · ${header.width}×${header.height}` +
             ` · rendered in ${header.render_ms} ms`);
}

function requestCurrent() {
  const seed = Number(seedInput.value);
  const psi = Number(psiInput.value);
  psiValue.textContent = psi.toFixed(2);
  if (!seedInput.checkValidity() || !Number.isInteger(seed)) {
    showStatus(`seed must be a whole number between ${seedInput.min} and ${seedInput.max}`, true);
    return;
  }
  socket.request(seed, psi);
}

const socket = new PreviewSocket(socketUrl("/ws/preview/"), {
  onFrame: showFrame,
  onError: (error) => showStatus(`error (${error.code}): ${error.message}`, true),
  onStatus: (text) => showStatus(text),
});

seedInput.addEventListener("input", requestCurrent);
psiInput.addEventListener("input", requestCurrent);
document.getElementById("random-seed").addEventListener("click", () => {
  seedInput.value = String(Math.floor(Math.random() * 100000));
  requestCurrent();
});
document.getElementById("preview-controls").addEventListener("submit", (event) => event.preventDefault());
requestCurrent();
