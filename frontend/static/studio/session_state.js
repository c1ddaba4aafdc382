// The client side of the session protocol's state (docs/protocol.md, "Edit session"): the
// server's stack, reconciled with this client's unacknowledged changes (applied at once,
// optimistic; a property with a change in flight ignores the server's older echoes of it, so
// a slider never jumps back), op ids, and frames that never go back to an older revision. No DOM.

/** Properties of an entry a client changes, and the operation each is sent with. */
export const PROPERTY_OPERATIONS = { scale: "set_scale", enabled: "set_enabled", position: "move" };

export class SessionState {
  /** Empty state; `clientId` prefixes this client's op ids. */
  constructor(clientId = Math.random().toString(36).slice(2, 10)) {
    this.clientId = clientId;
    this.counter = 0;
    this.session = null;
    this.pending = new Map(); // "entry:property" -> {opId, value}
    this.shownFrame = -1;
  }

  /** The server's revision (what base_revision is). */
  get revision() {
    return this.session ? this.session.revision : 0;
  }

  /** A new op id. */
  nextOpId() {
    this.counter += 1;
    return `${this.clientId}:${this.counter}`;
  }

  /** Take the server's full session; entries with a change of ours in flight keep our value. */
  receive(session) {
    if (this.session && session.revision < this.session.revision) return false;
    this.session = session;
    for (const [key, { value }] of this.pending) {
      const [entryId, property] = key.split(":");
      const entry = session.entries.find((item) => String(item.id) === entryId);
      if (entry && property !== "position") entry[property] = value;
    }
    return true;
  }

  /** The message that sets `property` of entry `entryId` to `value`, applied locally at once. */
  change(entryId, property, value) {
    const type = PROPERTY_OPERATIONS[property];
    if (!type) throw new Error(`unknown property ${property}`);
    const opId = this.nextOpId();
    this.pending.set(`${entryId}:${property}`, { opId, value });
    const entry = this.entries().find((item) => item.id === entryId);
    if (entry && property !== "position") entry[property] = value;
    return { type, op_id: opId, base_revision: this.revision, entry: entryId, [property]: value };
  }

  /** A message of a stack operation that is not a property change (add, remove). */
  operation(type, fields = {}) {
    return { type, op_id: this.nextOpId(), base_revision: this.revision, ...fields };
  }

  /** The server acknowledged (or refused) op `opId`: its property is no longer pending. */
  settle(opId) {
    for (const [key, pending] of this.pending) if (pending.opId === opId) this.pending.delete(key);
  }

  /** Whether a frame of `revision` may be shown (never one older than a frame already shown). */
  acceptFrame(revision) {
    if (revision < this.shownFrame) return false;
    this.shownFrame = revision;
    return true;
  }

  /** The stack entries in order. */
  entries() {
    return this.session ? [...this.session.entries].sort((a, b) => a.position - b.position) : [];
  }
}
