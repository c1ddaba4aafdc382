// The annotation editor's state machine: current tool, label, brush size and protection,
// pointer gestures turned into tool calls, polygon/lasso vertices, and undo/redo. It knows no
// DOM: the page feeds it mask coordinates and actions, and repaints the rectangles it reports
// through `onChange(rect)`. Every committed change bumps `revision` (the page's dirty flag).

import { ChangeSet } from './changes.js';
import { History } from './history.js';
import { brushAnchor, fillPolygon, floodFill, pickLabel, strokeSegment } from './tools.js';

export const TOOLS = ['brush', 'eraser', 'fill', 'polygon', 'picker'];
export const MIN_SIZE = 1;
export const MAX_SIZE = 200;
const LASSO_STEP = 1; // mask pixels between recorded lasso points

/** Editing state over one LabelMask. */
export class Editor {
  /** An editor for `mask` whose taxonomy has `labelCount` labels. */
  constructor(mask, { labelCount, history = new History(), onChange = () => {} } = {}) {
    this.mask = mask;
    this.labelCount = labelCount;
    this.history = history;
    this.onChange = onChange;
    this.tool = 'brush';
    this.previousTool = 'brush';
    this.label = Math.min(1, labelCount - 1);
    this.previousLabel = 0;
    this.size = 8;
    this.protect = null;
    this.revision = 0;
    this.gesture = null;
    this.polygon = [];
  }

  /** Replace the mask (a version was loaded): history is cleared, nothing is dirty. */
  load(mask) {
    this.cancelGesture();
    this.polygon = [];
    this.mask = mask;
    this.history.clear();
    this.onChange(mask.bounds());
  }

  /** Choose a tool by name. */
  setTool(tool) {
    if (!TOOLS.includes(tool)) throw new Error(`unknown tool ${tool}`);
    if (tool !== 'polygon') this.polygon = [];
    if (tool !== this.tool) this.previousTool = this.tool;
    this.tool = tool;
  }

  /** Choose the painting label; the old one becomes the "previous label" X swaps back to. */
  setLabel(label) {
    if (!Number.isInteger(label) || label < 0 || label >= this.labelCount) return false;
    if (label !== this.label) {
      this.previousLabel = this.label;
      this.label = label;
    }
    return true;
  }

  /** Brush diameter in mask pixels, clamped to [MIN_SIZE, MAX_SIZE]. */
  setSize(size) {
    this.size = Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.round(size)));
  }

  /** Restrict painting to pixels of `label` (null: paint anywhere). */
  setProtect(label) {
    this.protect = label === null || label === undefined || label < 0 ? null : label;
  }

  /** Run a keymap action the editor owns; false for actions that belong to the page. */
  perform(action) {
    const [kind, arg] = action.split(':');
    if (kind === 'tool') this.setTool(arg);
    else if (kind === 'label' && arg === 'swap') this.setLabel(this.previousLabel);
    else if (kind === 'label') this.setLabel(Number(arg));
    else if (action === 'size:down') this.setSize(this.size - 1);
    else if (action === 'size:up') this.setSize(this.size + 1);
    else if (action === 'size:down10') this.setSize(this.size - 10);
    else if (action === 'size:up10') this.setSize(this.size + 10);
    else if (action === 'undo') this.undo();
    else if (action === 'redo') this.redo();
    else if (action === 'polygon:close') this.closePolygon();
    else if (action === 'polygon:cancel') this.polygon = [];
    else return false;
    return true;
  }

  /**
   * A pointer went down at mask point (x, y). `erase` (right button) erases with the brush for
   * this gesture whatever the tool; `closeRadius` (mask px) is how near the first polygon vertex
   * a click closes the polygon.
   */
  pointerDown(x, y, { erase = false, closeRadius = 1 } = {}) {
    this.cancelGesture();
    const tool = erase ? 'eraser' : this.tool;
    if (tool === 'brush' || tool === 'eraser') {
      const label = tool === 'eraser' ? 0 : this.label;
      const changes = new ChangeSet(this.mask);
      const anchor = brushAnchor(x, y, this.size);
      strokeSegment(changes, anchor, anchor, this.size, label, this.protect);
      this.gesture = { kind: 'stroke', changes, label, anchor };
      this.onChange(segmentRect(anchor, anchor, this.size));
    } else if (tool === 'fill') {
      this.commit((changes) => floodFill(changes, Math.floor(x), Math.floor(y), this.label, this.protect));
    } else if (tool === 'picker') {
      const label = pickLabel(this.mask, x, y);
      if (label >= 0) this.setLabel(label);
      this.setTool(this.previousTool === 'picker' ? 'brush' : this.previousTool);
    } else if (tool === 'polygon') {
      const [fx, fy] = this.polygon[0] || [];
      if (this.polygon.length >= 3 && Math.hypot(x - fx, y - fy) <= closeRadius) {
        this.closePolygon();
        return;
      }
      this.polygon.push([x, y]);
      this.gesture = { kind: 'lasso', dragged: false };
    }
  }

  /** The pointer moved to (x, y) with the button still down. */
  pointerMove(x, y) {
    const { gesture } = this;
    if (!gesture) return;
    if (gesture.kind === 'stroke') {
      const anchor = brushAnchor(x, y, this.size);
      if (anchor[0] === gesture.anchor[0] && anchor[1] === gesture.anchor[1]) return;
      strokeSegment(gesture.changes, gesture.anchor, anchor, this.size, gesture.label, this.protect, true);
      this.onChange(segmentRect(gesture.anchor, anchor, this.size));
      gesture.anchor = anchor;
    } else if (gesture.kind === 'lasso') {
      const [lx, ly] = this.polygon[this.polygon.length - 1];
      if (Math.hypot(x - lx, y - ly) >= LASSO_STEP) {
        this.polygon.push([x, y]);
        gesture.dragged = true;
      }
    }
  }

  /** The pointer was released: a stroke becomes one undo step, a dragged lasso is filled. */
  pointerUp() {
    const { gesture } = this;
    this.gesture = null;
    if (!gesture) return;
    if (gesture.kind === 'stroke') this.record(gesture.changes, false);
    else if (gesture.kind === 'lasso' && gesture.dragged && this.polygon.length >= 3) this.closePolygon();
  }

  /** Fill the polygon drawn so far (at least three vertices) and start a new one. */
  closePolygon() {
    const points = this.polygon;
    this.polygon = [];
    if (points.length < 3) return;
    this.commit((changes) => fillPolygon(changes, points, this.label, this.protect));
  }

  /** Replace every pixel with `mask`'s (same size) as one undoable step (taking a saved version). */
  applyMask(mask) {
    if (mask.width !== this.mask.width || mask.height !== this.mask.height) {
      throw new Error(`a ${mask.width}x${mask.height} mask cannot replace a ${this.mask.width}x${this.mask.height} one`);
    }
    this.cancelGesture();
    this.polygon = [];
    this.commit((changes) => {
      for (let i = 0; i < mask.data.length; i += 1) changes.set(i, mask.data[i]);
    });
  }

  /** Undo the last polygon vertex while drawing one, else the last step. */
  undo() {
    if (this.polygon.length) {
      this.polygon.pop();
      return;
    }
    this.cancelGesture();
    const rect = this.history.undo(this.mask);
    if (rect) this.changed(rect);
  }

  /** Redo the last undone step. */
  redo() {
    this.cancelGesture();
    const rect = this.history.redo(this.mask);
    if (rect) this.changed(rect);
  }

  /** Finish a stroke in progress (keeps what it painted as a step). */
  cancelGesture() {
    const { gesture } = this;
    this.gesture = null;
    if (gesture && gesture.kind === 'stroke') this.record(gesture.changes, false);
  }

  /** Run one tool call `paint(changes)` as a single undo step. */
  commit(paint) {
    const changes = new ChangeSet(this.mask);
    paint(changes);
    this.record(changes);
  }

  /** Push a gesture's diff as one step; `repaint` false when its pixels were already shown. */
  record(changes, repaint = true) {
    const rect = changes.rect();
    const diff = changes.finish();
    if (!diff) return;
    this.history.push(diff);
    this.changed(repaint ? rect : null);
  }

  /** A committed change: bump the revision and tell the page (rect null: nothing to repaint). */
  changed(rect) {
    this.revision += 1;
    this.onChange(rect);
  }
}

/** The rectangle a brush segment between two anchors can touch. */
export function segmentRect(from, to, size) {
  const reach = Math.ceil(size / 2) + 1;
  const x = Math.min(from[0], to[0]) - reach;
  const y = Math.min(from[1], to[1]) - reach;
  return { x, y, width: Math.abs(from[0] - to[0]) + 2 * reach + 1,
    height: Math.abs(from[1] - to[1]) + 2 * reach + 1 };
}
