// Unit tests of the library page's provenance line, loss-curve points and applicability rule.
import assert from "node:assert/strict";
import { test } from "node:test";

import { applicableTo, curvePoints, provenanceText, stripScales } from "../../frontend/static/library/provenance.js";

test("starter vectors name their seed and oracle figure; session vectors their job and session", () => {
  const starter = { settings: { starter_figures: { script: "s", kind: "smile", seed: 41, oracle_hit: 0.462 } } };
  assert.equal(provenanceText(starter), "starter library: smile optimised on seed 41 (oracle hit 46%)");
  assert.equal(provenanceText({ job: 3, source_session: 2, source_image: 9, settings: { steps: 30 } }),
    "optimised by job 3 · in session 2 · on image 9 · 30 steps");
  assert.equal(provenanceText({ settings: {} }), "uploaded");
});

test("the loss curve spans the box, highest value at the top", () => {
  assert.equal(curvePoints([2, 1, 0], 10, 4), "0.0,0.0 5.0,2.0 10.0,4.0");
  assert.equal(curvePoints([1], 10, 4), "");
});

test("only the vector's own active model is applicable", () => {
  const vector = { model: 1 };
  assert.equal(applicableTo(vector, { id: 1, is_active: true }), true);
  assert.equal(applicableTo(vector, { id: 2, is_active: true }), false);
  assert.equal(applicableTo(vector, { id: 1, is_active: false }), false);
  assert.equal(applicableTo(vector, undefined), false);
});

test("the strip shows the strengths within the vector's range", () => {
  assert.deepEqual(stripScales({ min_scale: -1, max_scale: 2 }), [-1, 0, 1, 2]);
  assert.deepEqual(stripScales({ min_scale: -2, max_scale: 2 }), [-2, -1, 0, 1, 2]);
});
