// The browser guest's file transfers, over each participant's data channel (the protocol:
// docs/data-channel.md; the pieces: transfer.js). Split out of backend-browser.js, which
// hands it the channel's binary chunks and `file-*` messages and asks it to fail a peer's
// transfers when that peer's channel goes.

import { FileSender, FileReceiver, CHUNK_SIZE, parseChunk } from "./transfer.js";
import { MAX_PENDING_OFFERS } from "./limits.js";

/** Above this much buffered in a data channel a sender waits for it to drain (the channel's
 * low-water mark, set by the backend, says when). */
const HIGH_WATER = 4 * 1024 * 1024;

const isOpen = (peer) => Boolean(peer && peer.dc && peer.dc.readyState === "open");

export class Transfers {
  /**
   * @param {{ emit: (event: object) => void, peer: (id: string) => any }} options
   *   `emit` shows a transfer's change; `peer` finds a participant's current link ({id, dc}).
   */
  constructor({ emit, peer }) {
    this.emit = emit;
    this.peer = peer;
    /** @type {Map<string, any>} transfers by id */
    this.byId = new Map();
  }

  /** Offers `file` to each of `peers` whose channel is open; each transfer waits for that
   * participant to accept. Throws when nobody can be offered it. */
  async offer(file, peers) {
    const open = peers.filter(isOpen);
    if (open.length === 0) throw new Error("nobody to send to yet");
    const bytes = await file.arrayBuffer();
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    for (const peer of open) {
      const sender = new FileSender({ file, sha256, peer: peer.id, onChange: (t) => this.emit({ type: "transfer", transfer: t }) });
      this.byId.set(sender.id, sender);
      peer.dc.send(JSON.stringify(sender.offerMessage()));
      sender.update({ status: "offered" });
    }
  }

  accept(id) {
    const t = this.byId.get(id);
    if (!t || t.direction !== "received" || t.status !== "offered") return;
    const peer = this.peer(t.peer);
    if (!isOpen(peer)) return t.fail("the sender is gone");
    t.update({ status: "receiving" });
    peer.dc.send(JSON.stringify({ t: "file-accept", id }));
  }

  decline(id) {
    const t = this.byId.get(id);
    if (!t || t.direction !== "received" || t.status !== "offered") return;
    const peer = this.peer(t.peer);
    if (isOpen(peer)) peer.dc.send(JSON.stringify({ t: "file-decline", id }));
    t.update({ status: "declined" });
  }

  cancel(id) {
    const t = this.byId.get(id);
    if (!t || t.isFinished()) return;
    const peer = this.peer(t.peer);
    if (isOpen(peer)) peer.dc.send(JSON.stringify({ t: "file-cancel", id }));
    t.cancel();
  }

  /** A binary message from `peer`: a chunk of a file it sends us. */
  onChunk(peer, data) {
    const chunk = parseChunk(data);
    const t = chunk && this.byId.get(chunk.id);
    if (t && t.direction === "received" && t.peer === peer.id) t.onChunk(chunk.payload);
  }

  /** A `file-*` message from `peer` (already rate-limited and parsed by the backend). */
  onMessage(peer, msg) {
    switch (msg.t) {
      case "file-offer": {
        if (typeof msg.id !== "string" || this.byId.has(msg.id)) return;
        const waiting = [...this.byId.values()].filter((t) => t.peer === peer.id && t.direction === "received" && t.status === "offered").length;
        if (waiting >= MAX_PENDING_OFFERS) {
          const reason = `${MAX_PENDING_OFFERS} offers from ${peer.id} are already waiting for an answer`;
          if (isOpen(peer)) peer.dc.send(JSON.stringify({ t: "file-decline", id: msg.id, reason }));
          return;
        }
        const receiver = FileReceiver.fromOffer(msg, peer.id, {
          onChange: (t) => this.emit({ type: "transfer", transfer: t }),
          onVerdict: (v) => peer.dc.readyState === "open" && peer.dc.send(JSON.stringify({ t: "file-result", id: msg.id, ...v })),
        });
        if (!receiver) return;
        this.byId.set(receiver.id, receiver);
        receiver.update({ status: "offered" });
        return;
      }
      case "file-accept":
        return this.startSending(peer, msg.id);
      case "file-decline": {
        const t = this.byId.get(msg.id);
        if (t && t.direction === "sent" && t.peer === peer.id && !t.isFinished()) t.update({ status: "declined" });
        return;
      }
      case "file-cancel": {
        const t = this.byId.get(msg.id);
        if (t && t.peer === peer.id && !t.isFinished()) t.cancel();
        return;
      }
      case "file-end": {
        const t = this.byId.get(msg.id);
        if (t && t.direction === "received" && t.peer === peer.id) t.onEnd();
        return;
      }
      case "file-result": {
        const t = this.byId.get(msg.id);
        if (t && t.direction === "sent" && t.peer === peer.id && !t.isFinished()) {
          if (msg.ok) t.update({ status: "done" });
          else t.fail(typeof msg.reason === "string" ? msg.reason : "the receiver rejected the file");
        }
        return;
      }
      default:
    }
  }

  async startSending(peer, id) {
    const t = this.byId.get(id);
    if (!t || t.direction !== "sent" || t.peer !== peer.id || t.status !== "offered") return;
    t.update({ status: "sending" });
    const dc = peer.dc;
    const waitForDrain = () =>
      new Promise((resolve) => {
        const done = () => {
          dc.removeEventListener("bufferedamountlow", done);
          dc.removeEventListener("close", done);
          resolve();
        };
        dc.addEventListener("bufferedamountlow", done);
        dc.addEventListener("close", done);
      });
    try {
      for await (const frame of t.frames(CHUNK_SIZE)) {
        if (t.isFinished()) return;
        if (dc.readyState !== "open") throw new Error("the connection closed");
        if (dc.bufferedAmount > HIGH_WATER) await waitForDrain();
        if (dc.readyState !== "open") throw new Error("the connection closed");
        dc.send(frame);
      }
      if (!t.isFinished()) {
        dc.send(JSON.stringify({ t: "file-end", id }));
        t.update({ status: "verifying" });
      }
    } catch (err) {
      t.fail(err.message);
    }
  }

  failAllOf(peerId, reason) {
    for (const t of this.byId.values()) {
      if (t.peer === peerId && !t.isFinished()) t.fail(reason);
    }
  }

}
