// WebSocket helpers of the studio: a socket that reconnects with backoff, and a "latest value
// wins" sender that keeps at most one request in flight.

/** Close codes after which reconnecting cannot help (not signed in, forbidden, not found). */
export const PERMANENT_CLOSE_CODES = new Set([4401, 4403, 4404]);

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
    this.timer = null;
    this.connect();
  }

  /** Whether the socket is open and can send now. */
  get isOpen() {
    return Boolean(this.socket) && this.socket.readyState === WebSocket.OPEN;
  }

  /** Send `data` if the socket is open; returns whether it was sent. */
  send(data) {
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
      this.attempt = 0;
      if (onStatus) onStatus("connected");
      if (onOpen) onOpen();
    });
    this.socket.addEventListener("message", (event) => { if (onMessage) onMessage(event.data); });
    this.socket.addEventListener("close", (event) => {
      const willReconnect = !this.closedByUs && !PERMANENT_CLOSE_CODES.has(event.code);
      if (onClose) onClose(event, willReconnect);
      if (!willReconnect) return;
      const delay = backoffDelay(this.attempt, this.options);
      this.attempt += 1;
      if (onStatus) onStatus(`disconnected, reconnecting in ${Math.ceil(delay / 1000)} s…`);
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
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  clear() {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }
}
