// The people panel: everyone in the call, ourselves first, with what each tile shows
// (recording, reconnecting, sharing the screen, muted, camera off). Names are text, never HTML.

/** The state words of a tile, from the data attributes app.js keeps on it. */
export function personState(tile) {
  const state = [];
  if (tile.dataset.recording === "true") state.push("recording");
  if (tile.dataset.state === "reconnecting") state.push("reconnecting");
  else if (tile.dataset.state === "connecting") state.push("connecting");
  if (tile.dataset.screen === "true") state.push("sharing screen");
  if (tile.dataset.audio === "false") state.push("muted");
  if (tile.dataset.video === "false") state.push("camera off");
  return state.join(" · ");
}

/** Fills `list` with ourselves (`myName`, `localTile`) and each of `remoteTiles`; returns how many. */
export function renderPeople(list, myName, localTile, remoteTiles) {
  const row = (name, tile, you) => {
    const li = document.createElement("li");
    li.dataset.testid = "person";
    li.dataset.participant = tile.dataset.participant || "";
    const who = document.createElement("span");
    who.className = "person-name";
    who.textContent = you ? `${name} (you)` : name;
    const flags = document.createElement("span");
    flags.className = "person-flags";
    flags.textContent = personState(tile);
    li.append(who, flags);
    return li;
  };
  const rows = [row(myName, localTile, true)];
  for (const tile of remoteTiles) rows.push(row(tile.querySelector(".tile-name").textContent, tile, false));
  list.replaceChildren(...rows);
  return rows.length;
}
