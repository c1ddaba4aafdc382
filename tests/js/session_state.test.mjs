// Unit tests of the studio's session state: optimistic changes, reconciliation, op ids, frames.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SessionState } from "../../frontend/static/studio/session_state.js";

const session = (revision, scale) => ({ revision, entries: [{ id: 7, position: 0, scale, enabled: true }] });

test("a change applies at once and survives an older echo until it is acknowledged", () => {
  const state = new SessionState("c");
  state.receive(session(3, 1.0));
  const message = state.change(7, "scale", 0.4);
  assert.deepEqual(message, { type: "set_scale", op_id: "c:1", base_revision: 3, entry: 7, scale: 0.4 });
  assert.equal(state.entries()[0].scale, 0.4);
  state.receive(session(4, 1.5)); // someone else's change arrived before ours
  assert.equal(state.entries()[0].scale, 0.4);
  state.settle("c:1");
  state.receive(session(5, 0.4));
  assert.equal(state.entries()[0].scale, 0.4);
  state.receive(session(6, -1));
  assert.equal(state.entries()[0].scale, -1);
});

test("an older full state is ignored", () => {
  const state = new SessionState("c");
  state.receive(session(5, 1));
  assert.equal(state.receive(session(4, 2)), false);
  assert.equal(state.revision, 5);
});

test("frames never go back to an older revision", () => {
  const state = new SessionState("c");
  assert.equal(state.acceptFrame(3), true);
  assert.equal(state.acceptFrame(2), false);
  assert.equal(state.acceptFrame(3), true);
  assert.equal(state.acceptFrame(9), true);
});

test("operations carry fresh op ids and the current base revision", () => {
  const state = new SessionState("z");
  state.receive(session(2, 0));
  assert.deepEqual(state.operation("remove", { entry: 7 }), { type: "remove", op_id: "z:1", base_revision: 2, entry: 7 });
  assert.equal(state.operation("add_vector", { vector: 1 }).op_id, "z:2");
});
