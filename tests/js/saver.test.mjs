import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Saver } from '../../frontend/static/annotate/saver.js';
import { Editor } from '../../frontend/static/canvas/editor.js';
import { LabelMask } from '../../frontend/static/canvas/mask.js';

/** Timers run by hand: run() fires everything scheduled so far. */
function manualTimers() {
  const pending = new Map();
  let next = 1;
  return {
    pending,
    setTimeout(fn, ms) { pending.set(next, { fn, ms }); return next++; },
    clearTimeout(id) { pending.delete(id); },
    async run() {
      const due = [...pending.values()];
      pending.clear();
      for (const { fn } of due) fn();
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

function setup({ baseVersion = null, post } = {}) {
  const editor = new Editor(new LabelMask(4, 4), { labelCount: 3 });
  const timers = manualTimers();
  const drafts = [];
  const posts = [];
  const states = [];
  const conflicts = [];
  const saver = new Saver({
    editor,
    baseVersion,
    encode: async (mask) => mask.data.slice(),
    post: post || (async (bytes, base, done) => {
      posts.push([Array.from(bytes), base, done]);
      return { number: (base || 0) + 1 };
    }),
    draft: { write: (record) => drafts.push({ base: record.baseVersion, data: Array.from(record.mask.data) }),
      clear: () => drafts.push('cleared') },
    timers,
    onState: (state) => states.push(state),
    onConflict: (current) => conflicts.push(current),
  });
  const paint = (x, y) => { editor.setSize(1); editor.pointerDown(x, y); editor.pointerUp(); saver.changed(); };
  return { editor, timers, drafts, posts, states, conflicts, saver, paint };
}

test('autosave after a change, with the base version, then the next save builds on it', async () => {
  const { saver, timers, posts, paint, drafts, states } = setup({ baseVersion: 3 });
  assert.equal(saver.hasUnsaved(), false);
  paint(0.5, 0.5);
  assert.equal(saver.state, 'dirty');
  assert.equal([...timers.pending.values()][0].ms, 2500);
  await timers.run();
  assert.equal(posts.length, 1);
  assert.equal(posts[0][1], 3);
  assert.equal(posts[0][0][0], 1);
  assert.equal(posts[0][2], false, 'autosaves are drafts');
  assert.equal(saver.state, 'saved');
  assert.deepEqual(drafts.at(-1), 'cleared');
  paint(1.5, 0.5);
  await saver.save();
  assert.equal(posts[1][1], 4, 'the second save is based on the version the first made');
  assert.deepEqual(states.filter((s) => s === 'saving').length, 2);
  await saver.save();
  assert.equal(posts.length, 2, 'nothing to save');
  await saver.save({ done: true });
  assert.equal(posts.length, 3, 'an explicit save marks the unchanged draft done');
  assert.deepEqual(posts[2].slice(1), [5, true]);
  await saver.save({ done: true });
  assert.equal(posts.length, 3, 'already done');
});

test('a 409 is a conflict: no retries until the page resolves it', async () => {
  const current = { number: 7, mask_url: '/api/annotations/9/mask/' };
  let fail = true;
  const posted = [];
  const { saver, timers, paint, conflicts } = setup({
    baseVersion: 5,
    post: async (bytes, base) => {
      posted.push(base);
      if (fail) throw { status: 409, code: 'stale_version', details: { current } };
      return { number: base + 1 };
    },
  });
  paint(0.5, 0.5);
  await saver.save();
  assert.equal(saver.state, 'conflict');
  assert.deepEqual(conflicts, [current]);
  paint(2.5, 2.5);
  assert.equal(timers.pending.size, 0, 'no autosave while the conflict is open');
  fail = false;
  await saver.resolve(7);
  assert.deepEqual(posted, [5, 7]);
  assert.equal(saver.state, 'saved');
  assert.equal(saver.baseVersion, 8);
});

test('offline: the draft is kept, retried, and saved on reconnect', async () => {
  let online = false;
  const posted = [];
  const { saver, timers, paint, drafts, editor } = setup({
    baseVersion: 1,
    post: async (bytes, base) => {
      if (!online) throw { status: 0, code: 'network_error' };
      posted.push([Array.from(bytes), base]);
      return { number: base + 1 };
    },
  });
  paint(0.5, 0.5);
  await timers.run();
  assert.equal(saver.state, 'offline');
  assert.equal(drafts[0].base, 1);
  assert.equal(drafts[0].data[0], 1);
  assert.equal([...timers.pending.values()][0].ms, 5000, 'retried later');
  paint(3.5, 3.5);
  saver.keepDraft();
  assert.equal(drafts.at(-1).data[15], 1);
  await timers.run();
  assert.equal(saver.state, 'offline');
  online = true;
  saver.online();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(saver.state, 'saved');
  assert.deepEqual(posted, [[Array.from(editor.mask.data), 1]]);
  assert.equal(drafts.at(-1), 'cleared');
});

test('changes during a save are saved by a follow-up save; client errors stop autosave', async () => {
  let release;
  const posted = [];
  const { saver, paint, editor } = setup({
    post: async (bytes, base) => {
      posted.push(Array.from(bytes));
      if (posted.length === 1) await new Promise((resolve) => { release = resolve; });
      if (posted.length === 3) throw { status: 400, code: 'unknown_label' };
      return { number: (base || 0) + 1 };
    },
  });
  paint(0.5, 0.5);
  const first = saver.save();
  await new Promise((resolve) => setImmediate(resolve));
  paint(1.5, 0.5);
  const second = saver.save();
  release();
  await first;
  await second;
  assert.equal(posted.length, 2);
  assert.deepEqual(posted[1], Array.from(editor.mask.data));
  assert.equal(saver.state, 'saved');
  paint(2.5, 0.5);
  await saver.save();
  assert.equal(saver.state, 'error');
  assert.equal(saver.hasUnsaved(), true);
});
