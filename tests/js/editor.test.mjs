import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Editor, segmentRect } from '../../frontend/static/canvas/editor.js';
import { LabelMask } from '../../frontend/static/canvas/mask.js';
import { labelDifferences, mergeByLabel } from '../../frontend/static/canvas/merge.js';
import { maskFrom, rowsOf } from './helpers.mjs';

function editorOn(rows, labelCount = 6) {
  const rects = [];
  const editor = new Editor(maskFrom(rows), { labelCount, onChange: (rect) => rects.push(rect) });
  return { editor, rects };
}

test('a brush drag is one undo step; right-drag erases with any tool for that gesture only', () => {
  const { editor } = editorOn(['000000', '000000', '000000']);
  editor.setSize(1);
  editor.setLabel(2);
  editor.pointerDown(0.5, 1.5);
  editor.pointerMove(3.2, 1.5);
  editor.pointerMove(5.9, 1.1);
  editor.pointerUp();
  assert.deepEqual(rowsOf(editor.mask), ['000000', '222222', '000000']);
  assert.equal(editor.revision, 1);
  editor.setTool('fill');
  editor.pointerDown(1.5, 1.5, { erase: true });
  editor.pointerMove(3.5, 1.5);
  editor.pointerUp();
  assert.deepEqual(rowsOf(editor.mask), ['000000', '200022', '000000']);
  assert.equal(editor.tool, 'fill');
  editor.undo();
  assert.deepEqual(rowsOf(editor.mask), ['000000', '222222', '000000']);
  editor.undo();
  assert.deepEqual(rowsOf(editor.mask), ['000000', '000000', '000000']);
  editor.redo();
  assert.deepEqual(rowsOf(editor.mask), ['000000', '222222', '000000']);
});

test('the eraser, protection and the fill tool', () => {
  const { editor } = editorOn(['1122', '1122']);
  editor.setTool('eraser');
  editor.setSize(1);
  editor.setProtect(2);
  editor.pointerDown(0.5, 0.5);
  editor.pointerMove(3.5, 0.5);
  editor.pointerUp();
  assert.deepEqual(rowsOf(editor.mask), ['1100', '1122']);
  editor.setProtect(null);
  editor.setTool('fill');
  editor.setLabel(4);
  editor.pointerDown(0.2, 1.9);
  assert.deepEqual(rowsOf(editor.mask), ['4400', '4422']);
});

test('polygon by clicks (closed on the first vertex) and lasso by drag; undo removes a vertex', () => {
  const { editor } = editorOn(['00000', '00000', '00000', '00000', '00000']);
  editor.setTool('polygon');
  editor.setLabel(3);
  for (const [x, y] of [[1, 1], [4, 1], [9, 9]]) { editor.pointerDown(x, y); editor.pointerUp(); }
  editor.perform('undo'); // drops (9, 9)
  for (const [x, y] of [[4, 4], [1, 4], [1.2, 1.1]]) { editor.pointerDown(x, y, { closeRadius: 0.5 }); editor.pointerUp(); }
  assert.deepEqual(rowsOf(editor.mask), ['00000', '03330', '03330', '03330', '00000']);
  assert.equal(editor.polygon.length, 0);
  editor.setLabel(5);
  editor.pointerDown(0, 0);
  for (const [x, y] of [[5, 0], [5, 2], [0, 2]]) editor.pointerMove(x, y);
  editor.pointerUp();
  assert.deepEqual(rowsOf(editor.mask), ['55555', '55555', '03330', '03330', '00000']);
  assert.equal(editor.revision, 2);
});

test('picker picks and returns to the previous tool; X swaps labels; sizes clamp', () => {
  const { editor } = editorOn(['04', '00']);
  editor.setTool('fill');
  editor.setLabel(2);
  editor.perform('tool:picker');
  editor.pointerDown(1.5, 0.5);
  assert.equal(editor.label, 4);
  assert.equal(editor.tool, 'fill');
  editor.perform('label:swap');
  assert.equal(editor.label, 2);
  editor.perform('label:swap');
  assert.equal(editor.label, 4);
  assert.equal(editor.perform('label:9'), true);
  assert.equal(editor.label, 4, 'label 9 does not exist in a 6-label taxonomy');
  editor.setSize(5);
  editor.perform('size:down10');
  assert.equal(editor.size, 1);
  editor.perform('size:up10');
  editor.perform('size:up');
  assert.equal(editor.size, 12);
  assert.equal(editor.perform('save'), false);
});

test('strokes report only the rectangle of each segment', () => {
  const { editor, rects } = editorOn(Array(20).fill('0'.repeat(20)));
  editor.setSize(3);
  editor.pointerDown(2.5, 2.5);
  editor.pointerMove(6.5, 2.5);
  editor.pointerUp();
  assert.deepEqual(rects[0], segmentRect([2, 2], [2, 2], 3));
  assert.deepEqual(rects[1], { x: -1, y: -1, width: 11, height: 7 });
  assert.equal(rects[2], null, 'the committed stroke was already painted');
});

test('merge by label: all mine, all theirs, and per label', () => {
  const mine = maskFrom(['1100', '2200']);
  const theirs = maskFrom(['1000', '3300']);
  assert.deepEqual(rowsOf(mergeByLabel(mine, theirs, () => 'mine')), rowsOf(mine));
  assert.deepEqual(rowsOf(mergeByLabel(mine, theirs, () => 'theirs')), rowsOf(theirs));
  // Take my label 1 and their label 3.
  const merged = mergeByLabel(mine, theirs, (label) => (label === 1 ? 'mine' : 'theirs'));
  assert.deepEqual(rowsOf(merged), ['1100', '3300']);
  // Mine, plus their label 3: their 3 beats my background, but not my label 2 (mine wins ties).
  const added = mergeByLabel(maskFrom(['0000', '2200']), maskFrom(['3300', '3000']),
    (label) => (label === 3 ? 'theirs' : 'mine'));
  assert.deepEqual(rowsOf(added), ['3300', '2200']);
  // Neither side claims (my 2 goes to theirs, their 0 to mine): the saved version stays.
  const unclaimed = mergeByLabel(maskFrom(['2']), maskFrom(['0']), (label) => (label === 2 ? 'theirs' : 'mine'));
  assert.deepEqual(rowsOf(unclaimed), ['0']);
  assert.deepEqual(labelDifferences(mine, theirs), [
    { label: 0, mine: 0, theirs: 1 },
    { label: 1, mine: 1, theirs: 0 },
    { label: 2, mine: 2, theirs: 0 },
    { label: 3, mine: 0, theirs: 2 },
  ]);
  assert.throws(() => mergeByLabel(mine, new LabelMask(3, 3), () => 'mine'), /different sizes/);
});

test('applying a whole mask is one undoable step', () => {
  const { editor } = editorOn(['0000', '1111']);
  editor.applyMask(maskFrom(['2200', '1111']));
  assert.deepEqual(rowsOf(editor.mask), ['2200', '1111']);
  assert.equal(editor.revision, 1);
  editor.undo();
  assert.deepEqual(rowsOf(editor.mask), ['0000', '1111']);
  assert.throws(() => editor.applyMask(new LabelMask(2, 2)), /cannot replace/);
});
