// Who the active speaker is, from audio levels, with hysteresis: the speaker view must not
// jump between people at every syllable or cough. Pure (time is an argument), unit-tested in
// tests/js/unit-speaker.test.mjs.

/** A level (0..1, as the backends report) at or above this counts as speech. */
export const SPEAKING_LEVEL = 0.05;
/** How long someone must speak before taking the stage from the current speaker (ms). */
export const TAKE_OVER_MS = 1200;
/** How far back speech is counted (ms): a speaker is whoever spoke most within this window. */
export const WINDOW_MS = 2000;

export class ActiveSpeaker {
  constructor() {
    /** id → times (ms) of level reports at or above SPEAKING_LEVEL, within WINDOW_MS. */
    this.heard = new Map();
    /** id → when their current run of speech began (ms). */
    this.since = new Map();
    this.current = null;
  }

  /** A level report for `id` at `now` (ms). Returns the active speaker after it. */
  report(id, level, now) {
    const times = this.heard.get(id) || [];
    if (level >= SPEAKING_LEVEL) {
      times.push(now);
      if (!this.since.has(id)) this.since.set(id, now);
    } else if (times.length === 0 || now - times[times.length - 1] > WINDOW_MS / 4) {
      // A pause longer than a breath ends a run of speech.
      this.since.delete(id);
    }
    while (times.length && now - times[0] > WINDOW_MS) times.shift();
    this.heard.set(id, times);
    return this.decide(now);
  }

  /** Someone left: they are no longer a candidate. */
  remove(id) {
    this.heard.delete(id);
    this.since.delete(id);
    if (this.current === id) this.current = null;
  }

  decide(now) {
    const loudness = (id) => (this.heard.get(id) || []).filter((t) => now - t <= WINDOW_MS).length;
    let best = null;
    for (const id of this.heard.keys()) if (loudness(id) > 0 && (best === null || loudness(id) > loudness(best))) best = id;
    if (best === null || best === this.current) return this.current;
    // Nobody on stage yet, or they went quiet: the best speaker takes it at once.
    if (this.current === null || loudness(this.current) === 0) {
      this.current = best;
      return best;
    }
    // Someone else talks more: only after speaking for TAKE_OVER_MS in a row.
    if (now - (this.since.get(best) ?? now) >= TAKE_OVER_MS) this.current = best;
    return this.current;
  }
}
