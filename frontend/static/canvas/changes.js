// Recording what one gesture changes, as a diff that undo and redo can apply in either
// direction. A diff is stored either as the changed pixels (index + before + after, 6 bytes a
// pixel) or as a patch of its dirty rectangle (before + after, 2 bytes a pixel), whichever is
// smaller. Pure: no DOM.

import { LabelMask } from './mask.js';

const touchedMaps = new WeakMap();

/** A per-mask scratch map of the pixels the current gesture has touched (all zero between gestures). */
function touchedMap(mask) {
  let map = touchedMaps.get(mask);
  if (!map || map.length !== mask.data.length) {
    map = new Uint8Array(mask.data.length);
    touchedMaps.set(mask, map);
  }
  return map;
}

/** The pixels one gesture changes, recorded as it paints. */
export class ChangeSet {
  /** Start recording changes to `mask`. */
  constructor(mask) {
    if (!(mask instanceof LabelMask)) throw new TypeError('ChangeSet needs a LabelMask');
    this.mask = mask;
    this.touched = touchedMap(mask);
    this.indices = new Uint32Array(256);
    this.before = new Uint8Array(256);
    this.count = 0;
    this.spans = [];
    this.spanChanges = 0;
    this.x0 = Infinity; this.y0 = Infinity; this.x1 = -1; this.y1 = -1;
  }

  /** Set pixel `index` to `label`; true if its value changed. */
  set(index, label) {
    const { data } = this.mask;
    const old = data[index];
    if (old === label) return false;
    if (!this.touched[index]) {
      this.touched[index] = 1;
      if (this.count === this.indices.length) this.grow();
      this.indices[this.count] = index;
      this.before[this.count] = old;
      this.count += 1;
      const y = (index / this.mask.width) | 0;
      const x = index - y * this.mask.width;
      if (x < this.x0) this.x0 = x;
      if (x > this.x1) this.x1 = x;
      if (y < this.y0) this.y0 = y;
      if (y > this.y1) this.y1 = y;
    }
    data[index] = label;
    return true;
  }

  /**
   * Set the pixels x0..x1 of the row starting at index `row` to `label` (a fill's span: the
   * rectangle is updated once, not per pixel); returns how many changed.
   */
  setSpan(row, x0, x1, label) {
    const { data } = this.mask;
    const { touched } = this;
    let changed = 0;
    for (let index = row + x0; index <= row + x1; index += 1) {
      const old = data[index];
      if (old === label) continue;
      if (!touched[index]) {
        touched[index] = 1;
        if (this.count === this.indices.length) this.grow();
        this.indices[this.count] = index;
        this.before[this.count] = old;
        this.count += 1;
      }
      data[index] = label;
      changed += 1;
    }
    if (changed) {
      const y = (row / this.mask.width) | 0;
      if (x0 < this.x0) this.x0 = x0;
      if (x1 > this.x1) this.x1 = x1;
      if (y < this.y0) this.y0 = y;
      if (y > this.y1) this.y1 = y;
    }
    return changed;
  }

  /**
   * Set pixels x0..x1 of the row starting at index `row` to `label`, recording the span's old
   * values as one slice (native copies, no per-pixel bookkeeping). Only for single-pass tools
   * (fill, polygon) that write each pixel at most once and never mix with `set` on the same
   * pixels; returns how many changed.
   */
  fillSpan(row, x0, x1, label) {
    const { data } = this.mask;
    const start = row + x0;
    const end = row + x1 + 1;
    let changed = 0;
    for (let index = start; index < end; index += 1) if (data[index] !== label) changed += 1;
    if (!changed) return 0;
    this.spans.push({ start, before: data.slice(start, end) });
    data.fill(label, start, end);
    this.spanChanges += changed;
    const y = (row / this.mask.width) | 0;
    if (x0 < this.x0) this.x0 = x0;
    if (x1 > this.x1) this.x1 = x1;
    if (y < this.y0) this.y0 = y;
    if (y > this.y1) this.y1 = y;
    return changed;
  }

  /** Double the capacity of the recorded pixels. */
  grow() {
    const indices = new Uint32Array(this.indices.length * 2);
    indices.set(this.indices);
    const before = new Uint8Array(this.before.length * 2);
    before.set(this.before);
    this.indices = indices;
    this.before = before;
  }

  /** The rectangle of every pixel touched so far (null if none). */
  rect() {
    if (!this.count && !this.spans.length) return null;
    return { x: this.x0, y: this.y0, width: this.x1 - this.x0 + 1, height: this.y1 - this.y0 + 1 };
  }

  /** End the gesture: the diff of what really changed (null if nothing), the scratch map cleared. */
  finish() {
    const { data } = this.mask;
    let kept = 0;
    for (let i = 0; i < this.count; i += 1) {
      const index = this.indices[i];
      this.touched[index] = 0;
      if (data[index] !== this.before[i]) {
        this.indices[kept] = index;
        this.before[kept] = this.before[i];
        kept += 1;
      }
    }
    const rect = this.rect();
    const { spans } = this;
    this.count = 0;
    this.spans = [];
    if (!kept && !spans.length) return null;
    const indices = this.indices.subarray(0, kept);
    return makeDiff(this.mask, indices, this.before.subarray(0, kept), rect, spans);
  }
}

/**
 * A diff from changed pixels (indices with their old values) and spans ({start, before}: a row
 * segment's old values); new values are read from the mask.
 */
export function makeDiff(mask, indices, before, rect, spans = []) {
  const area = rect.width * rect.height;
  let changed = indices.length;
  for (const span of spans) {
    for (let k = 0; k < span.before.length; k += 1) {
      if (span.before[k] !== mask.data[span.start + k]) changed += 1;
    }
  }
  if (area * 2 < changed * 6) {
    const patchBefore = new Uint8Array(area);
    const patchAfter = new Uint8Array(area);
    for (let row = 0; row < rect.height; row += 1) {
      const start = (rect.y + row) * mask.width + rect.x;
      patchAfter.set(mask.data.subarray(start, start + rect.width), row * rect.width);
    }
    patchBefore.set(patchAfter);
    for (const span of spans) {
      const y = (span.start / mask.width) | 0;
      patchBefore.set(span.before, (y - rect.y) * rect.width + (span.start - y * mask.width - rect.x));
    }
    for (let i = 0; i < indices.length; i += 1) {
      const y = (indices[i] / mask.width) | 0;
      const x = indices[i] - y * mask.width;
      patchBefore[(y - rect.y) * rect.width + (x - rect.x)] = before[i];
    }
    return { kind: 'patch', rect, before: patchBefore, after: patchAfter, changed };
  }
  if (spans.length) {
    const allIndices = Array.from(indices);
    const allBefore = Array.from(before);
    for (const span of spans) {
      for (let k = 0; k < span.before.length; k += 1) {
        if (span.before[k] !== mask.data[span.start + k]) {
          allIndices.push(span.start + k);
          allBefore.push(span.before[k]);
        }
      }
    }
    return makeDiff(mask, Uint32Array.from(allIndices), Uint8Array.from(allBefore), rect);
  }
  const after = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i += 1) after[i] = mask.data[indices[i]];
  return { kind: 'pixels', rect, indices: indices.slice(), before: before.slice(), after,
    changed };
}

/** Write a diff's `side` ('before' for undo, 'after' for redo) into the mask; returns its rectangle. */
export function applyDiff(mask, diff, side) {
  const values = diff[side];
  if (diff.kind === 'patch') {
    const { rect } = diff;
    for (let row = 0; row < rect.height; row += 1) {
      const start = (rect.y + row) * mask.width + rect.x;
      mask.data.set(values.subarray(row * rect.width, (row + 1) * rect.width), start);
    }
  } else {
    for (let i = 0; i < diff.indices.length; i += 1) mask.data[diff.indices[i]] = values[i];
  }
  return diff.rect;
}

/** Bytes a diff keeps alive. */
export function diffBytes(diff) {
  return diff.kind === 'patch' ? diff.before.length * 2 : diff.indices.length * 6;
}
