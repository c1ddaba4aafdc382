// WebSocket helpers of the studio: a socket that reconnects with backoff, and a "latest value
// wins" sender that keeps at most one request in flight.

/** Close codes after which reconnecting cannot help (not signed in, forbidden, not found). */
export const PERMANENT_CLOSE_CODES = new Set([4401, 4403, 4404]);

/** daphne's limit on one message (docs/protocol.md): larger ones close the socket with 1009. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The close code of a message over the server's limit ("message too big"). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;

/** A message the server would refuse for its size; thrown by `send` before anything is sent. */
export class MessageTooLargeError extends RangeError {
  constructor(bytes) {
    super(`message of ${bytes} bytes is over the server's limit of ${MAX_MESSAGE_BYTES} bytes`);
    this.name = "MessageTooLargeError";
    this.bytes = bytes;
  }
}

/** The size in bytes of a WebSocket message: UTF-8 for text, the length of binary data. */
export function messageBytes(data) {
  if (typeof data === "string") return new TextEncoder().encode(data).length;
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  return data.byteLength;
}

/** The status line after a close: the server's reason when it gave one. */
export function closeStatus(event, delayMs) {
  const why = event.reason ? ` (${event.reason})` : "";
  return `disconnected${why}, reconnecting in ${Math.ceil(delayMs / 1000)} s…`;
}

/** The wait before reconnect attempt `attempt` (0-based): doubling from minMs up to maxMs, +-jitter. */
export function backoffDelay(attempt, { minMs = 500, maxMs = 15000, jitter = 0.2, random = Math.random } = {}) {
  const base = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.round(base * (1 - jitter + 2 * jitter * random()));
}

/** The ws:// or wss:// URL of `path` on this page's host. */
export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

export class ReconnectingSocket {
  /**
   * Opens `url` now and again after every unexpected close, waiting longer after each failure.
   * @param {string} url
   * @param {{onOpen?: Function, onMessage?: Function, onClose?: Function, onStatus?: Function,
   *          binaryType?: string, minMs?: number, maxMs?: number}} options
   *   onMessage(data) gets each message; onClose(event, willReconnect) each close;
   *   onStatus(text) a short human-readable connection state.
   */
  constructor(url, options = {}) {
    this.url = url;
    this.options = options;
    this.attempt = 0;
    this.closedByUs = false;
    this.refusedMessage = false;
    this.timer = null;
    this.connect();
  }

  /** Whether the socket is open and can send now. */
  get isOpen() {
    return Boolean(this.socket) && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Send `data` if the socket is open; returns whether it was sent. A message over
   * MAX_MESSAGE_BYTES throws MessageTooLargeError and the socket stays open (the server would
   * close it with 1009).
   */
  send(data) {
    const bytes = messageBytes(data);
    if (bytes > MAX_MESSAGE_BYTES) throw new MessageTooLargeError(bytes);
    if (!this.isOpen) return false;
    this.socket.send(data);
    return true;
  }

  /** Close for good: no reconnect. */
  close() {
    this.closedByUs = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
  }

  connect() {
    const { onOpen, onMessage, onClose, onStatus, binaryType = "blob" } = this.options;
    this.socket = new WebSocket(this.url);
    this.socket.binaryType = binaryType;
    this.socket.addEventListener("open", () => {
      // After a 1009 the backoff keeps growing: reconnecting to resend the same message must not loop.
      if (!this.refusedMessage) this.attempt = 0;
      this.refusedMessage = false;
      if (onStatus) onStatus("connected");
      if (onOpen) onOpen();
    });
    this.socket.addEventListener("message", (event) => { if (onMessage) onMessage(event.data); });
    this.socket.addEventListener("close", (event) => {
      const willReconnect = !this.closedByUs && !PERMANENT_CLOSE_CODES.has(event.code);
      if (onClose) onClose(event, willReconnect);
      if (!willReconnect) return;
      this.refusedMessage = event.code === CLOSE_MESSAGE_TOO_BIG;
      const delay = backoffDelay(this.attempt, this.options);
      this.attempt += 1;
      if (onStatus) onStatus(closeStatus(event, delay));
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }
}

export class LatestValueSender {
  /**
   * At most one request in flight on `socket`; while it runs, newer values overwrite a single
   * pending slot, which is sent when the reply comes (`settle`) or the request times out.
   * @param {{send: Function, isOpen: boolean}} socket
   * @param {{encode?: Function, skip?: Function, timeoutMs?: number}} options
   *   encode(value) makes the message sent for a value; skip(value) drops values already shown.
   */
  constructor(socket, { encode = (value) => value, skip = () => false, timeoutMs = 30000 } = {}) {
    this.socket = socket;
    this.encode = encode;
    this.skip = skip;
    this.timeoutMs = timeoutMs;
    this.pending = null;
    this.inFlight = null; // {value, message, timer}
  }

  /** The value the user wants now; replaces any pending one. */
  offer(value) {
    this.pending = value;
    this.pump();
  }

  /** The message in flight (null when idle). */
  get inFlightMessage() {
    return this.inFlight ? this.inFlight.message : null;
  }

  /** The reply to the request in flight arrived: send the pending value, if any. */
  settle() {
    this.clear();
    this.pump();
  }

  /** The connection dropped or the reply never came: the request in flight is retried unless superseded. */
  reset() {
    if (this.inFlight && this.pending === null) this.pending = this.inFlight.value;
    this.clear();
  }

  /** Send the pending value if nothing is in flight and the socket is open. */
  pump() {
    if (this.inFlight || this.pending === null || !this.socket.isOpen) return;
    const value = this.pending;
    this.pending = null;
    if (this.skip(value)) return;
    const message = this.encode(value);
    const timer = setTimeout(() => { this.reset(); this.pump(); }, this.timeoutMs);
    this.inFlight = { value, message, timer };
    try {
      this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
    } catch (error) {
      this.clear(); // never retried: the same message would fail the same way
      throw error;
    }
  }

  clear() {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }
}
