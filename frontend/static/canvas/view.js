// Drawing a label mask through the taxonomy's palette onto a canvas at the mask's native
// resolution (CSS scales it with image-rendering: pixelated, so no colour is ever blended into
// a label). Only the dirty rectangle is rewritten. Opacity and visibility are the canvas
// element's CSS, so changing them repaints nothing. The canvas context is passed in.

/** '#rrggbb' as RGBA bytes packed little-endian (ImageData's Uint32 layout) with `alpha`. */
export function packColour(hex, alpha = 255) {
  const value = /^#([0-9a-f]{6})$/i.exec(hex || '');
  if (!value) throw new Error(`bad colour ${hex}`);
  const n = parseInt(value[1], 16);
  return ((alpha << 24) | ((n & 0xff) << 16) | (n & 0xff00) | (n >> 16)) >>> 0;
}

/** A 256-entry packed palette from the taxonomy's colours; label 0 and unknown labels transparent. */
export function buildPalette(colours, { backgroundVisible = false } = {}) {
  const palette = new Uint32Array(256);
  colours.forEach((hex, index) => {
    palette[index] = index === 0 && !backgroundVisible ? 0 : packColour(hex);
  });
  return palette;
}

/** Paints a LabelMask onto a 2D context of a canvas as large as the mask. */
export class MaskView {
  /** A view of `mask` on `context` (CanvasRenderingContext2D or an object with the same calls). */
  constructor(context, mask, palette) {
    this.context = context;
    this.palette = palette;
    this.setMask(mask);
  }

  /** Show another mask (same or new size); repaints everything. */
  setMask(mask) {
    this.mask = mask;
    this.image = this.context.createImageData(mask.width, mask.height);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.paint(mask.bounds());
  }

  /** Change the palette; repaints everything. */
  setPalette(palette) {
    this.palette = palette;
    this.paint(this.mask.bounds());
  }

  /** Rewrite the pixels of `rect` (mask coordinates) from the mask and put only that rectangle. */
  paint(rect) {
    if (!rect) return;
    const { width, height, data } = this.mask;
    const x0 = Math.max(0, rect.x); const y0 = Math.max(0, rect.y);
    const x1 = Math.min(width, rect.x + rect.width); const y1 = Math.min(height, rect.y + rect.height);
    if (x1 <= x0 || y1 <= y0) return;
    const { pixels, palette } = this;
    for (let y = y0; y < y1; y += 1) {
      const row = y * width;
      for (let i = row + x0; i < row + x1; i += 1) pixels[i] = palette[data[i]];
    }
    this.context.putImageData(this.image, 0, 0, x0, y0, x1 - x0, y1 - y0);
  }
}
