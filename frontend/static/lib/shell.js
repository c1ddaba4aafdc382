// The studio shell, on every page: the team switcher applies a choice at once, and a user
// without a team can create one.

import { postJson } from "./api.js";
import { showError } from "./ui.js";

const teamSelect = document.getElementById("team-select");
if (teamSelect) {
  teamSelect.addEventListener("change", () => teamSelect.form.requestSubmit());
}

const createTeam = document.getElementById("create-team");
if (createTeam) {
  createTeam.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const team = await postJson("/api/teams/", { name: createTeam.elements.name.value.trim() });
      location.assign(`${location.pathname}?team=${team.id}`);
    } catch (error) {
      showError(error, "Could not create the team");
    }
  });
}
