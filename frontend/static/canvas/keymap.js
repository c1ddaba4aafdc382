// The annotation canvas's keyboard and pointer bindings as data, and the matcher that turns a
// keyboard event into an action. One focus-guarded handler on the page owns every shortcut;
// the help overlay and the toolbar read their key names from here. Pure: no DOM.

const LABEL_KEYS = Array.from({ length: 9 }, (_, i) => ({
  action: `label:${i + 1}`, keys: [String(i + 1)], help: `Label ${i + 1}`, group: 'Labels',
}));

/** Every keyboard binding: action, chords ('Ctrl+Shift+Z'; Ctrl also means Cmd), help text. */
export const KEYMAP = [
  { action: 'tool:brush', keys: ['b'], help: 'Brush', group: 'Tools' },
  { action: 'tool:eraser', keys: ['e'], help: 'Eraser', group: 'Tools' },
  { action: 'tool:fill', keys: ['g'], help: 'Flood fill', group: 'Tools' },
  { action: 'tool:polygon', keys: ['p'], help: 'Polygon / lasso fill', group: 'Tools' },
  { action: 'tool:picker', keys: ['i'], help: 'Pick label from a pixel', group: 'Tools' },
  { action: 'size:down', keys: ['['], help: 'Brush size -1', group: 'Tools' },
  { action: 'size:up', keys: [']'], help: 'Brush size +1', group: 'Tools' },
  { action: 'size:down10', keys: ['Shift+['], help: 'Brush size -10', group: 'Tools' },
  { action: 'size:up10', keys: ['Shift+]'], help: 'Brush size +10', group: 'Tools' },
  ...LABEL_KEYS,
  { action: 'label:swap', keys: ['x'], help: 'Swap to the previous label', group: 'Labels' },
  { action: 'polygon:close', keys: ['Enter'], help: 'Close the polygon and fill it', group: 'Tools' },
  { action: 'polygon:cancel', keys: ['Escape'], help: 'Cancel the polygon / close dialogs', group: 'Tools' },
  { action: 'undo', keys: ['Ctrl+z'], help: 'Undo (the last vertex while drawing a polygon)', group: 'Edit' },
  { action: 'redo', keys: ['Ctrl+Shift+z', 'Ctrl+y'], help: 'Redo', group: 'Edit' },
  { action: 'save', keys: ['Ctrl+s'], help: 'Save now', group: 'Edit' },
  { action: 'view:reset', keys: ['0'], help: 'Reset zoom and pan', group: 'View' },
  { action: 'mask:toggle', keys: ['m'], help: 'Show / hide the mask', group: 'View' },
  { action: 'image:next', keys: ['PageDown'], help: 'Next image', group: 'View' },
  { action: 'image:previous', keys: ['PageUp'], help: 'Previous image', group: 'View' },
  { action: 'help', keys: ['?'], help: 'This help', group: 'View' },
];

/** Pointer gestures, for the help overlay (the page implements them). */
export const POINTER_HELP = [
  { keys: 'Space+drag', help: 'Pan (middle-drag too)' },
  { keys: 'Wheel', help: 'Zoom to the cursor' },
  { keys: 'Right-drag', help: 'Erase for one gesture, with any tool' },
  { keys: 'Click (polygon)', help: 'Add a vertex; drag to draw a lasso; click the first vertex to close' },
];

/** The key's name in chords: letters by character, digits and brackets by physical key. */
function keyName(event) {
  const { code = '', key = '' } = event;
  if (/^(Digit|Numpad)[0-9]$/.test(code)) return code.slice(-1);
  if (code === 'BracketLeft') return '[';
  if (code === 'BracketRight') return ']';
  if (key.length === 1) return key.toLowerCase();
  return key;
}

/** The chords an event can stand for ('Ctrl+Shift+z'; a shifted character also as itself: '?'). */
export function chordsOf(event) {
  const ctrl = event.ctrlKey || event.metaKey;
  const prefix = `${ctrl ? 'Ctrl+' : ''}${event.altKey ? 'Alt+' : ''}`;
  const chords = [`${prefix}${event.shiftKey ? 'Shift+' : ''}${keyName(event)}`];
  if (event.shiftKey && event.key && event.key.length === 1) chords.push(`${prefix}${event.key}`);
  return chords;
}

/** A chord -> action lookup for a keymap (throws on a chord bound twice). */
export function buildIndex(keymap = KEYMAP) {
  const index = new Map();
  for (const { action, keys } of keymap) {
    for (const chord of keys) {
      if (index.has(chord)) throw new Error(`${chord} is bound to ${index.get(chord)} and ${action}`);
      index.set(chord, action);
    }
  }
  return index;
}

/** The action a keyboard event triggers, or null. */
export function actionFor(index, event) {
  for (const chord of chordsOf(event)) {
    if (index.has(chord)) return index.get(chord);
  }
  return null;
}

/** Whether keys typed into `target` belong to it (text fields, selects, editable content). */
export function isTypingTarget(target) {
  if (!target) return false;
  if (target.isContentEditable) return true;
  const tag = (target.tagName || '').toUpperCase();
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'range', 'color', 'submit', 'reset'].includes(
    (target.type || 'text').toLowerCase());
}

/** How a chord is shown to people ('Ctrl+Shift+Z'). */
export function displayChord(chord) {
  return chord.split('+').map((part) => (part.length === 1 ? part.toUpperCase() : part)).join('+');
}

/** The display keys of an action ('B', 'Ctrl+Z / Ctrl+Y'). */
export function keysOf(action, keymap = KEYMAP) {
  const binding = keymap.find((entry) => entry.action === action);
  return binding ? binding.keys.map(displayChord).join(' / ') : '';
}
