// Zoom and pan of the mask on screen: a scale and an offset mapping mask pixels to CSS pixels
// of the stage. Wheel zoom keeps the point under the cursor fixed. Pure.

export const MIN_SCALE = 0.25;
export const MAX_SCALE = 64;

/** The stage transform: screen = offset + mask * scale. */
export class Viewport {
  /** A viewport for a `width` x `height` mask shown in a `stageWidth` x `stageHeight` stage. */
  constructor(width, height, stageWidth, stageHeight) {
    this.width = width;
    this.height = height;
    this.resize(stageWidth, stageHeight);
    this.reset();
  }

  /** The stage changed size (the view is not moved). */
  resize(stageWidth, stageHeight) {
    this.stageWidth = stageWidth;
    this.stageHeight = stageHeight;
  }

  /** Fit the whole mask in the stage, centred. */
  reset() {
    this.scale = clamp(Math.min(this.stageWidth / this.width, this.stageHeight / this.height),
      MIN_SCALE, MAX_SCALE);
    this.offsetX = (this.stageWidth - this.width * this.scale) / 2;
    this.offsetY = (this.stageHeight - this.height * this.scale) / 2;
  }

  /** Continuous mask coordinates of a stage point. */
  toMask(sx, sy) {
    return [(sx - this.offsetX) / this.scale, (sy - this.offsetY) / this.scale];
  }

  /** Stage coordinates of a mask point. */
  toStage(mx, my) {
    return [this.offsetX + mx * this.scale, this.offsetY + my * this.scale];
  }

  /** Multiply the scale by `factor` (clamped), keeping stage point (sx, sy) over the same mask point. */
  zoomAt(sx, sy, factor) {
    const [mx, my] = this.toMask(sx, sy);
    this.scale = clamp(this.scale * factor, MIN_SCALE, MAX_SCALE);
    this.offsetX = sx - mx * this.scale;
    this.offsetY = sy - my * this.scale;
  }

  /** Move the view by (dx, dy) stage pixels. */
  pan(dx, dy) {
    this.offsetX += dx;
    this.offsetY += dy;
  }

  /** The CSS transform placing a mask-sized element (transform-origin 0 0) on the stage. */
  cssTransform() {
    return `translate(${this.offsetX}px, ${this.offsetY}px) scale(${this.scale})`;
  }
}

/** The zoom factor of one wheel event's deltaY (about 1.2x per notch of 100). */
export function wheelFactor(deltaY) {
  return Math.exp(-clamp(deltaY, -500, 500) * 0.0018);
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}
