// Undo/redo over diffs (never whole masks), bounded by a step count and a byte budget. Pure.

import { applyDiff, diffBytes } from './changes.js';

export const DEFAULT_MAX_STEPS = 500;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** A linear undo history of diffs. */
export class History {
  /** Keep at most `maxSteps` diffs and `maxBytes` of them (the newest step is always kept). */
  constructor({ maxSteps = DEFAULT_MAX_STEPS, maxBytes = DEFAULT_MAX_BYTES } = {}) {
    this.maxSteps = maxSteps;
    this.maxBytes = maxBytes;
    this.done = [];
    this.undone = [];
    this.bytes = 0;
  }

  /** Record a diff that has just been applied; clears the redo side. */
  push(diff) {
    if (!diff) return;
    for (const dropped of this.undone) this.bytes -= diffBytes(dropped);
    this.undone = [];
    this.done.push(diff);
    this.bytes += diffBytes(diff);
    while (this.done.length > 1 && (this.done.length > this.maxSteps || this.bytes > this.maxBytes)) {
      this.bytes -= diffBytes(this.done.shift());
    }
  }

  /** Whether there is a step to undo. */
  canUndo() {
    return this.done.length > 0;
  }

  /** Whether there is a step to redo. */
  canRedo() {
    return this.undone.length > 0;
  }

  /** Undo the newest step on `mask`; its rectangle, or null if there was none. */
  undo(mask) {
    const diff = this.done.pop();
    if (!diff) return null;
    this.undone.push(diff);
    return applyDiff(mask, diff, 'before');
  }

  /** Redo the newest undone step on `mask`; its rectangle, or null if there was none. */
  redo(mask) {
    const diff = this.undone.pop();
    if (!diff) return null;
    this.done.push(diff);
    return applyDiff(mask, diff, 'after');
  }

  /** Forget everything (a new mask was loaded). */
  clear() {
    this.done = [];
    this.undone = [];
    this.bytes = 0;
  }
}
