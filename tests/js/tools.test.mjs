import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ChangeSet } from '../../frontend/static/canvas/changes.js';
import { LabelMask } from '../../frontend/static/canvas/mask.js';
import {
  brushAnchor, brushKernel, fillPolygon, floodFill, linePoints, pickLabel, stamp, strokeSegment,
} from '../../frontend/static/canvas/tools.js';
import { maskFrom, rowsOf } from './helpers.mjs';

function kernelRows(size) {
  const spans = brushKernel(size);
  const reach = Math.max(...spans.map((s) => Math.max(-s.x0, s.x1, -s.dy, s.dy)));
  const side = 2 * reach + 1;
  const mask = new LabelMask(side, side);
  stamp(new ChangeSet(mask), reach, reach, size, 1);
  return rowsOf(mask);
}

test('brush kernels cover exactly the pixels whose centres are within size/2', () => {
  assert.deepEqual(kernelRows(1), ['1']);
  // Even sizes are centred on the anchor pixel's top-left corner.
  assert.deepEqual(kernelRows(2), ['110', '110', '000']);
  assert.deepEqual(kernelRows(3), ['111', '111', '111']);
  assert.deepEqual(kernelRows(5), ['01110', '11111', '11111', '11111', '01110']);
  assert.deepEqual(kernelRows(4), ['01100', '11110', '11110', '01100', '00000']);
  // Pixel counts of larger brushes are close to the disc's area (the centres criterion).
  const count = (size) => brushKernel(size).reduce((n, s) => n + s.x1 - s.x0 + 1, 0);
  assert.equal(count(1), 1);
  assert.equal(count(2), 4);
  assert.equal(count(3), 9);
  assert.equal(count(5), 21);
  assert.ok(Math.abs(count(41) - Math.PI * 20.5 ** 2) < 41 * 2);
});

test('brush anchors: odd sizes on the pixel under the pointer, even sizes on the nearest corner', () => {
  assert.deepEqual(brushAnchor(3.9, 7.2, 3), [3, 7]);
  assert.deepEqual(brushAnchor(3.6, 7.2, 4), [4, 7]);
});

test('stamps are clipped at the edges and respect protection', () => {
  const mask = maskFrom(['0022', '0022', '0000']);
  const changes = new ChangeSet(mask);
  assert.equal(stamp(changes, 3, 0, 3, 1, 2), 4);
  assert.deepEqual(rowsOf(mask), ['0011', '0011', '0000']);
  const diff = changes.finish();
  assert.deepEqual(Array.from(diff.before), [2, 2, 2, 2]);
});

test('a stroke between distant samples leaves no gaps', () => {
  const mask = new LabelMask(8, 3);
  const changes = new ChangeSet(mask);
  strokeSegment(changes, [0, 1], [7, 1], 1, 3);
  assert.deepEqual(rowsOf(mask), ['00000000', '33333333', '00000000']);
  assert.deepEqual(linePoints(0, 0, 3, 2), [[0, 0], [1, 1], [2, 1], [3, 2]]);
});

test('flood fill takes the 4-connected region of the seed label only', () => {
  const mask = maskFrom([
    '11011',
    '10001',
    '11011',
    '00100',
  ]);
  const changes = new ChangeSet(mask);
  assert.equal(floodFill(changes, 2, 1, 5), 5);
  assert.deepEqual(rowsOf(mask), [
    '11511',
    '15551',
    '11511',
    '00100',
  ]);
  // The diagonal zeros at the bottom are not 4-connected to the seed.
  assert.equal(floodFill(new ChangeSet(mask), 0, 3, 7), 2);
  assert.deepEqual(rowsOf(mask)[3], '77100');
});

test('flood fill: protection, same label and outside seeds change nothing', () => {
  const mask = maskFrom(['0011', '0011']);
  assert.equal(floodFill(new ChangeSet(mask), 0, 0, 3, 1), 0);
  assert.equal(floodFill(new ChangeSet(mask), 2, 0, 1), 0);
  assert.equal(floodFill(new ChangeSet(mask), 9, 0, 3), 0);
  assert.equal(floodFill(new ChangeSet(mask), 2, 1, 3, 1), 4);
  assert.deepEqual(rowsOf(mask), ['0033', '0033']);
});

test('flood fill of a large region with holes and a spiral', () => {
  const size = 64;
  const mask = new LabelMask(size, size);
  for (let i = 0; i < size; i += 4) {
    for (let j = 0; j < size - 2; j += 1) mask.data[(i + 1) * size + ((i / 4) % 2 ? j + 2 : j)] = 1;
  }
  const zeros = mask.data.filter((v) => v === 0).length;
  assert.equal(floodFill(new ChangeSet(mask), 0, 0, 2), zeros);
  assert.equal(mask.data.filter((v) => v === 0).length, 0);
});

test('polygons are filled by the even-odd rule at pixel centres', () => {
  const mask = new LabelMask(6, 6);
  // An axis-aligned square from (1,1) to (4,4): the centres 1.5 .. 3.5 are inside.
  fillPolygon(new ChangeSet(mask), [[1, 1], [4, 1], [4, 4], [1, 4]], 2);
  assert.deepEqual(rowsOf(mask), ['000000', '022200', '022200', '022200', '000000', '000000']);
  const triangle = new LabelMask(5, 5);
  fillPolygon(new ChangeSet(triangle), [[0, 0], [5, 0], [0, 5]], 1);
  assert.deepEqual(rowsOf(triangle), ['11110', '11100', '11000', '10000', '00000']);
});

test('self-intersecting polygons (a bow tie) and nested squares follow even-odd', () => {
  const mask = new LabelMask(7, 7);
  // Outer square then inner square as one path with a zero-width bridge: the hole stays empty.
  const outer = [[0, 0], [7, 0], [7, 7], [0, 7], [0, 0]];
  const inner = [[2, 2], [2, 5], [5, 5], [5, 2], [2, 2]];
  fillPolygon(new ChangeSet(mask), [...outer, ...inner], 4);
  assert.deepEqual(rowsOf(mask), [
    '4444444', '4444444', '4400044', '4400044', '4400044', '4444444', '4444444',
  ]);
});

test('polygon fill respects protection and ignores degenerate polygons', () => {
  const mask = maskFrom(['1100', '1100']);
  assert.equal(fillPolygon(new ChangeSet(mask), [[0, 0], [4, 0]], 3), 0);
  assert.equal(fillPolygon(new ChangeSet(mask), [[0, 0], [4, 0], [4, 2], [0, 2]], 3, 0), 4);
  assert.deepEqual(rowsOf(mask), ['1133', '1133']);
});

test('pick label reads the pixel under a continuous position', () => {
  const mask = maskFrom(['01', '23']);
  assert.equal(pickLabel(mask, 1.7, 1.2), 3);
  assert.equal(pickLabel(mask, -0.2, 0), -1);
});
