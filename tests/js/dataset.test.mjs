import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MIN_CROP, centredSquare, clampBox, resizeBox } from '../../frontend/static/dataset/crop.js';
import { LOW_PSNR_DB, reconstructionIsFar } from '../../frontend/static/dataset/grid.js';
import { defaultHeldOut } from '../../frontend/static/dataset/training.js';

test('the default crop is the largest centred square, as the server picks without one', () => {
  assert.deepEqual(centredSquare(640, 440), { x: 100, y: 0, size: 440 });
  assert.deepEqual(centredSquare(300, 301), { x: 0, y: 0, size: 300 });
});

test('crop boxes stay inside the photo, whole, and at least the minimum size', () => {
  assert.deepEqual(clampBox({ x: -5, y: 500, size: 100.4 }, 640, 440), { x: 0, y: 340, size: 100 });
  assert.deepEqual(clampBox({ x: 10, y: 10, size: 2 }, 640, 440), { x: 10, y: 10, size: MIN_CROP });
  assert.deepEqual(clampBox({ x: 10, y: 10, size: 999 }, 640, 440), { x: 10, y: 0, size: 440 });
  assert.deepEqual(clampBox({ x: 0, y: 0, size: 50 }, 10, 12), { x: 0, y: 0, size: 10 }); // tiny photos
});

test('resizing keeps the centre where the photo allows it', () => {
  assert.deepEqual(resizeBox({ x: 100, y: 100, size: 100 }, 50, 640, 440), { x: 125, y: 125, size: 50 });
  assert.deepEqual(resizeBox({ x: 0, y: 0, size: 100 }, 200, 640, 440), { x: 0, y: 0, size: 200 });
});

test('far reconstructions of uploads are flagged, samples never', () => {
  const upload = (psnr) => ({ source: 'upload', embedding_metrics: { psnr } });
  assert.equal(reconstructionIsFar(upload(LOW_PSNR_DB - 0.1)), true);
  assert.equal(reconstructionIsFar(upload(LOW_PSNR_DB)), false);
  assert.equal(reconstructionIsFar({ source: 'upload', embedding_metrics: {} }), false);
  assert.equal(reconstructionIsFar({ source: 'sample', embedding_metrics: { psnr: 5 } }), false);
});

test('a fifth is held out by default, none below five annotations (the job default)', () => {
  assert.deepEqual([0, 4, 5, 9, 10, 16].map(defaultHeldOut), [0, 0, 1, 1, 2, 3]);
});
