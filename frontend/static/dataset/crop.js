// The square crop box chosen on a photo before upload (the API's crop_x, crop_y, crop_size).

export const MIN_CROP = 16;

/** The largest centred square of a width x height photo (what the server uses without a crop). */
export function centredSquare(width, height) {
  const size = Math.min(width, height);
  return { x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2), size };
}

/** `box` made valid for a width x height photo: whole pixels, at least MIN_CROP, inside the photo. */
export function clampBox(box, width, height) {
  const limit = Math.min(width, height);
  const size = Math.round(Math.min(limit, Math.max(Math.min(MIN_CROP, limit), box.size)));
  const x = Math.round(Math.min(width - size, Math.max(0, box.x)));
  const y = Math.round(Math.min(height - size, Math.max(0, box.y)));
  return { x, y, size };
}

/** `box` resized to `size` around its centre, then clamped. */
export function resizeBox(box, size, width, height) {
  const centreX = box.x + box.size / 2;
  const centreY = box.y + box.size / 2;
  return clampBox({ x: centreX - size / 2, y: centreY - size / 2, size }, width, height);
}

export class CropBox {
  /**
   * Draws `bitmap` on `canvas` with the crop square over it; the square follows drags, the wheel,
   * arrow keys (Shift: 10 px) and +/- keys, and `sizeInput` (a range input, in photo pixels).
   */
  constructor(canvas, sizeInput, onChange = () => {}) {
    this.canvas = canvas;
    this.sizeInput = sizeInput;
    this.onChange = onChange;
    this.bitmap = null;
    this.box = null;
    this.drag = null;
    canvas.addEventListener("pointerdown", (event) => this.startDrag(event));
    canvas.addEventListener("pointermove", (event) => this.moveDrag(event));
    canvas.addEventListener("pointerup", () => { this.drag = null; });
    canvas.addEventListener("pointercancel", () => { this.drag = null; });
    canvas.addEventListener("wheel", (event) => {
      if (!this.box) return;
      event.preventDefault();
      this.set(resizeBox(this.box, this.box.size * (event.deltaY > 0 ? 1.06 : 1 / 1.06), ...this.dimensions()));
    }, { passive: false });
    canvas.addEventListener("keydown", (event) => this.key(event));
    sizeInput.addEventListener("input", () => {
      if (this.box) this.set(resizeBox(this.box, Number(sizeInput.value), ...this.dimensions()));
    });
  }

  /** Show a new photo with the largest centred square chosen. */
  load(bitmap) {
    this.bitmap = bitmap;
    const [width, height] = this.dimensions();
    this.sizeInput.min = String(Math.min(MIN_CROP, Math.min(width, height)));
    this.sizeInput.max = String(Math.min(width, height));
    this.set(centredSquare(width, height));
  }

  dimensions() {
    return [this.bitmap.width, this.bitmap.height];
  }

  set(box) {
    this.box = clampBox(box, ...this.dimensions());
    this.sizeInput.value = String(this.box.size);
    this.draw();
    this.onChange(this.box);
  }

  /** Canvas scale and offset that fit the photo. */
  layout() {
    const [width, height] = this.dimensions();
    const scale = Math.min(this.canvas.width / width, this.canvas.height / height);
    return { scale, left: (this.canvas.width - width * scale) / 2, top: (this.canvas.height - height * scale) / 2 };
  }

  toPhoto(event) {
    const rect = this.canvas.getBoundingClientRect();
    const { scale, left, top } = this.layout();
    const canvasX = (event.clientX - rect.left) * (this.canvas.width / rect.width);
    const canvasY = (event.clientY - rect.top) * (this.canvas.height / rect.height);
    return { x: (canvasX - left) / scale, y: (canvasY - top) / scale };
  }

  startDrag(event) {
    if (!this.box) return;
    const point = this.toPhoto(event);
    const inside = point.x >= this.box.x && point.x <= this.box.x + this.box.size
      && point.y >= this.box.y && point.y <= this.box.y + this.box.size;
    // Outside the square: centre the square there, then drag from its centre.
    if (!inside) this.set({ ...this.box, x: point.x - this.box.size / 2, y: point.y - this.box.size / 2 });
    this.drag = { start: point, box: this.box };
    this.canvas.setPointerCapture(event.pointerId);
  }

  moveDrag(event) {
    if (!this.drag) return;
    const point = this.toPhoto(event);
    const { start, box } = this.drag;
    this.set({ ...box, x: box.x + point.x - start.x, y: box.y + point.y - start.y });
  }

  key(event) {
    if (!this.box) return;
    const step = event.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      const [dx, dy] = moves[event.key];
      this.set({ ...this.box, x: this.box.x + dx, y: this.box.y + dy });
    } else if (event.key === "+" || event.key === "=" || event.key === "-") {
      const factor = event.key === "-" ? 1 / 1.06 : 1.06;
      this.set(resizeBox(this.box, this.box.size * factor, ...this.dimensions()));
    } else {
      return;
    }
    event.preventDefault();
  }

  draw() {
    const context = this.canvas.getContext("2d");
    const { scale, left, top } = this.layout();
    const [width, height] = this.dimensions();
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    context.drawImage(this.bitmap, left, top, width * scale, height * scale);
    const x = left + this.box.x * scale;
    const y = top + this.box.y * scale;
    const size = this.box.size * scale;
    context.fillStyle = "rgba(15, 20, 30, 0.55)";
    context.beginPath();
    context.rect(left, top, width * scale, height * scale);
    context.rect(x + size, y, -size, size); // the square, wound the other way: a hole in the shade
    context.fill("evenodd");
    context.strokeStyle = "#ffffff";
    context.lineWidth = 2;
    context.strokeRect(x + 1, y + 1, size - 2, size - 2);
    context.fillStyle = "#ffffff";
    for (const [cornerX, cornerY] of [[x, y], [x + size, y], [x, y + size], [x + size, y + size]]) {
      context.fillRect(cornerX - 4, cornerY - 4, 8, 8);
    }
  }
}
