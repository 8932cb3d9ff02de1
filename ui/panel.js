// The side panel: chat, people, files, statistics and settings, one at a time, opened and
// closed from the control bar; unread chat (and new file offers) counted on its buttons while
// it is not showing them.

/** Shown in a badge above this, as "9+". */
const MAX_BADGE = 9;

const TITLES = { chat: "Chat", people: "People", files: "Files", stats: "Statistics", settings: "Settings" };

export class SidePanel {
  /** @param {{onChange?: (open: string|null) => void}} opts */
  constructor({ onChange = () => {} } = {}) {
    this.aside = document.getElementById("side-panel");
    this.title = document.getElementById("panel-title");
    this.toggles = [...document.querySelectorAll("[data-panel-toggle]")];
    this.bodies = [...this.aside.querySelectorAll("[data-panel]")];
    this.unread = { chat: 0, files: 0 };
    this.badges = { chat: document.getElementById("chat-badge"), files: document.getElementById("files-badge") };
    this.current = null;
    this.onChange = onChange;
    for (const t of this.toggles) t.addEventListener("click", () => this.toggle(t.dataset.panelToggle));
    document.getElementById("panel-close").addEventListener("click", () => this.close());
  }

  /** Opens `name`, or closes the panel when `name` is already open. */
  toggle(name) {
    if (this.current === name) this.close();
    else this.open(name);
  }

  open(name) {
    this.current = name;
    this.aside.hidden = false;
    this.title.textContent = TITLES[name];
    for (const b of this.bodies) b.hidden = b.dataset.panel !== name;
    for (const t of this.toggles) t.setAttribute("aria-pressed", String(t.dataset.panelToggle === name));
    if (name in this.unread) this.clearUnread(name);
    this.onChange(name);
  }

  close() {
    if (this.current === null) return;
    const was = this.current;
    this.current = null;
    this.aside.hidden = true;
    for (const t of this.toggles) t.setAttribute("aria-pressed", "false");
    this.onChange(null);
    // Focus returns to the button that opened it (keyboard users keep their place).
    const opener = this.toggles.find((t) => t.dataset.panelToggle === was);
    if (opener && this.aside.contains(document.activeElement)) opener.focus();
  }

  /** Something new in `name` (a chat message, a file offer): counted unless it is showing. */
  notify(name) {
    if (this.current === name || !(name in this.unread)) return;
    this.unread[name] += 1;
    this.showBadge(name);
  }

  clearUnread(name) {
    this.unread[name] = 0;
    this.showBadge(name);
  }

  showBadge(name) {
    const n = this.unread[name];
    const badge = this.badges[name];
    badge.hidden = n === 0;
    badge.textContent = n > MAX_BADGE ? `${MAX_BADGE}+` : String(n);
    const toggle = this.toggles.find((t) => t.dataset.panelToggle === name);
    const label = toggle.querySelector(".label");
    if (label) label.textContent = n ? `${TITLES[name]} (${n} new)` : TITLES[name];
  }

  /** Shown in every view (settings) or only during a call (the rest). */
  reset() {
    this.close();
    for (const name of Object.keys(this.unread)) this.clearUnread(name);
  }
}

export { TITLES as PANEL_TITLES };
