// The annotation page's controls: tool buttons, the label palette (colour, name, key, pixel
// count), brush size, "paint only over", mask opacity and visibility, and the tool settings
// that persist between images in localStorage.

import { el } from '../lib/ui.js';

const SETTINGS_KEY = 'partedit.annotate.settings';

/** The saved tool settings ({} when none or unreadable). */
export function loadSettings(storage = localStorage) {
  try {
    return JSON.parse(storage.getItem(SETTINGS_KEY) || '{}') || {};
  } catch {
    return {};
  }
}

/** Save the tool settings for the next image. */
export function saveSettings(settings, storage = localStorage) {
  try {
    storage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch {
    // Storage full or disabled: settings simply do not persist.
  }
}

/** The controls of one annotation page. */
export class Panel {
  /** Build the palette for `labels` and wire the controls to `editor` and the mask element. */
  constructor(editor, labels, maskCanvas, { readOnly = false, onChange = () => {} } = {}) {
    this.editor = editor;
    this.labels = labels;
    this.maskCanvas = maskCanvas;
    this.readOnly = readOnly;
    this.onChange = onChange;
    this.opacity = 60;
    this.maskVisible = true;
    this.counts = [];
    this.palette = document.getElementById('palette');
    this.buildPalette();
    this.bind();
  }

  /** One palette entry per label: swatch, name, key, pixel count. */
  buildPalette() {
    this.items = this.labels.map((label) => {
      const key = label.index >= 1 && label.index <= 9 ? String(label.index) : '';
      const swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.background = label.colour;
      const item = el('li', { role: 'option', class: 'palette-item', 'aria-selected': 'false',
        dataset: { label: String(label.index) }, tabindex: this.readOnly ? null : '-1' },
      swatch, el('span', { class: 'label-name' }, label.name, label.is_context
        ? el('span', { class: 'context', title: 'Context label: edits keep its unchanged pixels' }, ' · context') : null),
      el('span', { class: 'label-count' }, ''), key ? el('kbd', {}, key) : el('span'));
      if (!this.readOnly) item.addEventListener('click', () => { this.editor.setLabel(label.index); this.sync(); });
      return item;
    });
    this.palette.replaceChildren(...this.items);
    const protect = document.getElementById('protect-select');
    if (protect) {
      for (const label of this.labels) protect.append(el('option', { value: String(label.index) }, label.name));
    }
  }

  /** Wire the tool buttons, size, protection, opacity and visibility controls. */
  bind() {
    for (const button of document.querySelectorAll('[data-tool]')) {
      if (button.classList.contains('tool')) {
        button.addEventListener('click', () => { this.editor.setTool(button.dataset.tool); this.sync(); });
      }
    }
    const range = document.getElementById('size-range');
    const number = document.getElementById('size-number');
    if (range) {
      range.addEventListener('input', () => { this.editor.setSize(Number(range.value)); this.sync(); });
      number.addEventListener('change', () => { this.editor.setSize(Number(number.value) || 1); this.sync(); });
      range.addEventListener('dblclick', () => { this.editor.setSize(8); this.sync(); });
      document.getElementById('protect-select').addEventListener('change', (event) => {
        this.editor.setProtect(event.target.value === '' ? null : Number(event.target.value));
        this.sync();
      });
    }
    const opacity = document.getElementById('opacity-range');
    opacity.addEventListener('input', () => this.setOpacity(Number(opacity.value)));
    opacity.addEventListener('dblclick', () => this.setOpacity(60));
    document.getElementById('mask-visible').addEventListener('change', (event) => {
      this.setMaskVisible(event.target.checked);
    });
  }

  /** Apply saved settings (tool, size, label, opacity, mask visibility). */
  restore(settings) {
    if (settings.tool && !this.readOnly) {
      try { this.editor.setTool(settings.tool); } catch { /* a tool that no longer exists */ }
    }
    if (settings.size) this.editor.setSize(settings.size);
    if (Number.isInteger(settings.label)) this.editor.setLabel(settings.label);
    if (typeof settings.opacity === 'number') this.opacity = settings.opacity;
    if (typeof settings.maskVisible === 'boolean') this.maskVisible = settings.maskVisible;
    this.sync();
  }

  /** The settings worth keeping for the next image. */
  settings() {
    const { tool, size, label } = this.editor;
    return { tool: tool === 'picker' ? 'brush' : tool, size, label, opacity: this.opacity,
      maskVisible: this.maskVisible };
  }

  /** Mask opacity in percent. */
  setOpacity(percent) {
    this.opacity = Math.min(100, Math.max(0, Math.round(percent)));
    this.sync();
  }

  /** Show or hide the mask. */
  setMaskVisible(visible) {
    this.maskVisible = visible;
    this.sync();
  }

  /** Pixel counts per label, shown in the palette. */
  setCounts(counts) {
    this.counts = counts;
    this.items.forEach((item, index) => {
      const count = counts[index] || 0;
      item.querySelector('.label-count').textContent = count ? count.toLocaleString() : '';
    });
  }

  /** Bring every control in line with the editor's state. */
  sync() {
    const { tool, size, label, protect } = this.editor;
    for (const button of document.querySelectorAll('.tool[data-tool]')) {
      button.setAttribute('aria-pressed', String(button.dataset.tool === tool));
    }
    this.items.forEach((item, index) => item.setAttribute('aria-selected', String(index === label)));
    const range = document.getElementById('size-range');
    if (range) {
      range.value = String(size);
      document.getElementById('size-number').value = String(size);
      document.getElementById('size-value').textContent = String(size);
      document.getElementById('protect-select').value = protect === null ? '' : String(protect);
    }
    document.getElementById('opacity-range').value = String(this.opacity);
    document.getElementById('opacity-value').textContent = String(this.opacity);
    document.getElementById('mask-visible').checked = this.maskVisible;
    this.maskCanvas.style.opacity = String(this.opacity / 100);
    this.maskCanvas.hidden = !this.maskVisible;
    this.onChange();
  }
}
