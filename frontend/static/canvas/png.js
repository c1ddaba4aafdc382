// Mask codecs: a label mask as a PNG of label indices, in pure JS. Encoding writes an 8-bit
// greyscale PNG (mode L: pixel value = label index), which the server accepts as is; decoding
// reads the server's indexed PNGs (colour type 3, any bit depth: palette index = label) and
// greyscale ones. Labels never pass through colours. zlib via (De)CompressionStream('deflate'),
// present in browsers and in Node 18+.

import { LabelMask } from './mask.js';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309) of `bytes`, as PNG chunks use it. */
export function crc32(bytes, crc = 0xffffffff) {
  let c = crc;
  for (let i = 0; i < bytes.length; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function transform(bytes, stream) {
  const blob = new Blob([bytes]);
  return new Uint8Array(await new Response(blob.stream().pipeThrough(stream)).arrayBuffer());
}

function chunk(type, body) {
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  for (let i = 0; i < 4; i += 1) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  view.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** Encode a mask as an 8-bit greyscale PNG whose pixel values are the label indices. */
export async function encodeMaskPng(mask) {
  const { width, height, data } = mask;
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width + 1)] = 0; // filter: none
    raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, adaptive filters, no interlace
  const idat = await transform(raw, new CompressionStream('deflate'));
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', header), chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) { out.set(part, offset); offset += part.length; }
  return out;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a); const pb = Math.abs(p - b); const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Undo PNG's per-row filters in place (one byte per pixel or less: bpp = 1). */
function unfilter(raw, stride, height) {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let x = 0; x < stride; x += 1) {
      const a = x ? out[dst + x - 1] : 0;
      const b = y ? out[dst - stride + x] : 0;
      const c = x && y ? out[dst - stride + x - 1] : 0;
      const value = raw[src + x];
      let result;
      if (filter === 0) result = value;
      else if (filter === 1) result = value + a;
      else if (filter === 2) result = value + b;
      else if (filter === 3) result = value + ((a + b) >> 1);
      else if (filter === 4) result = value + paeth(a, b, c);
      else throw new Error(`PNG row ${y} has an unknown filter ${filter}`);
      out[dst + x] = result & 0xff;
    }
  }
  return out;
}

/** Decode a greyscale or indexed PNG (not interlaced) into a LabelMask of its values. */
export async function decodeMaskPng(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (data.length < 8 || SIGNATURE.some((value, i) => data[i] !== value)) throw new Error('not a PNG');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let offset = 8;
  let header = null;
  const idat = [];
  while (offset + 8 <= data.length) {
    const length = view.getUint32(offset);
    const type = String.fromCharCode(...data.subarray(offset + 4, offset + 8));
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (body.length !== length) throw new Error(`truncated PNG chunk ${type}`);
    if (type === 'IHDR') {
      header = { width: view.getUint32(offset + 8), height: view.getUint32(offset + 12),
        depth: body[8], colour: body[9], interlace: body[12] };
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  if (!header) throw new Error('PNG without a header');
  const { width, height, depth, colour, interlace } = header;
  if (colour !== 0 && colour !== 3) throw new Error(`PNG colour type ${colour} is not a label mask`);
  if (interlace) throw new Error('interlaced PNG masks are not supported');
  if (![1, 2, 4, 8].includes(depth)) throw new Error(`PNG bit depth ${depth} is not supported`);
  const compressed = new Uint8Array(idat.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of idat) { compressed.set(part, at); at += part.length; }
  const raw = await transform(compressed, new DecompressionStream('deflate'));
  const stride = Math.ceil((width * depth) / 8);
  if (raw.length < (stride + 1) * height) throw new Error('PNG image data is truncated');
  const rows = unfilter(raw, stride, height);
  const labels = new Uint8Array(width * height);
  const perByte = 8 / depth;
  const maskBits = (1 << depth) - 1;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const byte = rows[y * stride + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      labels[y * width + x] = (byte >> shift) & maskBits;
    }
  }
  return new LabelMask(width, height, labels);
}
