// Shared helpers of the canvas unit tests: masks from ASCII art and back.

import { LabelMask } from '../../frontend/static/canvas/mask.js';

/** A mask from rows of digits ('0012'), one character per pixel. */
export function maskFrom(rows) {
  const height = rows.length;
  const width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((row, y) => {
    [...row].forEach((ch, x) => { data[y * width + x] = Number(ch); });
  });
  return new LabelMask(width, height, data);
}

/** A mask as rows of digits, for exact comparisons with readable failures. */
export function rowsOf(mask) {
  const rows = [];
  for (let y = 0; y < mask.height; y += 1) {
    rows.push(Array.from(mask.data.subarray(y * mask.width, (y + 1) * mask.width)).join(''));
  }
  return rows;
}
