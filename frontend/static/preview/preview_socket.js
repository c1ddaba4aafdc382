// The preview WebSocket client (protocol: docs/protocol.md, "Preview"), on lib/socket.js.
//
// Latest value wins: at most one request is in flight; while it runs, newer slider positions
// overwrite a single pending slot, which is sent when the frame (or an error) comes back.

import { LatestValueSender, ReconnectingSocket } from "../lib/socket.js";

const REPLY_TIMEOUT_MS = 30000;

export class PreviewSocket {
  /**
   * @param {string} url WebSocket URL of the preview consumer.
   * @param {{onFrame: Function, onError: Function, onStatus: Function}} handlers
   */
  constructor(url, handlers) {
    this.handlers = handlers;
    this.nextRequestId = 1;
    this.frameHeader = null;  // JSON header announcing the next binary message
    this.shown = null;        // {seed, psi} of the last frame received
    this.socket = new ReconnectingSocket(url, {
      onOpen: () => this.sender.pump(),
      onMessage: (data) => this.receive(data),
      onClose: () => {
        this.sender.reset();
        this.frameHeader = null;
        this.shown = null;
      },
      onStatus: handlers.onStatus,
    });
    this.sender = new LatestValueSender(this.socket, {
      encode: ({ seed, psi }) => ({ type: "render", seed, psi, request_id: this.nextRequestId++ }),
      skip: ({ seed, psi }) => Boolean(this.shown) && this.shown.seed === seed && this.shown.psi === psi,
      timeoutMs: REPLY_TIMEOUT_MS,
    });
  }

  /** Ask for the frame of (seed, psi); sent now, or when the request in flight is answered. */
  request(seed, psi) {
    this.sender.offer({ seed, psi });
  }

  /** Whether `requestId` is the request in flight. */
  answers(requestId) {
    const message = this.sender.inFlightMessage;
    return Boolean(message) && message.request_id === requestId;
  }

  /** The request in flight was answered: remember what is shown and send the pending one. */
  settle() {
    const { seed, psi } = this.sender.inFlightMessage;
    this.shown = { seed, psi };
    this.sender.settle();
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
      if (this.answers(message.request_id)) this.settle();
    }
  }

  receiveImage(blob) {
    const header = this.frameHeader;
    this.frameHeader = null;
    if (!header) return;
    const answered = this.answers(header.request_id);
    this.handlers.onFrame(header, new Blob([blob], { type: header.mime }));
    if (answered) this.settle();
    else this.sender.pump();
  }
}
