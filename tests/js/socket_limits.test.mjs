// The studio's socket and daphne's 1 MiB message limit: nothing over it is sent, and a 1009
// close ("message too big") is shown with its reason and never turns into a reconnect loop.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';

import {
  LatestValueSender, MAX_MESSAGE_BYTES, MessageTooLargeError, ReconnectingSocket, messageBytes,
} from '../../frontend/static/lib/socket.js';

/** A stand-in for the browser's WebSocket: records what is sent, lets the test open and close it. */
class FakeWebSocket extends EventTarget {
  static OPEN = 1;
  static made = [];

  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeWebSocket.made.push(this);
  }

  send(data) { this.sent.push(data); }

  close() { this.readyState = 3; }

  serverOpens() {
    this.readyState = FakeWebSocket.OPEN;
    this.dispatchEvent(new Event('open'));
  }

  serverCloses(code, reason = '') {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason }));
  }
}

function withFakeSocket(run) {
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = FakeWebSocket;
  FakeWebSocket.made = [];
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    run();
  } finally {
    mock.timers.reset();
    globalThis.WebSocket = saved;
  }
}

test('message sizes are counted in bytes as the server counts them', () => {
  assert.equal(messageBytes('é'), 2);
  assert.equal(messageBytes(new Uint8Array(5)), 5);
  assert.equal(messageBytes(new Uint8Array(7).buffer), 7);
  assert.equal(messageBytes(new Blob(['abc'])), 3);
});

test('a message over the limit is refused before sending and the socket stays open', () => withFakeSocket(() => {
  const socket = new ReconnectingSocket('ws://test/ws/jobs/1/');
  const fake = FakeWebSocket.made[0];
  fake.serverOpens();
  assert.throws(() => socket.send('x'.repeat(MAX_MESSAGE_BYTES + 1)), MessageTooLargeError);
  assert.equal(socket.send('x'.repeat(MAX_MESSAGE_BYTES)), true);
  assert.equal(fake.sent.length, 1);
  assert.equal(fake.readyState, FakeWebSocket.OPEN);
}));

test('a sender whose message is too large does not retry it', () => withFakeSocket(() => {
  const socket = new ReconnectingSocket('ws://test/ws/sessions/1/');
  FakeWebSocket.made[0].serverOpens();
  const sender = new LatestValueSender(socket, { encode: (size) => 'x'.repeat(size) });
  assert.throws(() => sender.offer(MAX_MESSAGE_BYTES + 1), MessageTooLargeError);
  assert.equal(sender.inFlightMessage, null);
  sender.offer(10);
  assert.equal(FakeWebSocket.made[0].sent.length, 1);
}));

test('a 1009 close shows its reason and each reconnect after one waits longer', () => withFakeSocket(() => {
  const statuses = [];
  const delays = [];
  new ReconnectingSocket('ws://test/ws/preview/', {
    onStatus: (text) => statuses.push(text), minMs: 1000, maxMs: 64000, jitter: 0, random: () => 0.5,
  });
  const reason = 'received WebSocket frame size 1048577 exceeds payload limit of 1048576 octets';
  for (let round = 0; round < 4; round += 1) {
    const fake = FakeWebSocket.made.at(-1);
    fake.serverOpens();
    fake.serverCloses(1009, reason);
    const match = /reconnecting in (\d+) s/.exec(statuses.at(-1));
    delays.push(Number(match[1]));
    assert.ok(statuses.at(-1).includes(reason), statuses.at(-1));
    mock.timers.tick(delays.at(-1) * 1000);
  }
  // Opening again does not reset the backoff after a 1009: 1, 2, 4, 8 s, not 1 s forever.
  assert.deepEqual(delays, [1, 2, 4, 8]);
  assert.equal(FakeWebSocket.made.length, 5);
}));

test('other closes still reconnect at once after a good connection', () => withFakeSocket(() => {
  const statuses = [];
  new ReconnectingSocket('ws://test/ws/preview/', {
    onStatus: (text) => statuses.push(text), minMs: 1000, jitter: 0, random: () => 0.5,
  });
  for (let round = 0; round < 3; round += 1) {
    const fake = FakeWebSocket.made.at(-1);
    fake.serverOpens();
    fake.serverCloses(1006);
    mock.timers.tick(1000);
  }
  assert.deepEqual(statuses.filter((text) => text.startsWith('disconnected')),
                   Array(3).fill('disconnected, reconnecting in 1 s…'));
}));
