// The shortcut overlay (?): every binding of the keymap and the pointer gestures, grouped.

import { KEYMAP, POINTER_HELP, displayChord } from '../canvas/keymap.js';
import { el } from '../lib/ui.js';

/** Fill the help dialog from the keymap (labels 1-9 shown as one row). */
export function buildHelp(container) {
  const groups = new Map();
  for (const { action, keys, help, group } of KEYMAP) {
    if (action.startsWith('label:') && action !== 'label:swap') continue;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push([keys.map(displayChord), help]);
  }
  groups.get('Labels').unshift([['1', '…', '9'], 'Choose a label (its number in the palette)']);
  groups.set('Mouse', POINTER_HELP.map(({ keys, help }) => [[keys], help]));
  container.replaceChildren(...[...groups].map(([group, rows]) => el('section', {},
    el('h3', {}, group),
    el('dl', {}, ...rows.flatMap(([keys, help]) => [
      el('dt', {}, ...keys.flatMap((key, i) => [i ? ' ' : null, el('kbd', {}, key)])),
      el('dd', {}, help),
    ])))));
}
