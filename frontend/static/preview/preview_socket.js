// The preview WebSocket client (protocol: docs/protocol.md, "Preview").
//
// Latest value wins: at most one request is in flight; while it runs, newer slider positions
// overwrite a single pending slot, which is sent when the frame (or an error) comes back.

const RECONNECT_MS = 1000;
const REPLY_TIMEOUT_MS = 30000;

export class PreviewSocket {
  /**
   * @param {string} url WebSocket URL of the preview consumer.
   * @param {{onFrame: Function, onError: Function, onStatus: Function}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.nextRequestId = 1;
    this.wanted = null;       // {seed, psi} the user asked for last
    this.inFlight = null;     // {requestId, seed, psi, timer}
    this.frameHeader = null;  // JSON header announcing the next binary message
    this.shown = null;        // {seed, psi} of the last frame received
    this.connect();
  }

  /** Ask for the frame of (seed, psi); sent now, or when the request in flight is answered. */
  request(seed, psi) {
    this.wanted = { seed, psi };
    this.pump();
  }

  connect() {
    this.socket = new WebSocket(this.url);
    this.socket.binaryType = "blob";
    this.socket.addEventListener("open", () => {
      this.handlers.onStatus("connected");
      this.pump();
    });
    this.socket.addEventListener("message", (event) => this.receive(event.data));
    this.socket.addEventListener("close", () => {
      this.clearInFlight();
      this.frameHeader = null;
      this.shown = null;
      this.handlers.onStatus("disconnected, reconnecting…");
      setTimeout(() => this.connect(), RECONNECT_MS);
    });
  }

  pump() {
    if (this.inFlight || !this.wanted || this.socket.readyState !== WebSocket.OPEN) return;
    const { seed, psi } = this.wanted;
    if (this.shown && this.shown.seed === seed && this.shown.psi === psi) return;
    const requestId = this.nextRequestId++;
    const timer = setTimeout(() => { this.clearInFlight(); this.pump(); }, REPLY_TIMEOUT_MS);
    this.inFlight = { requestId, seed, psi, timer };
    this.socket.send(JSON.stringify({ type: "render", seed, psi, request_id: requestId }));
  }

  clearInFlight() {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }

  receive(data) {
    if (typeof data !== "string") {
      this.receiveImage(data);
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "frame") {
      this.frameHeader = message;
    } else if (message.type === "error") {
      this.handlers.onError(message);
      if (this.inFlight && message.request_id === this.inFlight.requestId) {
        this.shown = { seed: this.inFlight.seed, psi: this.inFlight.psi };
        this.clearInFlight();
        this.pump();
      }
    }
  }

  receiveImage(blob) {
    const header = this.frameHeader;
    this.frameHeader = null;
    if (!header) return;
    if (this.inFlight && header.request_id === this.inFlight.requestId) {
      this.shown = { seed: this.inFlight.seed, psi: this.inFlight.psi };
      this.clearInFlight();
    }
    this.handlers.onFrame(header, new Blob([blob], { type: header.mime }));
    this.pump();
  }
}
