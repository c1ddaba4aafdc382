// "Register a model" on the Models page: upload a checkpoint with its taxonomy; a worker job
// converts it with the engine's safe importer, and a refused checkpoint shows the importer's reason.

import { postForm } from "../lib/api.js";
import { JobProgress } from "../lib/jobs.js";
import { el, showError, toast } from "../lib/ui.js";
import { appendRow, editableRows, readLabels } from "./taxonomy.js";

const DEFAULT_LABELS = [{ name: "background", colour: "#000000", is_context: true }];

/** Wire the registration dialog; `onRegistered()` runs after a model was registered. */
export function setUpRegistration({ team, onRegistered }) {
  const dialog = document.getElementById("register-dialog");
  const form = document.getElementById("register-form");
  const table = document.getElementById("register-labels");
  const status = document.getElementById("register-status");
  const submit = document.getElementById("register-submit");
  let body = null;

  function reset() {
    form.reset();
    body = editableRows(DEFAULT_LABELS);
    table.querySelector("tbody").replaceWith(body);
    status.replaceChildren();
    submit.disabled = false;
  }

  document.getElementById("open-register").addEventListener("click", () => { reset(); dialog.showModal(); });
  document.getElementById("register-add-label").addEventListener("click", () => appendRow(body));
  for (const close of dialog.querySelectorAll("[data-close]")) close.addEventListener("click", () => dialog.close());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.checkpoint.files[0];
    if (!file) return;
    const data = new FormData();
    data.append("team", String(team));
    data.append("file", file);
    data.append("name", form.elements.name.value.trim());
    data.append("labels", JSON.stringify(readLabels(body)));
    submit.disabled = true;
    status.replaceChildren(el("p", { class: "hint" }, `Uploading ${file.name}…`));
    try {
      const job = await postForm("/api/models/import/", data);
      const progress = new JobProgress(job, { label: `Importing ${file.name}`, onDone: (state) => {
        if (state.status === "succeeded") {
          toast(`${file.name} registered as a model.`, "success");
          dialog.close();
          onRegistered();
        } else {
          submit.disabled = false;
          status.replaceChildren(el("div", { class: "alert error", role: "alert", id: "register-refused" },
            el("strong", {}, state.status === "failed" ? "The checkpoint was refused. " : "The import was cancelled. "),
            state.error));
        }
      } });
      status.replaceChildren(progress.element);
    } catch (error) {
      submit.disabled = false;
      status.replaceChildren();
      showError(error, `Could not upload ${file.name}`);
    }
  });
}
