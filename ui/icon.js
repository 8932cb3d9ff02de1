// Icons on buttons: Lucide's SVGs (ui/icons.js, built from npm by scripts/build-icons.mjs).
// The SVG strings are our own build's, never anything a peer sent, so they may go through
// a template's innerHTML; labels stay text.

import { ICONS } from "./icons.js";

const cache = new Map();

/** A fresh SVG element of the icon `name` (throws on a name the build did not include). */
export function icon(name) {
  let template = cache.get(name);
  if (!template) {
    if (!(name in ICONS)) throw new Error(`no icon ${name}: add it to scripts/build-icons.mjs`);
    template = document.createElement("template");
    template.innerHTML = ICONS[name];
    cache.set(name, template);
  }
  const svg = template.content.firstElementChild.cloneNode(true);
  svg.classList.add("icon");
  return svg;
}

/**
 * Shows `name`'s icon and `label` on `button`: the label as visible text when `visible`,
 * otherwise as its accessible name and tooltip (with the shortcut, when it has one). Other
 * children (a badge) are kept.
 */
export function setButton(button, name, label, { visible = false } = {}) {
  for (const old of button.querySelectorAll(":scope > svg.icon, :scope > .label")) old.remove();
  const text = document.createElement("span");
  text.className = visible ? "label" : "label visually-hidden";
  text.textContent = label;
  button.prepend(icon(name), text);
  const key = button.getAttribute("aria-keyshortcuts");
  button.title = key ? `${label} (${key})` : label;
}

/** Every `[data-icon]` element under `root` gets its icon (static buttons of index.html). */
export function fillIcons(root = document) {
  for (const el of root.querySelectorAll("[data-icon]")) {
    if (el.querySelector(":scope > svg.icon")) continue;
    const label = el.getAttribute("aria-label");
    if (label && !el.textContent.trim()) setButton(el, el.dataset.icon, label);
    else el.prepend(icon(el.dataset.icon));
  }
}
