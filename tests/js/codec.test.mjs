import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LabelMask } from '../../frontend/static/canvas/mask.js';
import { crc32, decodeMaskPng, encodeMaskPng } from '../../frontend/static/canvas/png.js';
import { deserializeMask, rleDecode, rleEncode, serializeMask } from '../../frontend/static/canvas/storage.js';

// Made by webapp.annotations.masks.encode_mask (Pillow, indexed, the taxonomy palette).
const SERVER_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAcAAAADCAMAAABoHeX3AAADAFBMVEUAAADmtIy0eFo8WsjweDwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADOiqkWAAAAHUlEQVR42mNgYWBgZGBhYWAC0kzMTEAOMzMDAxMAAagAIdRv0rMAAAAASUVORK5CYII=';
const SERVER_VALUES = [4, 0, 0, 1, 0, 4, 4, 2, 0, 0, 1, 2, 3, 2, 1, 0, 3, 3, 0, 0, 2];
// Pillow, indexed at 2 bits a pixel (packed rows).
const TWO_BIT_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAcAAAADAgMAAAAirf1WAAAADFBMVEUAAAD/AAAA/wAAAP+bwBPcAAAAEUlEQVR4nGOU/st47B/L6/8AEpIEzd1fXIQAAAAASUVORK5CYII=';
// Pillow, greyscale 20x20 of (x + y) % 7 with optimize=True (sub and up row filters).
const GREY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAABQAAAAUCAAAAACo4kLRAAAAL0lEQVR42u3OoQ0AIBRDQa77T4zCIPhJR0A1uZpnAfudFLs4baeYFJNiUoyfNK8DaRE2OZErhpMAAAAASUVORK5CYII=';

const bytes = (base64) => Uint8Array.from(Buffer.from(base64, 'base64'));

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('decodes the server\'s indexed PNG to its label indices', async () => {
  const mask = await decodeMaskPng(bytes(SERVER_PNG));
  assert.equal(mask.width, 7);
  assert.equal(mask.height, 3);
  assert.deepEqual(Array.from(mask.data), SERVER_VALUES);
});

test('decodes packed low bit depths and filtered greyscale rows', async () => {
  const packed = await decodeMaskPng(bytes(TWO_BIT_PNG));
  assert.deepEqual(Array.from(packed.data), Array.from({ length: 21 }, (_, i) => (i * 5) % 4));
  const grey = await decodeMaskPng(bytes(GREY_PNG));
  const expected = [];
  for (let y = 0; y < 20; y += 1) for (let x = 0; x < 20; x += 1) expected.push((x + y) % 7);
  assert.deepEqual(Array.from(grey.data), expected);
});

test('encode then decode gives the identical label array', async () => {
  const mask = new LabelMask(33, 17);
  for (let i = 0; i < mask.data.length; i += 1) mask.data[i] = (i * 7919) % 23;
  const png = await encodeMaskPng(mask);
  assert.deepEqual(Array.from(png.subarray(0, 8)), [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.equal(png[25], 0, 'greyscale colour type');
  const back = await decodeMaskPng(png);
  assert.equal(back.width, 33);
  assert.deepEqual(back.data, mask.data);
});

test('refuses what is not a label PNG', async () => {
  await assert.rejects(decodeMaskPng(new Uint8Array([1, 2, 3])), /not a PNG/);
  const rgb = bytes(GREY_PNG);
  rgb[25] = 2; // colour type RGB (the CRC is not checked: the type is refused first)
  await assert.rejects(decodeMaskPng(rgb), /colour type 2/);
  await assert.rejects(decodeMaskPng(bytes(SERVER_PNG).subarray(0, 60)), /truncated|header/);
});

test('run-length storage round-trips and checks lengths', () => {
  const data = new Uint8Array(1000);
  data.fill(3, 10, 700);
  data[999] = 9;
  const rle = rleEncode(data);
  assert.deepEqual(Array.from(rle.subarray(0, 6)), [9, 0, 255, 3, 255, 3]);
  assert.deepEqual(rleDecode(rle, 1000), data);
  assert.throws(() => rleDecode(rle, 999), /longer/);
  assert.throws(() => rleDecode(rle, 1001), /shorter/);
  const mask = new LabelMask(40, 25, data);
  const record = JSON.parse(JSON.stringify(serializeMask(mask)));
  assert.deepEqual(deserializeMask(record).data, data);
});
