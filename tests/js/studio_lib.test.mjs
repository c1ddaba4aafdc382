import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ApiError, errorFromResponse, readCookie, withQuery } from '../../frontend/static/lib/api.js';
import { formatIou, iouRows } from '../../frontend/static/lib/charts.js';
import { jobSeconds, jobState, progressFraction, progressText } from '../../frontend/static/lib/jobs.js';
import { LatestValueSender, PERMANENT_CLOSE_CODES, backoffDelay } from '../../frontend/static/lib/socket.js';
import { formatDuration } from '../../frontend/static/lib/ui.js';

test('the JSON error shape becomes an ApiError with code, message, details and status', () => {
  const error = errorFromResponse(409, { error: { code: 'stale_version', message: 'changed', details: { current: 3 } } });
  assert.ok(error instanceof ApiError);
  assert.deepEqual([error.status, error.code, error.message, error.details], [409, 'stale_version', 'changed', { current: 3 }]);
});

test('a body without the error shape still gives a typed error', () => {
  assert.equal(errorFromResponse(502, null).code, 'server_error');
  assert.equal(errorFromResponse(404, { detail: 'x' }).code, 'http_error');
  assert.equal(errorFromResponse(404, { detail: 'x' }).status, 404);
});

test('cookies and query strings', () => {
  assert.equal(readCookie('a=1; csrftoken=abc%3D; b=2', 'csrftoken'), 'abc=');
  assert.equal(readCookie('a=1', 'csrftoken'), '');
  assert.equal(withQuery('/api/images/', { model: 3, status: '', page: null, q: 'a b' }), '/api/images/?model=3&q=a+b');
  assert.equal(withQuery('/api/x/?a=1', { b: 2 }), '/api/x/?a=1&b=2');
  assert.equal(withQuery('/api/x/', {}), '/api/x/');
});

test('reconnect delays double up to the maximum, with bounded jitter', () => {
  const exact = (attempt) => backoffDelay(attempt, { minMs: 500, maxMs: 4000, jitter: 0 });
  assert.deepEqual([0, 1, 2, 3, 4, 9].map(exact), [500, 1000, 2000, 4000, 4000, 4000]);
  assert.equal(backoffDelay(1, { minMs: 500, jitter: 0.2, random: () => 0 }), 800);
  assert.equal(backoffDelay(1, { minMs: 500, jitter: 0.2, random: () => 1 }), 1200);
  assert.ok(PERMANENT_CLOSE_CODES.has(4404) && !PERMANENT_CLOSE_CODES.has(1006));
});

function fakeSocket() {
  // Objects are sent as JSON text, strings as they are.
  return { isOpen: true, sent: [], send(data) { this.sent.push(data.startsWith('{') ? JSON.parse(data) : data); return true; } };
}

test('latest value wins: one request in flight, newer values replace the pending one', () => {
  const socket = fakeSocket();
  let id = 0;
  const sender = new LatestValueSender(socket, { encode: (value) => ({ value, id: ++id }), timeoutMs: 60000 });
  sender.offer(1);
  sender.offer(2);
  sender.offer(3);
  assert.deepEqual(socket.sent, [{ value: 1, id: 1 }]);
  sender.settle();
  assert.deepEqual(socket.sent.map((message) => message.value), [1, 3]);
  sender.settle();
  assert.equal(socket.sent.length, 2);
  sender.clear();
});

test('a dropped connection resends the request in flight unless a newer value is waiting', () => {
  const socket = fakeSocket();
  const sender = new LatestValueSender(socket, { timeoutMs: 60000 });
  sender.offer('a');
  socket.isOpen = false;
  sender.reset();
  sender.pump();
  assert.equal(socket.sent.length, 1);
  socket.isOpen = true;
  sender.pump();
  assert.deepEqual(socket.sent, ['a', 'a']);
  sender.offer('b');
  sender.reset();
  sender.pump();
  assert.deepEqual(socket.sent, ['a', 'a', 'b']);
  sender.clear();
});

test('values the page already shows are skipped', () => {
  const socket = fakeSocket();
  const sender = new LatestValueSender(socket, { skip: (value) => value === 'shown', timeoutMs: 60000 });
  sender.offer('shown');
  assert.deepEqual(socket.sent, []);
  assert.equal(sender.inFlightMessage, null);
});

test('job states from REST and from the socket read the same', () => {
  const rest = jobState({ id: 4, type: 'train_branch', status: 'running', progress: { step: 50, total: 200, loss: 0.123456 },
    error: '', result: {}, started_at: '2026-01-01T00:00:00Z', finished_at: null });
  const event = jobState({ job_id: 4, job_type: 'train_branch', status: 'running', step: 50, total: 200, loss: 0.123456,
    error: '', result: {}, started_at: '2026-01-01T00:00:00Z', finished_at: null });
  assert.deepEqual(rest, event);
  assert.equal(progressFraction(rest), 0.25);
  assert.equal(progressText(rest), 'running · step 50 / 200 · loss 0.1235');
  assert.equal(progressFraction({ ...rest, status: 'succeeded', step: 0, total: 0 }), 1);
  assert.equal(progressFraction({ ...rest, total: 0 }), 0);
  assert.equal(progressText({ ...rest, total: 0, loss: null, status: 'queued' }), 'queued');
  assert.equal(jobSeconds({ ...rest, finishedAt: '2026-01-01T00:01:30Z' }), 90);
  assert.equal(jobSeconds({ ...rest, startedAt: null }), null);
});

test('durations and IoU values for people', () => {
  assert.deepEqual([5, 65, 3725].map(formatDuration), ['5 s', '1 min 5 s', '1 h 2 min']);
  assert.equal(formatIou(0.8349), '0.83');
  assert.equal(formatIou(null), 'n/a');
  const rows = iouRows({ skin: 0.9, hair: null }, [{ name: 'skin', colour: '#e6b48c' }]);
  assert.deepEqual(rows, [{ name: 'skin', value: 0.9, colour: '#e6b48c' }, { name: 'hair', value: null, colour: '#888888' }]);
});
