// Finding one participant's link again after it was lost, without I/O (time in ms is an
// argument): the browser guest's copy of the engine's ladder (crates/engine/src/call/recovery.rs,
// whose comments give the reasons), so guests and desktop apps behave alike.
//
//   connecting --connected--> connected --disconnected/failed--> lost{since}
//   lost --connected--> connected        lost --(PARTICIPANT_TIMEOUT_MS)--> removed
//
// Inputs: onLink(now, "connected" | "disconnected" | "failed"), onSignalling(now, up),
// onTimeout(now). Each returns actions: {state} (tell the UI), "restart" (ICE restart),
// "remove". nextTimeout() says when onTimeout has something to do.

/** A lost link is left this long to come back by itself before the first ICE restart. */
export const ICE_RESTART_AFTER_MS = 2000;
/** Gap after the first restart; doubles with each one… */
export const ICE_RESTART_BASE_MS = 1000;
/** …up to this, so the next restart is at most this far from the network's return. */
export const ICE_RESTART_CAP_MS = 3000;
/** A participant unreachable this long is removed from the call. */
export const PARTICIPANT_TIMEOUT_MS = 15000;
/**
 * No packet at all from a connected participant for this long means the link is lost:
 * Chromium's own ICE says "disconnected" only after ~5 s, the engine after 2.5 s (its ICE
 * keepalives arrive every second, media far more often).
 */
export const SILENCE_MS = 2500;

export class Recovery {
  /** @param {boolean} restartsIce this side made the link's first offer */
  constructor(restartsIce) {
    this.restartsIce = restartsIce;
    this.signallingUp = true;
    this.phase = "connecting";
    this.since = null;
    this.nextRestart = null;
    this.restarts = 0;
    /** This side's own network is suspected to have changed: restart the moment signalling allows. */
    this.restartAtOnce = false;
  }

  onLink(now, health) {
    if (this.phase === "removed") return [];
    if (health === "connected") {
      if (this.phase === "connected") return [];
      this.phase = "connected";
      this.since = this.nextRestart = null;
      this.restarts = 0;
      this.restartAtOnce = false;
      return [{ state: "connected" }];
    }
    if (this.phase === "connecting") return [];
    if (this.phase === "connected") {
      this.phase = "lost";
      this.since = now;
      this.restarts = 0;
      this.nextRestart = this.restartsIce ? (health === "failed" ? now : now + ICE_RESTART_AFTER_MS) : null;
      return [{ state: "reconnecting" }, ...this.onTimeout(now)];
    }
    // Failed while still waiting for the first restart: no point waiting longer.
    if (health === "failed" && this.nextRestart !== null && this.nextRestart > now && this.restarts === 0) {
      this.nextRestart = now;
      return this.onTimeout(now);
    }
    return [];
  }

  /** This side's signalling went down (false) or is back in the room (true). */
  onSignalling(now, up) {
    this.signallingUp = up;
    if (!up || this.phase !== "lost") return [];
    // Back with the link still lost: at once when restarts were tried (their credentials
    // replaced the old pair's) or when this side is not the one that restarts (the other's
    // restarts could not reach it while it was away); otherwise the old pair gets its chance.
    const atOnce = this.restartAtOnce || this.restarts > 0 || this.nextRestart === null;
    this.nextRestart = atOnce ? now : now + ICE_RESTART_AFTER_MS;
    return this.onTimeout(now);
  }

  /**
   * This side's own network probably failed or changed (every link went silent at once): the
   * old pair is not worth waiting for; restart as soon as signalling allows, whichever side
   * made the first offer (only this side knows).
   */
  onOwnNetwork(now) {
    if (this.phase !== "lost") return [];
    this.restartAtOnce = true;
    this.nextRestart = now;
    return this.onTimeout(now);
  }

  onTimeout(now) {
    if (this.phase !== "lost") return [];
    if (now - this.since >= PARTICIPANT_TIMEOUT_MS) {
      this.phase = "removed";
      return [{ state: "left" }, "remove"];
    }
    if (this.nextRestart !== null && now >= this.nextRestart && this.signallingUp) {
      this.restartAtOnce = false;
      this.nextRestart = now + Math.min(ICE_RESTART_CAP_MS, ICE_RESTART_BASE_MS * 2 ** this.restarts);
      this.restarts += 1;
      return ["restart"];
    }
    return [];
  }

  /** When onTimeout next has something to do (ms, same clock), or null. */
  nextTimeout() {
    if (this.phase !== "lost") return null;
    const removal = this.since + PARTICIPANT_TIMEOUT_MS;
    const restart = this.signallingUp ? this.nextRestart : null;
    return restart === null ? removal : Math.min(restart, removal);
  }
}
