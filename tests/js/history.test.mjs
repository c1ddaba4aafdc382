import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ChangeSet, diffBytes } from '../../frontend/static/canvas/changes.js';
import { History } from '../../frontend/static/canvas/history.js';
import { LabelMask } from '../../frontend/static/canvas/mask.js';
import { fillPolygon, floodFill, stamp } from '../../frontend/static/canvas/tools.js';
import { maskFrom, rowsOf } from './helpers.mjs';

test('a change set records only pixels whose value really changed', () => {
  const mask = maskFrom(['0000', '0000']);
  const changes = new ChangeSet(mask);
  changes.set(0, 2);
  changes.set(0, 0); // back to where it was: not a change
  changes.set(5, 1);
  changes.set(5, 3);
  const diff = changes.finish();
  assert.equal(diff.kind, 'pixels');
  assert.deepEqual(Array.from(diff.indices), [5]);
  assert.deepEqual(Array.from(diff.before), [0]);
  assert.deepEqual(Array.from(diff.after), [3]);
  assert.equal(new ChangeSet(mask).finish(), null);
});

test('dense changes are stored as a dirty-rectangle patch, sparse ones as pixels', () => {
  const mask = new LabelMask(100, 100);
  const dense = new ChangeSet(mask);
  floodFill(dense, 0, 0, 1);
  const patch = dense.finish();
  assert.equal(patch.kind, 'patch');
  assert.equal(diffBytes(patch), 2 * 100 * 100);
  const sparse = new ChangeSet(mask);
  sparse.set(0, 2);
  sparse.set(9999, 2);
  const pixels = sparse.finish();
  assert.equal(pixels.kind, 'pixels');
  assert.equal(diffBytes(pixels), 12);
});

test('undo and redo restore the exact arrays, through patches and pixel lists', () => {
  const mask = maskFrom(['00000', '01110', '00000']);
  const history = new History();
  const states = [rowsOf(mask)];
  for (const step of [
    (c) => floodFill(c, 0, 0, 2),
    (c) => stamp(c, 2, 1, 1, 3),
    (c) => floodFill(c, 1, 1, 4),
  ]) {
    const changes = new ChangeSet(mask);
    step(changes);
    history.push(changes.finish());
    states.push(rowsOf(mask));
  }
  assert.deepEqual(states[3], ['22222', '24312', '22222']);
  for (let i = 2; i >= 0; i -= 1) {
    history.undo(mask);
    assert.deepEqual(rowsOf(mask), states[i]);
  }
  assert.equal(history.undo(mask), null);
  for (let i = 1; i <= 3; i += 1) {
    history.redo(mask);
    assert.deepEqual(rowsOf(mask), states[i]);
  }
  assert.equal(history.redo(mask), null);
});

test('a new step after undo drops the redo side', () => {
  const mask = new LabelMask(3, 1);
  const history = new History();
  for (const label of [1, 2]) {
    const changes = new ChangeSet(mask);
    changes.set(0, label);
    history.push(changes.finish());
  }
  history.undo(mask);
  const changes = new ChangeSet(mask);
  changes.set(2, 5);
  history.push(changes.finish());
  assert.equal(history.canRedo(), false);
  assert.deepEqual(Array.from(mask.data), [1, 0, 5]);
  history.undo(mask);
  history.undo(mask);
  assert.deepEqual(Array.from(mask.data), [0, 0, 0]);
});

test('at least 200 steps deep, bounded by steps and bytes', () => {
  const mask = new LabelMask(64, 64);
  const history = new History();
  for (let step = 0; step < 300; step += 1) {
    const changes = new ChangeSet(mask);
    changes.set(step, 1 + (step % 5));
    history.push(changes.finish());
  }
  let undone = 0;
  while (history.undo(mask)) undone += 1;
  assert.ok(undone >= 200, `only ${undone} steps`);
  assert.equal(undone, 300);
  assert.equal(mask.data.reduce((a, b) => a + b, 0), 0);

  const bounded = new History({ maxSteps: 1000, maxBytes: 5 * 2 * 64 * 64 });
  for (let step = 0; step < 8; step += 1) {
    const changes = new ChangeSet(mask);
    floodFill(changes, 0, 0, step % 2 ? 0 : 1);
    bounded.push(changes.finish());
  }
  assert.equal(bounded.done.length, 5);
  assert.ok(bounded.bytes <= bounded.maxBytes);
  const steps = new History({ maxSteps: 3 });
  for (let step = 0; step < 5; step += 1) {
    const changes = new ChangeSet(mask);
    changes.set(100 + step, 7);
    steps.push(changes.finish());
  }
  assert.equal(steps.done.length, 3);
});

test('a span write records each changed pixel once and grows the rectangle by the span', () => {
  const mask = maskFrom(['0000', '0110', '0000']);
  const changes = new ChangeSet(mask);
  assert.equal(changes.setSpan(4, 0, 3, 1), 2);
  assert.equal(changes.setSpan(4, 0, 3, 2), 4);
  assert.deepEqual(changes.rect(), { x: 0, y: 1, width: 4, height: 1 });
  const diff = changes.finish();
  assert.deepEqual(Array.from(diff.kind === 'patch' ? diff.before : diff.before), [0, 1, 1, 0]);
  assert.deepEqual(rowsOf(mask), ['0000', '2222', '0000']);
});

test('fills record spans: a sparse region becomes a pixel diff, a polygon over its own label changes nothing', () => {
  const mask = new LabelMask(100, 100);
  mask.data.fill(1);
  const staircase = [];
  for (let k = 0; k < 20; k += 1) staircase.push(k * 101 + 2020, k * 101 + 2021);
  for (const index of staircase) mask.data[index] = 0;
  const fill = new ChangeSet(mask);
  assert.equal(floodFill(fill, 20, 20, 2), 40);
  const diff = fill.finish();
  assert.equal(diff.kind, 'pixels');
  assert.deepEqual(Array.from(diff.indices).sort((a, b) => a - b), staircase);
  assert.ok(Array.from(diff.before).every((value) => value === 0));
  const history = new History();
  history.push(diff);
  history.undo(mask);
  assert.equal(mask.data.filter((value) => value === 0).length, 40);
  assert.ok(staircase.every((index) => mask.data[index] === 0));
  history.redo(mask);
  assert.ok(staircase.every((index) => mask.data[index] === 2));
  const same = new ChangeSet(mask);
  assert.equal(fillPolygon(same, [[0, 0], [10, 0], [10, 10]], 1), 0);
  assert.equal(same.finish(), null);
});
