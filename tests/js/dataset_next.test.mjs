import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import { mostUncertainPage, scoringRefusal } from '../../frontend/static/dataset/next.js';

const realFetch = globalThis.fetch;
afterEach(() => { globalThis.fetch = realFetch; });

/** Answer every fetch with ``status`` and ``body`` (JSON), recording the URLs asked for. */
function answer(status, body, asked = []) {
  globalThis.fetch = async (url) => {
    asked.push(String(url));
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  };
  return asked;
}

test('the most uncertain scored image is the first row of the ranking', async () => {
  const asked = answer(200, { count: 2, results: [{ image: 7, score: 0.4 }] });
  assert.equal(await mostUncertainPage(3), '/images/7/annotate/');
  assert.deepEqual(asked, ['/api/models/3/uncertainty/?page_size=1']);
});

test('no scored image yet is null, so the page scores them first', async () => {
  answer(200, { count: 0, results: [] });
  assert.equal(await mostUncertainPage(3), null);
});

test('a model without a branch is the API error no_branch (the button stays hidden)', async () => {
  answer(400, { error: { code: 'no_branch', message: 'train one first', details: null } });
  await assert.rejects(mostUncertainPage(3), (error) => error.code === 'no_branch' && error.status === 400);
});

test('nothing left to score is told plainly; other refusals show the API error', () => {
  assert.match(scoringRefusal('nothing_to_score'), /already annotated/);
  assert.equal(scoringRefusal('no_latent'), null);
});
