import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  KEYMAP, actionFor, buildIndex, chordsOf, isTypingTarget, keysOf,
} from '../../frontend/static/canvas/keymap.js';
import { LabelMask } from '../../frontend/static/canvas/mask.js';
import { MaskView, buildPalette, packColour } from '../../frontend/static/canvas/view.js';
import { Viewport, wheelFactor } from '../../frontend/static/canvas/viewport.js';

const key = (key, code, mods = {}) => ({ key, code, ctrlKey: false, shiftKey: false, altKey: false,
  metaKey: false, ...mods });

test('the keymap binds each chord once and maps the conventional keys', () => {
  const index = buildIndex();
  const cases = [
    [key('b', 'KeyB'), 'tool:brush'],
    [key('E', 'KeyE', { shiftKey: true }), null],
    [key('g', 'KeyG'), 'tool:fill'],
    [key('p', 'KeyP'), 'tool:polygon'],
    [key('i', 'KeyI'), 'tool:picker'],
    [key('[', 'BracketLeft'), 'size:down'],
    [key('{', 'BracketLeft', { shiftKey: true }), 'size:down10'],
    [key('}', 'BracketRight', { shiftKey: true }), 'size:up10'],
    [key('3', 'Digit3'), 'label:3'],
    [key('&', 'Digit1'), 'label:1'], // AZERTY: the digit row by physical key
    [key('x', 'KeyX'), 'label:swap'],
    [key('z', 'KeyZ', { ctrlKey: true }), 'undo'],
    [key('z', 'KeyZ', { metaKey: true }), 'undo'],
    [key('Z', 'KeyZ', { ctrlKey: true, shiftKey: true }), 'redo'],
    [key('y', 'KeyY', { ctrlKey: true }), 'redo'],
    [key('s', 'KeyS', { ctrlKey: true }), 'save'],
    [key('0', 'Digit0'), 'view:reset'],
    [key('?', 'Slash', { shiftKey: true }), 'help'],
    [key('PageDown', 'PageDown'), 'image:next'],
    [key('b', 'KeyB', { ctrlKey: true }), null],
  ];
  for (const [event, action] of cases) assert.equal(actionFor(index, event), action, chordsOf(event).join());
  assert.throws(() => buildIndex([...KEYMAP, { action: 'x', keys: ['b'] }]), /bound to tool:brush/);
  assert.equal(keysOf('redo'), 'Ctrl+Shift+Z / Ctrl+Y');
  assert.equal(keysOf('tool:brush'), 'B');
});

test('keys typed into text fields are not shortcuts', () => {
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'text' }), true);
  assert.equal(isTypingTarget({ tagName: 'INPUT', type: 'range' }), false);
  assert.equal(isTypingTarget({ tagName: 'TEXTAREA' }), true);
  assert.equal(isTypingTarget({ tagName: 'DIV', isContentEditable: true }), true);
  assert.equal(isTypingTarget({ tagName: 'CANVAS' }), false);
  assert.equal(isTypingTarget(null), false);
});

test('wheel zoom keeps the mask point under the cursor; reset fits and centres', () => {
  const view = new Viewport(64, 32, 640, 640);
  assert.equal(view.scale, 10);
  assert.deepEqual([view.offsetX, view.offsetY], [0, 160]);
  const before = view.toMask(123, 321);
  view.zoomAt(123, 321, 2.5);
  const after = view.toMask(123, 321);
  assert.ok(Math.abs(before[0] - after[0]) < 1e-9 && Math.abs(before[1] - after[1]) < 1e-9);
  assert.equal(view.scale, 25);
  view.zoomAt(0, 0, 1e6);
  assert.equal(view.scale, 64);
  view.pan(10, -5);
  assert.deepEqual(view.toStage(0, 0), [view.offsetX, view.offsetY]);
  view.reset();
  assert.equal(view.scale, 10);
  assert.ok(wheelFactor(100) < 1 && wheelFactor(-100) > 1);
  assert.ok(Math.abs(wheelFactor(100) * wheelFactor(-100) - 1) < 1e-12);
});

/** A stand-in for CanvasRenderingContext2D that records putImageData's dirty rectangles. */
function fakeContext() {
  return {
    puts: [],
    createImageData(width, height) {
      return { width, height, data: new Uint8ClampedArray(width * height * 4) };
    },
    putImageData(image, dx, dy, x, y, width, height) { this.puts.push([x, y, width, height]); },
  };
}

test('the view paints labels through the palette and puts only the dirty rectangle', () => {
  assert.equal(packColour('#102030'), 0xff302010);
  const palette = buildPalette(['#000000', '#ff0000', '#00ff80']);
  assert.equal(palette[0], 0, 'background is transparent');
  const mask = new LabelMask(4, 3);
  mask.data.set([0, 1, 2, 1], 4);
  const context = fakeContext();
  const view = new MaskView(context, mask, palette);
  assert.deepEqual(context.puts, [[0, 0, 4, 3]]);
  const rgba = (i) => Array.from(view.image.data.subarray(i * 4, i * 4 + 4));
  assert.deepEqual(rgba(5), [255, 0, 0, 255]);
  assert.deepEqual(rgba(6), [0, 255, 128, 255]);
  assert.deepEqual(rgba(0), [0, 0, 0, 0]);
  mask.data[11] = 2;
  view.paint({ x: 2, y: 1, width: 5, height: 9 });
  assert.deepEqual(context.puts[1], [2, 1, 2, 2]);
  assert.deepEqual(rgba(11), [0, 255, 128, 255]);
  view.paint({ x: 9, y: 9, width: 2, height: 2 });
  assert.equal(context.puts.length, 2, 'nothing to put outside the mask');
});
