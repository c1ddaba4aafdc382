// The stale-save (409) dialog: their version and mine side by side over the image, a merge by
// label previewed live, and the three ways out: keep mine, take theirs, save the merge.

import { decodeMaskPng } from '../canvas/png.js';
import { labelDifferences, mergeByLabel } from '../canvas/merge.js';
import { MaskView } from '../canvas/view.js';
import { el } from '../lib/ui.js';

/** Draw `mask` onto `canvas` (sized to the mask) through `palette`. */
function show(canvas, mask, palette) {
  canvas.width = mask.width;
  canvas.height = mask.height;
  return new MaskView(canvas.getContext('2d'), mask, palette);
}

/**
 * Open the dialog for `current` (the version the server holds) against the editor's mask.
 * Resolves to {choice: 'mine' | 'theirs' | 'merge', mask, version}.
 */
export async function resolveConflict({ current, mine, labels, palette, photoUrl, fetchBytes }) {
  const theirs = await decodeMaskPng(await fetchBytes(current.mask_url));
  const dialog = document.getElementById('conflict-dialog');
  for (const id of ['theirs-photo', 'mine-photo', 'merged-photo']) document.getElementById(id).src = photoUrl;
  document.getElementById('theirs-version').textContent = `v${current.number}${current.author ? ` · ${current.author}` : ''}`;
  document.getElementById('conflict-text').textContent = `Version ${current.number} was saved after the version you started from. `
    + 'Nothing is lost: choose which pixels to keep, per label, and save on top of it.';
  show(document.getElementById('theirs-canvas'), theirs, palette);
  show(document.getElementById('mine-canvas'), mine, palette);
  const winners = new Map();
  const merged = () => mergeByLabel(mine, theirs, (label) => winners.get(label) || 'mine');
  const mergedView = show(document.getElementById('merged-canvas'), merged(), palette);
  const names = new Map(labels.map((label) => [label.index, label]));
  const rows = labelDifferences(mine, theirs).map(({ label, mine: onlyMine, theirs: onlyTheirs }) => {
    const info = names.get(label) || { name: `label ${label}`, colour: '#888888' };
    const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = info.colour;
    const choice = (side) => {
      const input = el('input', { type: 'radio', name: `winner-${label}`, value: side,
        checked: side === 'mine', 'data-label': String(label) });
      input.addEventListener('change', () => {
        winners.set(label, side);
        mergedView.setMask(merged());
      });
      return el('label', { class: 'radio' }, input, side === 'mine' ? ' mine' : ' theirs');
    };
    return el('tr', {}, el('td', {}, swatch, ' ', info.name), el('td', { class: 'num' }, onlyMine.toLocaleString()),
      el('td', { class: 'num' }, onlyTheirs.toLocaleString()), el('td', { class: 'winners' }, choice('mine'), choice('theirs')));
  });
  document.getElementById('merge-rows').replaceChildren(...(rows.length ? rows
    : [el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'The two masks are identical.'))]));
  if (!dialog.dataset.bound) {
    // Escape must not leave the conflict unresolved: the dialog stays open.
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    dialog.dataset.bound = 'true';
  }
  dialog.showModal();
  return new Promise((resolve) => {
    const finish = (choice, mask) => {
      dialog.close();
      resolve({ choice, mask, version: current });
    };
    const buttons = {
      'keep-mine': () => finish('mine', mine),
      'take-theirs': () => finish('theirs', theirs),
      'merge-labels': () => finish('merge', merged()),
    };
    const handlers = Object.entries(buttons).map(([id, handler]) => {
      const button = document.getElementById(id);
      const once = () => { for (const [b, h] of handlers) b.removeEventListener('click', h); handler(); };
      button.addEventListener('click', once);
      return [button, once];
    });
  });
}
