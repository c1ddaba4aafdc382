// The annotation stage: the image and the mask canvas in one zoomable, pannable layer, the
// pointer turned into editor gestures (left: the tool, right: erase, middle or space: pan),
// wheel zoom to the cursor, the brush outline and the polygon being drawn.

import { Viewport, wheelFactor } from '../canvas/viewport.js';

const CLOSE_RADIUS_PX = 8; // screen pixels around the first polygon vertex that close it

/** Wires the stage element to an editor and a mask view. */
export class Stage {
  /** `elements`: {stage, layer, cursor, polyline}; `onInput` runs after every gesture step. */
  constructor(elements, editor, resolution, { readOnly = false, onInput = () => {}, onView = () => {} } = {}) {
    Object.assign(this, elements);
    this.editor = editor;
    this.readOnly = readOnly;
    this.onInput = onInput;
    this.onView = onView;
    const box = this.stage.getBoundingClientRect();
    this.viewport = new Viewport(resolution, resolution, box.width, box.height);
    this.spaceHeld = false;
    this.pan = null;
    this.drawing = false;
    this.pointer = null;
    this.bind();
    this.apply();
    new ResizeObserver(() => {
      const { width, height } = this.stage.getBoundingClientRect();
      this.viewport.resize(width, height);
      this.viewport.reset();
      this.apply();
    }).observe(this.stage);
  }

  /** Stage coordinates of a pointer event. */
  local(event) {
    const box = this.stage.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  /** Mask coordinates of a pointer event. */
  maskPoint(event) {
    return this.viewport.toMask(...this.local(event));
  }

  /** Listen to the stage's pointer, wheel and context-menu events. */
  bind() {
    const { stage } = this;
    stage.addEventListener('contextmenu', (event) => event.preventDefault());
    stage.addEventListener('pointerdown', (event) => this.down(event));
    stage.addEventListener('pointermove', (event) => this.move(event));
    stage.addEventListener('pointerup', (event) => this.up(event));
    stage.addEventListener('pointercancel', (event) => this.up(event));
    stage.addEventListener('pointerleave', () => { this.pointer = null; this.drawCursor(); });
    stage.addEventListener('wheel', (event) => {
      event.preventDefault();
      this.viewport.zoomAt(...this.local(event), wheelFactor(event.deltaY));
      this.apply();
    }, { passive: false });
  }

  /** Space was pressed or released (the page's key handler owns the keyboard). */
  setSpace(held) {
    this.spaceHeld = held;
    this.stage.classList.toggle('panning', held || Boolean(this.pan));
  }

  /** Pointer down: start a pan (middle button, or space held) or a tool gesture (left; right erases). */
  down(event) {
    this.stage.focus({ preventScroll: true });
    if (event.button === 1 || (event.button === 0 && this.spaceHeld)) {
      event.preventDefault();
      this.pan = { x: event.clientX, y: event.clientY };
      this.stage.setPointerCapture(event.pointerId);
      this.setSpace(this.spaceHeld);
      return;
    }
    if (this.readOnly || (event.button !== 0 && event.button !== 2)) return;
    event.preventDefault();
    this.stage.setPointerCapture(event.pointerId);
    const [x, y] = this.maskPoint(event);
    this.drawing = true;
    this.editor.pointerDown(x, y, { erase: event.button === 2,
      closeRadius: CLOSE_RADIUS_PX / this.viewport.scale });
    this.afterInput();
  }

  /** Pointer move: pan, or feed every coalesced sample to the gesture; move the brush outline. */
  move(event) {
    this.pointer = this.local(event);
    if (this.pan) {
      this.viewport.pan(event.clientX - this.pan.x, event.clientY - this.pan.y);
      this.pan = { x: event.clientX, y: event.clientY };
      this.apply();
      return;
    }
    if (this.drawing) {
      const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const sample of samples.length ? samples : [event]) {
        this.editor.pointerMove(...this.maskPoint(sample));
      }
      this.afterInput();
    }
    this.drawCursor();
  }

  /** Pointer up or cancelled: end the pan or the gesture. */
  up(event) {
    if (this.pan) {
      this.pan = null;
      this.setSpace(this.spaceHeld);
      return;
    }
    if (!this.drawing) return;
    this.drawing = false;
    if (this.stage.hasPointerCapture(event.pointerId)) this.stage.releasePointerCapture(event.pointerId);
    this.editor.pointerUp();
    this.afterInput();
  }

  /** Redraw the overlays and tell the page after a gesture step. */
  afterInput() {
    this.drawPolygon();
    this.drawCursor();
    this.onInput();
  }

  /** Fit the mask in the stage again. */
  resetView() {
    this.viewport.reset();
    this.apply();
  }

  /** Place the layer by the viewport and redraw the overlays. */
  apply() {
    this.layer.style.transform = this.viewport.cssTransform();
    this.stage.style.setProperty('--zoom', String(this.viewport.scale));
    this.drawCursor();
    this.onView(this.viewport);
  }

  /** The polygon or lasso being drawn, as a polyline in mask coordinates. */
  drawPolygon() {
    this.polyline.setAttribute('points', this.editor.polygon.map(([x, y]) => `${x},${y}`).join(' '));
  }

  /** The brush outline under the pointer, at the brush's size on screen. */
  drawCursor() {
    const { tool, size } = this.editor;
    const brushLike = tool === 'brush' || tool === 'eraser';
    this.stage.dataset.tool = tool;
    if (!this.pointer || !brushLike || this.readOnly || this.pan || this.spaceHeld) {
      this.cursor.hidden = true;
      return;
    }
    const diameter = Math.max(4, size * this.viewport.scale);
    this.cursor.hidden = false;
    this.cursor.style.width = `${diameter}px`;
    this.cursor.style.height = `${diameter}px`;
    this.cursor.style.transform = `translate(${this.pointer[0] - diameter / 2}px, ${this.pointer[1] - diameter / 2}px)`;
  }
}
