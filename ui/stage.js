// The stage: every tile placed to fill the window (ui/layout.js does the arithmetic), the
// grid or the speaker view, a pinned participant, a shared screen taking the stage, the
// self-view small and movable or hidden, and a tile's full screen on double-click.

import { placeTiles, GAP, TILE_ASPECT } from "./layout.js";
import { ActiveSpeaker } from "./speaker.js";
import { setButton } from "./icon.js";

/** The self-view's width when it floats over the stage: a fifth of the stage, within these (its height from the tiles' shape). */
const PIP_MIN_WIDTH = 120;
const PIP_MAX_WIDTH = 260;

export class Stage {
  /** @param {{stage: HTMLElement, grid: HTMLElement, localTile: HTMLElement, showSelf: HTMLElement, hideSelf: HTMLElement, layoutButton: HTMLElement}} els */
  constructor({ stage, grid, localTile, showSelf, hideSelf, layoutButton }) {
    Object.assign(this, { stage, grid, localTile, showSelf, hideSelf, layoutButton });
    /** "grid", or "speaker" (the active speaker large). */
    this.mode = "grid";
    this.pinned = null;
    this.selfHidden = false;
    /** Participants sharing their screen, in the order they started. */
    this.screens = [];
    this.speaker = new ActiveSpeaker();
    /** Where the user dragged the self-view: its top-left corner as fractions of the stage. */
    this.pipAt = null;
    /** The tiles' shape: that of most of the pictures shown (4:3 cameras, 16:9 ones, screens). */
    this.aspect = TILE_ASPECT;
    new ResizeObserver(() => this.relayout()).observe(stage);
    // A picture's size is known once it plays and may change (a screen share, a ladder
    // step): a video's "resize" event does not bubble, so the grid listens while capturing;
    // canvas tiles (the desktop app) are checked once a second.
    grid.addEventListener("resize", () => this.followAspect(), true);
    setInterval(() => this.followAspect(), 1000);
    hideSelf.addEventListener("click", (ev) => {
      ev.stopPropagation();
      this.setSelfHidden(true);
    });
    showSelf.addEventListener("click", () => this.setSelfHidden(false));
    layoutButton.addEventListener("click", () => this.setMode(this.mode === "grid" ? "speaker" : "grid"));
    grid.addEventListener("dblclick", (ev) => {
      const tile = ev.target.closest(".tile");
      if (tile && !ev.target.closest("button")) this.toggleFullscreen(tile);
    });
    grid.addEventListener("click", (ev) => {
      const pin = ev.target.closest(".tile-button.pin");
      if (pin) this.togglePin(pin.closest(".tile").dataset.participant);
    });
    grid.addEventListener("keydown", (ev) => {
      const tile = ev.target.closest && ev.target.closest(".tile.remote");
      if (!tile || ev.target !== tile) return;
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.togglePin(tile.dataset.participant);
      } else if (ev.key === "f" || ev.key === "F") {
        ev.preventDefault();
        this.toggleFullscreen(tile);
      }
    });
    this.dragSelfView();
    this.showMode();
  }

  /** Re-lays the stage when most pictures now have another shape. */
  followAspect() {
    const aspects = [];
    for (const tile of this.grid.querySelectorAll(".tile")) {
      const canvas = tile.querySelector("canvas.tile-canvas");
      const video = tile.querySelector("video");
      const [w, h] = canvas && tile.classList.contains("canvas-video") ? [canvas.width, canvas.height] : [video?.videoWidth, video?.videoHeight];
      if (w > 0 && h > 0) aspects.push(w / h);
    }
    if (!aspects.length) return;
    aspects.sort((a, b) => a - b);
    const aspect = Math.min(21 / 9, Math.max(3 / 4, aspects[Math.floor(aspects.length / 2)]));
    if (Math.abs(aspect - this.aspect) > 0.02) {
      this.aspect = aspect;
      this.relayout();
    }
  }

  remoteTiles() {
    return [...this.grid.querySelectorAll(".tile.remote")];
  }

  /** Who has the large tile now, or null for the plain grid. */
  focus() {
    const present = new Set(this.remoteTiles().map((t) => t.dataset.participant));
    if (this.pinned && present.has(this.pinned)) return this.pinned;
    const screen = this.screens.filter((id) => present.has(id)).at(-1);
    if (screen) return screen;
    if (this.mode === "speaker") {
      const current = this.speaker.current;
      if (current && present.has(current)) return current;
      return present.values().next().value ?? null;
    }
    return null;
  }

  /** Places every tile; call after tiles come or go, or when focus may have moved. */
  relayout() {
    const width = this.stage.clientWidth;
    const height = this.stage.clientHeight;
    if (!width || !height) return;
    const remotes = this.remoteTiles();
    const focus = this.focus();
    // Alone: our own tile fills the stage. With others: it floats small when there is one
    // other person or a large tile, otherwise it is one of the grid (unless hidden).
    const pip = remotes.length > 0 && !this.selfHidden && (remotes.length === 1 || focus !== null);
    const selfInGrid = !this.selfHidden && !pip;
    this.localTile.hidden = this.selfHidden && remotes.length > 0;
    this.showSelf.hidden = !(this.selfHidden && remotes.length > 0);
    this.localTile.classList.toggle("pip", pip);
    const ordered = [...remotes];
    if (focus) {
      const i = ordered.findIndex((t) => t.dataset.participant === focus);
      ordered.unshift(...ordered.splice(i, 1));
    }
    if (selfInGrid || remotes.length === 0) ordered.push(this.localTile);
    const rects = placeTiles(ordered.length, width, height, { focus: focus !== null, aspect: this.aspect });
    ordered.forEach((tile, i) => {
      place(tile, rects[i]);
      tile.classList.toggle("main", focus !== null && i === 0);
      tile.classList.toggle("thumb", focus !== null && i > 0);
    });
    for (const tile of remotes) {
      const pinned = tile.dataset.participant === this.pinned;
      const button = tile.querySelector(".tile-button.pin");
      button.setAttribute("aria-pressed", String(pinned));
      const name = tile.querySelector(".tile-name").textContent;
      setButton(button, pinned ? "pin-off" : "pin", pinned ? `Unpin ${name}` : `Pin ${name}`);
      tile.dataset.pinned = String(pinned);
    }
    if (pip) this.placeSelfView(width, height);
    else if (remotes.length === 0) this.localTile.classList.remove("main", "thumb");
  }

  placeSelfView(width, height) {
    const w = Math.round(Math.min(PIP_MAX_WIDTH, Math.max(PIP_MIN_WIDTH, width / 5)));
    const h = Math.round(w / this.aspect);
    const at = this.pipAt || { x: 1, y: 1 };
    const x = Math.round(GAP + at.x * Math.max(0, width - w - 2 * GAP));
    const y = Math.round(GAP + at.y * Math.max(0, height - h - 2 * GAP));
    place(this.localTile, { x, y, width: w, height: h });
  }

  /** The self-view can be dragged anywhere on the stage (pointer events, any input). */
  dragSelfView() {
    let start = null;
    this.localTile.addEventListener("pointerdown", (ev) => {
      if (!this.localTile.classList.contains("pip") || ev.target.closest("button")) return;
      start = { x: ev.clientX, y: ev.clientY, left: this.localTile.offsetLeft, top: this.localTile.offsetTop };
      this.localTile.setPointerCapture(ev.pointerId);
    });
    this.localTile.addEventListener("pointermove", (ev) => {
      if (!start) return;
      const width = this.stage.clientWidth - this.localTile.offsetWidth - 2 * GAP;
      const height = this.stage.clientHeight - this.localTile.offsetHeight - 2 * GAP;
      const left = Math.min(Math.max(GAP, start.left + ev.clientX - start.x), GAP + width);
      const top = Math.min(Math.max(GAP, start.top + ev.clientY - start.y), GAP + height);
      this.pipAt = { x: width > 0 ? (left - GAP) / width : 1, y: height > 0 ? (top - GAP) / height : 1 };
      this.localTile.style.left = `${left}px`;
      this.localTile.style.top = `${top}px`;
    });
    const end = () => (start = null);
    this.localTile.addEventListener("pointerup", end);
    this.localTile.addEventListener("pointercancel", end);
  }

  setSelfHidden(hidden) {
    this.selfHidden = hidden;
    this.relayout();
    (hidden ? this.showSelf : this.hideSelf).focus();
  }

  setMode(mode) {
    this.mode = mode;
    this.showMode();
    this.relayout();
  }

  showMode() {
    const speaker = this.mode === "speaker";
    this.stage.dataset.layout = this.mode;
    this.layoutButton.setAttribute("aria-pressed", String(speaker));
    setButton(this.layoutButton, speaker ? "layout-grid" : "user-round", speaker ? "Grid view" : "Speaker view");
  }

  togglePin(id) {
    this.pinned = this.pinned === id ? null : id;
    this.relayout();
  }

  toggleFullscreen(tile) {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (tile.requestFullscreen) tile.requestFullscreen().catch(() => {});
  }

  /** A participant's media flags changed: a screen share takes the stage while it lasts. */
  setScreen(id, sharing) {
    const had = this.screens.includes(id);
    if (sharing && !had) this.screens.push(id);
    if (!sharing && had) this.screens = this.screens.filter((s) => s !== id);
    if (sharing !== had) this.relayout();
  }

  /** An audio level for `id` (ours included): the speaker view follows who talks. */
  audioLevel(id, level) {
    const before = this.speaker.current;
    const now = this.speaker.report(id, level, performance.now());
    for (const tile of this.grid.querySelectorAll(".tile")) tile.classList.toggle("active-speaker", tile.dataset.participant === now);
    if (now !== before && this.mode === "speaker") this.relayout();
  }

  /** Someone left: forget them everywhere. */
  remove(id) {
    this.speaker.remove(id);
    this.screens = this.screens.filter((s) => s !== id);
    if (this.pinned === id) this.pinned = null;
    this.relayout();
  }

  reset() {
    this.pinned = null;
    this.screens = [];
    this.speaker = new ActiveSpeaker();
    this.selfHidden = false;
    this.pipAt = null;
    this.relayout();
  }
}

/** Puts `tile` at `rect` (stage pixels). CSSOM, not a style attribute: the CSP allows it. */
function place(tile, rect) {
  tile.style.left = `${rect.x}px`;
  tile.style.top = `${rect.y}px`;
  tile.style.width = `${rect.width}px`;
  tile.style.height = `${rect.height}px`;
}
