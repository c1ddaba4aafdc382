// Saving an annotation without ever losing work: autosave (a draft version) a few seconds after
// a change, an explicit save (a done version), every save naming its base version, a 409 handed to the page as a conflict,
// and while the server cannot be reached the mask kept in the browser's storage and saved
// when it can. DOM-free: the page injects the encoder, the POST, the storage and the timers.

export const AUTOSAVE_MS = 2500;
export const RETRY_MS = 5000;

/** The save state machine of one image's annotation. */
export class Saver {
  /**
   * `editor`: the Editor (its mask and revision); `baseVersion`: the number of the version the
   * mask was loaded from (null for none); `savedDone`: whether that version is marked done;
   * `encode(mask)` -> bytes; `post(bytes, baseVersion, done)` -> the saved version (rejects with {status, code, details}); `draft`: {write(record), clear()};
   * `timers`: {setTimeout, clearTimeout}; `onState(state, info)`, `onConflict(current)`,
   * `onSaved(version)` callbacks.
   */
  constructor({ editor, baseVersion, savedDone = true, encode, post, draft, timers = globalThis, onState = () => {},
    onConflict = () => {}, onSaved = () => {}, autosaveMs = AUTOSAVE_MS, retryMs = RETRY_MS }) {
    Object.assign(this, { editor, baseVersion, savedDone, encode, post, draft, timers, onState, onConflict,
      onSaved, autosaveMs, retryMs });
    this.savedRevision = editor.revision;
    this.state = 'saved';
    this.timer = null;
    this.inFlight = null;
    this.wantDone = false;
  }

  /** Whether the mask has changes no saved version holds. */
  hasUnsaved() {
    return this.editor.revision !== this.savedRevision;
  }

  /** The mask changed: schedule an autosave (unless a conflict waits for the user). */
  changed() {
    if (this.state === 'conflict') return;
    this.setState(this.state === 'offline' ? 'offline' : 'dirty');
    this.schedule(this.state === 'offline' ? this.retryMs : this.autosaveMs);
  }

  /** Keep the unsaved mask in the browser's storage now (page hide, before a save). */
  keepDraft() {
    if (this.hasUnsaved()) this.draft.write({ baseVersion: this.baseVersion, mask: this.editor.mask });
  }

  /** Whether a save has something to store (changed pixels, or a draft to mark done). */
  pending() {
    return this.hasUnsaved() || (this.wantDone && !this.savedDone);
  }

  /**
   * Save now; resolves when this save attempt has ended. `done` (Ctrl+S, the Save button) marks
   * the version finished, and stays requested until a save succeeds; autosaves are drafts.
   */
  async save({ done = false } = {}) {
    this.cancelTimer();
    if (done) this.wantDone = true;
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    if (!this.pending() || this.state === 'conflict') return undefined;
    this.inFlight = this.attempt(this.wantDone).finally(() => { this.inFlight = null; });
    await this.inFlight;
    if (this.again) {
      this.again = false;
      if (this.pending() && this.state !== 'conflict') return this.save();
    }
    return undefined;
  }

  /** One POST of the current mask with its base version. */
  async attempt(done) {
    const revision = this.editor.revision;
    this.keepDraft();
    this.setState('saving');
    let version;
    try {
      version = await this.post(await this.encode(this.editor.mask), this.baseVersion, done);
    } catch (error) {
      this.failed(error);
      return;
    }
    this.baseVersion = version.number;
    this.savedRevision = revision;
    this.savedDone = done;
    if (done) this.wantDone = false;
    if (this.hasUnsaved()) {
      this.setState('dirty', { version });
      this.schedule(this.autosaveMs);
    } else {
      this.draft.clear();
      this.setState('saved', { version });
    }
    this.onSaved(version);
  }

  /** A failed save: 409 is a conflict, no answer or a 5xx is retried, the rest is an error. */
  failed(error) {
    const status = error && typeof error.status === 'number' ? error.status : 0;
    if (status === 409) {
      this.setState('conflict', { error });
      this.onConflict(error.details ? error.details.current : null);
    } else if (status === 0 || status >= 500) {
      this.setState('offline', { error });
      this.schedule(this.retryMs);
    } else {
      this.setState('error', { error });
    }
  }

  /** The connection is back: save at once if anything waits. */
  online() {
    if (this.state === 'offline' || (this.state === 'error' && this.pending())) this.save();
  }

  /**
   * A conflict was resolved against version `number`: the editor's mask (mine, theirs or the
   * merge) is now based on it; `saved` true when that mask is exactly the saved version
   * (whose done flag is `done`).
   */
  resolve(number, { saved = false, done = true } = {}) {
    this.baseVersion = number;
    if (saved) {
      this.savedRevision = this.editor.revision;
      this.savedDone = done;
      this.draft.clear();
      this.setState('saved');
      return undefined;
    }
    this.setState('dirty');
    return this.save();
  }

  /** Save after `ms` unless something else saves first. */
  schedule(ms) {
    this.cancelTimer();
    this.timer = this.timers.setTimeout(() => { this.timer = null; this.save(); }, ms);
  }

  /** Drop a scheduled save. */
  cancelTimer() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  /** Enter `state` and tell the page. */
  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }
}
