// A mask as compact text for the browser's storage (offline drafts): run-length pairs of
// (count - 1, label) bytes, base64. Pure.

import { LabelMask } from './mask.js';

/** Run-length encode label indices as bytes [run - 1, label, ...] with runs of at most 256. */
export function rleEncode(data) {
  const out = [];
  let i = 0;
  while (i < data.length) {
    const value = data[i];
    let run = 1;
    while (run < 256 && i + run < data.length && data[i + run] === value) run += 1;
    out.push(run - 1, value);
    i += run;
  }
  return Uint8Array.from(out);
}

/** Decode rleEncode's bytes into `length` label indices (throws if they do not add up). */
export function rleDecode(bytes, length) {
  const out = new Uint8Array(length);
  let at = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const run = bytes[i] + 1;
    if (at + run > length) throw new Error('run-length data longer than the mask');
    out.fill(bytes[i + 1], at, at + run);
    at += run;
  }
  if (at !== length) throw new Error('run-length data shorter than the mask');
  return out;
}

/** Bytes as base64 text. */
export function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** base64 text as bytes. */
export function fromBase64(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

/** A mask as a JSON-ready object {width, height, rle}. */
export function serializeMask(mask) {
  return { width: mask.width, height: mask.height, rle: toBase64(rleEncode(mask.data)) };
}

/** The mask serializeMask described. */
export function deserializeMask(record) {
  return new LabelMask(record.width, record.height,
    rleDecode(fromBase64(record.rle), record.width * record.height));
}
