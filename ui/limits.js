// Bounds on what one participant can make this browser do — the same policy as the desktop
// engine's (crates/engine/src/call/limits.rs and chat.rs): a peer over a limit has its excess
// dropped and one error a second reported; the call goes on for everyone else.

/** Text messages (chat, media state, file control) a participant may send per second… */
export const MESSAGES_PER_SECOND = 50;
/** …with bursts up to this many. */
export const MESSAGE_BURST = 200;
/** Longest chat message shown, in characters: the chat input's own `maxlength`. */
export const MAX_CHAT_CHARS = 4000;
/** Offers from one participant that may wait for the user's answer at once. */
export const MAX_PENDING_OFFERS = 8;
/** Chat ids remembered per sender for de-duplication (the oldest are forgotten). */
export const SEEN_PER_SENDER = 512;

/** A token bucket; time (ms) is an argument so it can be tested. */
export class TokenBucket {
  constructor(rate = MESSAGES_PER_SECOND, burst = MESSAGE_BURST) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = null;
  }

  take(nowMs) {
    if (this.last !== null) this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.rate);
    this.last = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** Counts drops from one source; `dropped(now)` returns the count to report at most once a second. */
export class DropReport {
  constructor() {
    this.count = 0;
    this.lastReport = null;
  }

  dropped(nowMs) {
    this.count += 1;
    if (this.lastReport !== null && nowMs - this.lastReport < 1000) return null;
    this.lastReport = nowMs;
    const n = this.count;
    this.count = 0;
    return n;
  }
}

/**
 * Chat de-duplication per (sender, id) with bounded memory: a message is shown once whichever
 * path delivered it, and nobody can hide another sender's messages by reusing their ids.
 */
export class ChatLog {
  constructor(perSender = SEEN_PER_SENDER) {
    this.perSender = perSender;
    /** @type {Map<string, Set<string>>} */
    this.seen = new Map();
  }

  /** True the first time (from, id) is seen. */
  firstTime(from, id) {
    let ids = this.seen.get(from);
    if (!ids) this.seen.set(from, (ids = new Set()));
    if (ids.has(id)) return false;
    ids.add(id);
    // A Set iterates in insertion order: the first is the oldest.
    if (ids.size > this.perSender) ids.delete(ids.values().next().value);
    return true;
  }

  /** Forgets a participant that left. */
  forget(from) {
    this.seen.delete(from);
  }
}
