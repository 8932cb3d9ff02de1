// File transfer over a participant's data channel.
//
// States: offered → (declined | sending/receiving) → verifying → done; any → cancelled | failed.
// Messages (JSON text on the channel): file-offer {id, name, size, sha256, mime},
// file-accept {id}, file-decline {id}, file-cancel {id}, file-end {id},
// file-result {id, ok, reason}. Chunks are binary: [id length: u8][id: ASCII][payload].
// The receiver checks the declared size as bytes arrive and the SHA-256 at the end; nothing is
// offered for download unless both match.

/** Payload bytes per data-channel message: well under every implementation's max-message-size. */
export const CHUNK_SIZE = 16 * 1024;
/** Bytes read from the file at once (split into chunks). */
const READ_SIZE = 1024 * 1024;
/** The browser guest keeps a received file in memory until it is saved; refuse larger offers. */
export const MAX_BROWSER_FILE = 2 * 1024 * 1024 * 1024;
const PROGRESS_INTERVAL_MS = 100;
const ID_RE = /^[A-Za-z0-9-]{1,64}$/;
const SHA_RE = /^[0-9a-f]{64}$/;

/** A download name that cannot name another directory, a device or hidden markup. */
export function safeFileName(name) {
  let s = String(name)
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, "_")
    .replace(/^[.\s]+|[.\s]+$/g, "");
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(s)) s = `_${s}`;
  if (s.length > 200) {
    const dot = s.lastIndexOf(".");
    const ext = dot > 0 && s.length - dot <= 16 ? s.slice(dot) : "";
    s = s.slice(0, 200 - ext.length) + ext;
  }
  return s || "download";
}

export function parseChunk(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 1) return null;
  const len = bytes[0];
  if (len === 0 || bytes.length < 1 + len) return null;
  const id = String.fromCharCode(...bytes.subarray(1, 1 + len));
  return { id, payload: bytes.subarray(1 + len) };
}

function frame(idBytes, payload) {
  const out = new Uint8Array(1 + idBytes.length + payload.length);
  out[0] = idBytes.length;
  out.set(idBytes, 1);
  out.set(payload, 1 + idBytes.length);
  return out.buffer;
}

const FINISHED = new Set(["done", "failed", "declined", "cancelled"]);

class Transfer {
  constructor(fields, onChange) {
    Object.assign(this, fields);
    this.bytes = 0;
    this.reason = null;
    this.url = null;
    this.onChange = onChange;
    this.lastProgress = 0;
  }

  snapshot() {
    const { id, name, size, sha256, peer, direction, status, bytes, reason, url } = this;
    return { id, name, size, sha256, peer, direction, status, bytes, reason, url };
  }

  update(patch) {
    Object.assign(this, patch);
    this.onChange(this.snapshot());
  }

  progress(force = false) {
    const now = performance.now();
    if (force || now - this.lastProgress >= PROGRESS_INTERVAL_MS || this.bytes === this.size) {
      this.lastProgress = now;
      this.onChange(this.snapshot());
    }
  }

  isFinished() {
    return FINISHED.has(this.status);
  }

  fail(reason) {
    if (this.isFinished()) return;
    this.release();
    this.update({ status: "failed", reason });
  }

  cancel() {
    if (this.isFinished()) return;
    this.release();
    this.update({ status: "cancelled" });
  }

  release() {}
}

export class FileSender extends Transfer {
  constructor({ file, sha256, peer, onChange }) {
    super({ id: crypto.randomUUID(), name: file.name, size: file.size, sha256, peer, direction: "sent", status: "new" }, onChange);
    this.file = file;
  }

  offerMessage() {
    return { t: "file-offer", id: this.id, name: this.name, size: this.size, sha256: this.sha256, mime: this.file.type || "" };
  }

  /** Yields framed chunks, reading the file a slice at a time. */
  async *frames(chunkSize) {
    const idBytes = new TextEncoder().encode(this.id);
    for (let offset = 0; offset < this.size; offset += READ_SIZE) {
      const slice = new Uint8Array(await this.file.slice(offset, offset + READ_SIZE).arrayBuffer());
      for (let i = 0; i < slice.length; i += chunkSize) {
        if (this.isFinished()) return;
        const payload = slice.subarray(i, i + chunkSize);
        yield frame(idBytes, payload);
        this.bytes += payload.length;
        this.progress();
      }
    }
  }
}

export class FileReceiver extends Transfer {
  /** Validates an offer from a peer; returns null for one that is not well-formed. */
  static fromOffer(msg, peer, { onChange, onVerdict }) {
    const ok =
      typeof msg.id === "string" && ID_RE.test(msg.id) &&
      typeof msg.name === "string" && msg.name.length > 0 && msg.name.length <= 10000 &&
      Number.isSafeInteger(msg.size) && msg.size >= 0 && msg.size <= MAX_BROWSER_FILE &&
      typeof msg.sha256 === "string" && SHA_RE.test(msg.sha256);
    if (!ok) return null;
    const r = new FileReceiver({ id: msg.id, name: safeFileName(msg.name), size: msg.size, sha256: msg.sha256, peer, direction: "received", status: "new" }, onChange);
    r.mime = typeof msg.mime === "string" ? msg.mime.slice(0, 100) : "";
    r.chunks = [];
    r.onVerdict = onVerdict;
    return r;
  }

  onChunk(payload) {
    if (this.status !== "receiving") return; // late chunks after cancel/decline are dropped
    if (this.bytes + payload.length > this.size) {
      this.fail(`more data than the declared ${this.size} bytes`);
      this.onVerdict({ ok: false, reason: this.reason });
      return;
    }
    this.chunks.push(payload.slice());
    this.bytes += payload.length;
    this.progress();
  }

  async onEnd() {
    if (this.status !== "receiving") return;
    if (this.bytes !== this.size) {
      this.fail(`size mismatch: received ${this.bytes} of ${this.size} bytes`);
      this.onVerdict({ ok: false, reason: this.reason });
      return;
    }
    this.update({ status: "verifying" });
    const blob = new Blob(this.chunks, { type: "application/octet-stream" });
    this.chunks = [];
    const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== this.sha256) {
      this.fail("SHA-256 mismatch: the file was corrupted or altered");
      this.onVerdict({ ok: false, reason: this.reason });
      return;
    }
    this.update({ status: "done", url: URL.createObjectURL(blob) });
    this.onVerdict({ ok: true });
  }

  release() {
    this.chunks = [];
  }
}
