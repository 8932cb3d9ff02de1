// Who records the call, as the page shows it: a REC pill on the recorder's tile, a line in the
// chat, "recording" in the people panel (people.js reads the tile's data-recording); and, in
// the desktop app, its own Record button (R) with a REC indicator and the recording's time
// beside the clock, and "Show in folder" once a recording is saved. Names are text only.

import { setButton } from "./icon.js";

export class RecordingControls {
  /**
   * @param {object} o
   * @param {HTMLButtonElement} o.button the Record button (the app only)
   * @param {HTMLElement} o.indicator the REC indicator, `o.time` inside it
   * @param {HTMLElement} o.localTile this side's tile
   * @param {() => object|null} o.backend the call's backend (startRecording, stopRecording, showRecording)
   * @param {() => boolean} o.inCall
   * @param {(id: string) => HTMLElement|null} o.tileOf a participant's tile, if they have one
   * @param {(id: string) => string} o.nameOf
   * @param {(text: string) => void} o.say a line in the chat
   * @param {(text: string, label: string, onClick: () => void) => void} o.sayWithAction
   * @param {() => void} o.changed a tile's recording state changed (the people panel)
   */
  constructor(o) {
    Object.assign(this, o);
    /** This side records since (performance.now()), or null. */
    this.since = null;
    this.button.addEventListener("click", () => this.toggle());
    this.show();
  }

  async toggle() {
    const backend = this.backend();
    if (!backend || !this.inCall() || !backend.startRecording) return;
    try {
      if (this.since === null) await backend.startRecording();
      else await backend.stopRecording();
    } catch (err) {
      this.say(`Recording: ${err}`);
    }
    // The engine's "recording" event turns the indicator on or off.
  }

  /** A `recording` UI event {id, on, path?, error?}: someone's (or our own) recording. */
  onEvent(e) {
    const mine = e.id === this.localTile.dataset.participant;
    const tile = mine ? this.localTile : this.tileOf(e.id);
    if (!tile) return;
    const was = tile.dataset.recording === "true";
    tile.dataset.recording = String(e.on);
    tile.classList.toggle("recording", e.on);
    if (!mine) tile.setAttribute("aria-label", e.on ? `${this.nameOf(e.id)}, recording the call` : this.nameOf(e.id));
    if (was !== e.on) this.say(`${mine ? "You" : this.nameOf(e.id)} ${e.on ? "started" : "stopped"} recording the call`);
    if (e.error) this.say(`Recording stopped: ${e.error}`);
    if (mine) {
      this.since = e.on ? (this.since ?? performance.now()) : null;
      this.show();
      if (!e.on && e.path) {
        this.sayWithAction(`Recording saved: ${e.path}`, "Show in folder", () =>
          this.backend().showRecording(e.path).catch((err) => this.say(`Show in folder: ${err}`)));
      }
    }
    this.changed();
  }

  /** The button's state and the indicator's time (called each second by the clock). */
  show() {
    const on = this.since !== null;
    this.button.setAttribute("aria-pressed", String(on));
    this.button.classList.toggle("recording", on);
    setButton(this.button, on ? "square" : "circle-dot", on ? "Stop recording" : "Record the call");
    this.indicator.hidden = !on;
    if (on) {
      const s = Math.floor((performance.now() - this.since) / 1000);
      this.time.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }
  }

  /** Left the call: the engine finished any recording (its event says where). */
  reset() {
    this.since = null;
    this.localTile.classList.remove("recording");
    this.localTile.dataset.recording = "false";
    this.show();
  }
}
