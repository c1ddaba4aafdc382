// The annotation page of one image: loads the current version (or a draft kept in this
// browser), wires the editor, the stage, the controls and the keyboard, and saves through the
// annotations API with its base version (autosave, Ctrl+S, 409 dialog, offline drafts).

import { ApiError, postForm, request } from '../lib/api.js';
import { showError, toast, formatTime } from '../lib/ui.js';
import { Editor } from '../canvas/editor.js';
import { actionFor, buildIndex, isTypingTarget } from '../canvas/keymap.js';
import { LabelMask, labelCounts } from '../canvas/mask.js';
import { decodeMaskPng, encodeMaskPng } from '../canvas/png.js';
import { deserializeMask, serializeMask } from '../canvas/storage.js';
import { MaskView, buildPalette } from '../canvas/view.js';
import { resolveConflict } from './conflict.js';
import { buildHelp } from './help.js';
import { Panel, loadSettings, saveSettings } from './panel.js';
import { setUpPredict } from './predict.js';
import { AUTOSAVE_MS, Saver } from './saver.js';
import { Stage } from './stage.js';

const STATE_TEXT = {
  loading: 'Loading…',
  saved: 'All changes saved',
  dirty: 'Unsaved changes',
  saving: 'Saving…',
  offline: 'Offline: kept in this browser, saved when the connection is back',
  conflict: 'Someone else saved: choose what to keep',
  error: 'Not saved',
};

/** The autosave delay: 2.5 s, or the milliseconds in localStorage 'partedit.annotate.autosaveMs'. */
function autosaveDelay() {
  const custom = Number(localStorage.getItem('partedit.annotate.autosaveMs'));
  return Number.isFinite(custom) && custom >= 500 ? custom : AUTOSAVE_MS;
}

/** The bytes at a same-origin URL (ApiError on failure). */
async function fetchBytes(url) {
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, 'network_error', 'The server could not be reached.');
  }
  if (!response.ok) throw new ApiError(response.status, 'http_error', `Could not load ${url} (${response.status}).`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Drafts of unsaved masks in localStorage, one per image. */
function draftStore(imageId) {
  const key = `partedit.annotate.draft.${imageId}`;
  return {
    /** The kept draft {baseVersion, mask}, or null. */
    read() {
      try {
        const record = JSON.parse(localStorage.getItem(key) || 'null');
        return record ? { baseVersion: record.baseVersion, mask: deserializeMask(record) } : null;
      } catch {
        return null;
      }
    },
    /** Keep the unsaved mask and the version it was made from. */
    write({ baseVersion, mask }) {
      try {
        localStorage.setItem(key, JSON.stringify({ baseVersion, savedAt: Date.now(), ...serializeMask(mask) }));
      } catch (error) {
        showError(error, 'Could not keep the mask in this browser');
      }
    },
    /** Forget the draft (it has been saved). */
    clear() {
      localStorage.removeItem(key);
    },
  };
}

/** The current version and its mask, or nulls before the first save. */
async function loadCurrent(urls, resolution) {
  let current;
  try {
    current = await request(urls.current);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { current: null, mask: null };
    throw error;
  }
  const mask = await decodeMaskPng(await fetchBytes(current.mask_url));
  if (mask.width !== resolution || mask.height !== resolution) {
    throw new Error(`the stored mask is ${mask.width}x${mask.height}, not ${resolution}x${resolution}`);
  }
  return { current, mask };
}

async function main() {
  const data = JSON.parse(document.getElementById('annotate-data').textContent);
  if (!data.urls.image) return;
  const { resolution, labels } = data.model;
  const readOnly = !data.can_annotate;
  const palette = buildPalette(labels.map((label) => label.colour));
  const maskCanvas = document.getElementById('mask');
  const saveState = document.getElementById('save-state');
  const versionBadge = document.getElementById('version-badge');
  const drafts = draftStore(data.image.id);

  let view = null;
  let saver = null;
  let panel = null;
  const editor = new Editor(new LabelMask(resolution, resolution), {
    labelCount: labels.length,
    onChange: (rect) => {
      if (view && rect) view.paint(rect);
    },
  });
  let committed = editor.revision;

  const showVersion = (version) => {
    versionBadge.textContent = version ? `Editing v${version.number}${version.done === false ? ' · draft' : ''}`
      : 'New annotation';
    versionBadge.title = version ? `Version ${version.number}${version.author ? ` by ${version.author}` : ''}, ${formatTime(version.created_at)}`
      : 'No version saved yet';
    versionBadge.dataset.version = version ? String(version.number) : '';
  };
  const showState = (state, info = {}) => {
    saveState.dataset.state = state;
    let text = STATE_TEXT[state];
    if (state === 'saved' && info.version) {
      text = `Saved as v${info.version.number}${info.version.done === false ? ' (draft)' : ''}`;
    }
    if (state === 'error' && info.error) text = `Not saved: ${info.error.message}`;
    saveState.textContent = text;
    if (info.version) saveState.dataset.version = String(info.version.number);
  };
  const afterCommit = () => {
    if (editor.revision === committed) return;
    committed = editor.revision;
    panel.setCounts(labelCounts(editor.mask));
    document.getElementById('undo-button').disabled = !editor.history.canUndo();
    document.getElementById('redo-button').disabled = !editor.history.canRedo();
    if (saver) saver.changed();
  };

  let loaded;
  try {
    loaded = await loadCurrent(data.urls, resolution);
  } catch (error) {
    showState('error', { error });
    showError(error, 'Could not load the annotation');
    return;
  }
  let { mask } = loaded;
  let baseVersion = loaded.current ? loaded.current.number : null;
  const draft = readOnly ? null : drafts.read();
  let restored = false;
  if (draft && draft.mask.width === resolution && draft.mask.height === resolution) {
    mask = draft.mask;
    baseVersion = draft.baseVersion;
    restored = true;
  }
  editor.load(mask || new LabelMask(resolution, resolution));
  view = new MaskView(maskCanvas.getContext('2d'), editor.mask, palette);
  showVersion(loaded.current);

  panel = new Panel(editor, labels, maskCanvas, { readOnly, onChange: () => saveSettings(panel.settings()) });
  panel.restore(loadSettings());
  panel.setCounts(labelCounts(editor.mask));
  const hudZoom = document.getElementById('hud-zoom');
  const stage = new Stage({
    stage: document.getElementById('stage'),
    layer: document.getElementById('layer'),
    cursor: document.getElementById('cursor'),
    polyline: document.getElementById('polygon-line'),
  }, editor, resolution, {
    readOnly,
    onInput: () => { afterCommit(); panel.sync(); },
    onView: (viewport) => { hudZoom.textContent = `${Math.round(viewport.scale * 100)}%`; },
  });
  const hudPosition = document.getElementById('hud-position');
  const hudLabel = document.getElementById('hud-label');
  stage.stage.addEventListener('pointermove', (event) => {
    const [x, y] = stage.maskPoint(event).map(Math.floor);
    const label = editor.mask.get(x, y);
    hudPosition.textContent = label < 0 ? '–' : `${x}, ${y}`;
    hudLabel.textContent = label < 0 ? '' : labels[label] ? labels[label].name : `label ${label}`;
  });

  if (!readOnly) {
    saver = new Saver({
      editor,
      baseVersion,
      savedDone: loaded.current ? loaded.current.done !== false : true,
      encode: encodeMaskPng,
      post: async (bytes, base, done) => {
        const form = new FormData();
        form.append('mask', new Blob([bytes], { type: 'image/png' }), 'mask.png');
        if (base !== null && base !== undefined) form.append('base_version', String(base));
        form.append('done', done ? 'true' : 'false');
        return postForm(data.urls.annotations, form);
      },
      draft: drafts,
      autosaveMs: autosaveDelay(),
      onState: showState,
      onSaved: (version) => showVersion(version),
      onConflict: (current) => openConflict(current),
    });
    if (restored) {
      saver.savedRevision = -1;
      toast('Restored the unsaved changes kept in this browser; saving them now.', 'info');
      saver.changed();
    } else {
      showState('saved');
      saveState.textContent = loaded.current ? 'No unsaved changes' : 'Nothing saved yet';
    }
    document.getElementById('save-button').addEventListener('click', () => saver.save({ done: true }));
    document.getElementById('undo-button').addEventListener('click', () => { editor.undo(); afterCommit(); panel.sync(); });
    document.getElementById('redo-button').addEventListener('click', () => { editor.redo(); afterCommit(); panel.sync(); });
    window.addEventListener('online', () => saver.online());
    window.addEventListener('offline', () => { if (saver.hasUnsaved()) showState('offline'); });
    window.addEventListener('beforeunload', (event) => {
      if (!saver.hasUnsaved()) return;
      saver.keepDraft();
      event.preventDefault();
      event.returnValue = '';
    });
    window.addEventListener('pagehide', () => saver.keepDraft());
  } else {
    showState('saved');
    saveState.textContent = 'Read-only';
  }

  async function openConflict(current) {
    if (!current) {
      showError(new Error('The server refused the save as stale but sent no current version.'));
      return;
    }
    try {
      const result = await resolveConflict({ current, mine: editor.mask.clone(), labels, palette,
        photoUrl: data.urls.image, fetchBytes });
      if (result.choice === 'theirs') {
        editor.applyMask(result.mask);
        afterCommit();
        saver.resolve(current.number, { saved: true });
        showVersion(current);
        toast(`Took version ${current.number}; Ctrl+Z brings your pixels back.`, 'info');
      } else {
        if (result.choice === 'merge') {
          editor.applyMask(result.mask);
          afterCommit();
        }
        await saver.resolve(current.number);
      }
    } catch (error) {
      showError(error, 'Could not resolve the conflict');
    }
  }

  if (!readOnly) {
    setUpPredict(data, (predicted) => {
      editor.applyMask(predicted);
      afterCommit();
    });
  }

  const helpDialog = document.getElementById('help-dialog');
  buildHelp(document.getElementById('help-content'));
  document.getElementById('help-button').addEventListener('click', () => helpDialog.showModal());
  document.getElementById('help-close').addEventListener('click', () => helpDialog.close());
  document.getElementById('reset-view').addEventListener('click', () => stage.resetView());

  const go = async (url) => {
    if (!url) return;
    if (saver && saver.hasUnsaved()) await saver.save();
    location.assign(url);
  };
  const pageActions = {
    save: () => saver && saver.save({ done: true }),
    'view:reset': () => stage.resetView(),
    'mask:toggle': () => panel.setMaskVisible(!panel.maskVisible),
    help: () => (helpDialog.open ? helpDialog.close() : helpDialog.showModal()),
    'image:next': () => go(data.urls.next),
    'image:previous': () => go(data.urls.previous),
  };
  const keys = buildIndex();
  document.addEventListener('keydown', (event) => {
    if (isTypingTarget(event.target) || event.defaultPrevented) return;
    if (document.querySelector('dialog[open]') && event.key !== '?') return;
    if (event.key === ' ' && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      stage.setSpace(true);
      return;
    }
    const action = actionFor(keys, event);
    if (!action) return;
    if (pageActions[action]) {
      event.preventDefault();
      pageActions[action]();
    } else if (!readOnly && editor.perform(action)) {
      event.preventDefault();
      stage.drawPolygon();
      afterCommit();
      panel.sync();
    }
  });
  document.addEventListener('keyup', (event) => {
    if (event.key === ' ') stage.setSpace(false);
  });
  document.body.dataset.ready = 'true';
}

main().catch((error) => showError(error, 'The annotation page failed to start'));
