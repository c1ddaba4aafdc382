// The label mask: one Uint8Array of label indices, row-major, plus the rectangle helpers every
// tool uses to report what it changed. Pure: no DOM.

/** A width x height raster of label indices (0 = background). */
export class LabelMask {
  /** A mask of the given size, all background, or wrapping `data` (not copied). */
  constructor(width, height, data = null) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`invalid mask size ${width}x${height}`);
    }
    if (data && data.length !== width * height) {
      throw new RangeError(`a ${width}x${height} mask needs ${width * height} values, got ${data.length}`);
    }
    this.width = width;
    this.height = height;
    this.data = data || new Uint8Array(width * height);
  }

  /** Whether (x, y) is a pixel of the mask. */
  contains(x, y) {
    return x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  /** The label at (x, y), or -1 outside the mask. */
  get(x, y) {
    return this.contains(x, y) ? this.data[y * this.width + x] : -1;
  }

  /** A deep copy. */
  clone() {
    return new LabelMask(this.width, this.height, this.data.slice());
  }

  /** The whole mask as a rectangle. */
  bounds() {
    return { x: 0, y: 0, width: this.width, height: this.height };
  }
}

/** The smallest rectangle holding both (either may be null). */
export function unionRect(a, b) {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x, y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

/** The rectangle covering the pixels whose indices are listed (null when empty). */
export function rectOfIndices(indices, width) {
  if (!indices.length) return null;
  let x0 = Infinity; let y0 = Infinity; let x1 = -1; let y1 = -1;
  for (let i = 0; i < indices.length; i += 1) {
    const y = Math.floor(indices[i] / width);
    const x = indices[i] - y * width;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** Pixel count per label index (an array as long as the largest label + 1). */
export function labelCounts(mask) {
  const counts = [];
  for (const value of mask.data) counts[value] = (counts[value] || 0) + 1;
  return Array.from(counts, (count) => count || 0);
}
