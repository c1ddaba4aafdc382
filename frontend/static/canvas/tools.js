// The painting tools on a LabelMask, each writing through a ChangeSet: round brush stamps,
// strokes between pointer samples, scanline flood fill, polygon rasterisation and the picker.
// `protect` (a label index or null) restricts every tool to pixels that hold that label
// ("paint only over label X"). Pure: no DOM.

const kernels = new Map();

/**
 * The round brush of diameter `size` as row spans: [{dy, x0, x1}] offsets from the stamp's
 * anchor pixel. A pixel is covered when its centre lies within size/2 of the brush centre; the
 * centre is the anchor pixel's centre for odd sizes and its top-left corner for even sizes.
 */
export function brushKernel(size) {
  const diameter = Math.max(1, Math.round(size));
  let spans = kernels.get(diameter);
  if (spans) return spans;
  const radius = diameter / 2;
  const centre = diameter % 2 ? 0.5 : 0; // brush centre relative to the anchor pixel's corner
  const reach = Math.ceil(radius);
  spans = [];
  for (let dy = -reach; dy <= reach; dy += 1) {
    const cy = dy + 0.5 - centre;
    let x0 = null; let x1 = null;
    for (let dx = -reach; dx <= reach; dx += 1) {
      const cx = dx + 0.5 - centre;
      if (cx * cx + cy * cy <= radius * radius) {
        if (x0 === null) x0 = dx;
        x1 = dx;
      }
    }
    if (x0 !== null) spans.push({ dy, x0, x1 });
  }
  kernels.set(diameter, spans);
  return spans;
}

/** The anchor pixel of a brush of `size` at the continuous mask position (x, y). */
export function brushAnchor(x, y, size) {
  const diameter = Math.max(1, Math.round(size));
  return diameter % 2 ? [Math.floor(x), Math.floor(y)] : [Math.round(x), Math.round(y)];
}

/** Stamp the brush at anchor pixel (ax, ay) with `label`; returns the number of pixels changed. */
export function stamp(changes, ax, ay, size, label, protect = null) {
  const { mask } = changes;
  const { width, height, data } = mask;
  let changed = 0;
  for (const { dy, x0, x1 } of brushKernel(size)) {
    const y = ay + dy;
    if (y < 0 || y >= height) continue;
    const from = Math.max(0, ax + x0);
    const to = Math.min(width - 1, ax + x1);
    const row = y * width;
    if (protect === null) {
      if (from <= to) changed += changes.setSpan(row, from, to, label);
      continue;
    }
    for (let x = from; x <= to; x += 1) {
      // A pixel this gesture already painted holds `label`, so setting it again is a no-op.
      if (data[row + x] === protect && changes.set(row + x, label)) changed += 1;
    }
  }
  return changed;
}

/** The integer points of the line from (x0, y0) to (x1, y1), both ends included (Bresenham). */
export function linePoints(x0, y0, x1, y1) {
  const points = [];
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let error = dx + dy;
  let x = x0; let y = y0;
  for (;;) {
    points.push([x, y]);
    if (x === x1 && y === y1) return points;
    const doubled = 2 * error;
    if (doubled >= dy) { error += dy; x += sx; }
    if (doubled <= dx) { error += dx; y += sy; }
  }
}

/**
 * Stamp the brush along the segment between two anchors, every integer point of the line, so a
 * fast pointer leaves no gaps. The first anchor is skipped when `skipFirst` (already stamped).
 */
export function strokeSegment(changes, from, to, size, label, protect = null, skipFirst = false) {
  let changed = 0;
  const points = linePoints(from[0], from[1], to[0], to[1]);
  for (let i = skipFirst ? 1 : 0; i < points.length; i += 1) {
    changed += stamp(changes, points[i][0], points[i][1], size, label, protect);
  }
  return changed;
}

/**
 * Scanline flood fill: the 4-connected region of the seed's label becomes `label`. With
 * `protect` set, nothing happens unless the seed holds that label. Returns the pixels changed.
 */
export function floodFill(changes, x, y, label, protect = null) {
  const { mask } = changes;
  const { width, height, data } = mask;
  if (!mask.contains(x, y)) return 0;
  const target = data[y * width + x];
  if (target === label || (protect !== null && target !== protect)) return 0;
  let changed = 0;
  const stack = [x, y];
  while (stack.length) {
    const sy = stack.pop();
    const sx = stack.pop();
    let row = sy * width;
    if (data[row + sx] !== target) continue;
    let left = sx;
    while (left > 0 && data[row + left - 1] === target) left -= 1;
    let right = sx;
    while (right < width - 1 && data[row + right + 1] === target) right += 1;
    changed += changes.fillSpan(row, left, right, label);
    for (const ny of [sy - 1, sy + 1]) {
      if (ny < 0 || ny >= height) continue;
      row = ny * width;
      let inRun = false;
      for (let px = left; px <= right; px += 1) {
        const matches = data[row + px] === target;
        if (matches && !inRun) stack.push(px, ny);
        inRun = matches;
      }
    }
  }
  return changed;
}

/**
 * Fill a polygon (or lasso) given as [[x, y], ...] in continuous mask coordinates, by the
 * even-odd rule sampled at pixel centres: pixel (px, py) is inside when its centre
 * (px + 0.5, py + 0.5) is. Returns the pixels changed.
 */
export function fillPolygon(changes, points, label, protect = null) {
  const { mask } = changes;
  const { width, height, data } = mask;
  if (points.length < 3) return 0;
  let minY = Infinity; let maxY = -Infinity;
  for (const [, py] of points) { minY = Math.min(minY, py); maxY = Math.max(maxY, py); }
  const firstRow = Math.max(0, Math.ceil(minY - 0.5));
  const lastRow = Math.min(height - 1, Math.floor(maxY - 0.5));
  let changed = 0;
  const crossings = [];
  for (let py = firstRow; py <= lastRow; py += 1) {
    const cy = py + 0.5;
    crossings.length = 0;
    for (let i = 0; i < points.length; i += 1) {
      const [ax, ay] = points[i];
      const [bx, by] = points[(i + 1) % points.length];
      // Half-open in y so a vertex on the scanline is counted once.
      if ((ay <= cy && by > cy) || (by <= cy && ay > cy)) {
        crossings.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
      }
    }
    crossings.sort((a, b) => a - b);
    const row = py * width;
    for (let i = 0; i + 1 < crossings.length; i += 2) {
      const from = Math.max(0, Math.ceil(crossings[i] - 0.5));
      const to = Math.min(width - 1, Math.ceil(crossings[i + 1] - 0.5) - 1);
      if (protect === null) {
        if (from <= to) changed += changes.fillSpan(row, from, to, label);
        continue;
      }
      for (let px = from; px <= to; px += 1) {
        if (data[row + px] === protect && changes.set(row + px, label)) changed += 1;
      }
    }
  }
  return changed;
}

/** The label under continuous position (x, y), or -1 outside the mask. */
export function pickLabel(mask, x, y) {
  return mask.get(Math.floor(x), Math.floor(y));
}
