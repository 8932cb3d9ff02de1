// Keyboard shortcuts, documented in the stats panel and the README. Never while typing (in
// any field), never with a modifier (those belong to the webview and the desktop).

/** Whether a key pressed in `target` is typing, not a shortcut. */
export function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

/**
 * Listens on `doc` for the shortcuts: `lobbyKeys()` and, in a call (`inCall()`), `callKeys()`
 * map a lower-case key to the button it clicks; C opens the chat at its message box; Esc
 * leaves a chat box with text in it, otherwise closes the side panel.
 */
export function installShortcuts(doc, { chatInput, panel, inCall, lobbyKeys, callKeys }) {
  doc.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (ev.key === "Escape" && t === chatInput && chatInput.value) {
      chatInput.blur();
      return;
    }
    if (ev.key === "Escape" && panel.current && !doc.fullscreenElement) {
      ev.preventDefault();
      panel.close();
      return;
    }
    if (ev.ctrlKey || ev.altKey || ev.metaKey || ev.repeat || isTyping(t)) return;
    const key = ev.key.toLowerCase();
    // Mic and camera work in the lobby too (they set what the call starts with).
    const button = lobbyKeys()[key] || (inCall() && callKeys()[key]);
    if (button) {
      ev.preventDefault();
      button.click();
    } else if (key === "c" && inCall()) {
      ev.preventDefault();
      panel.open("chat");
    }
  });
}
