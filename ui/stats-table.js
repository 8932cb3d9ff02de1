// A participant's row in the statistics panel: state, bitrates both ways, what congestion
// control estimates the link carries, round trip, loss, the video received and sent.

/** Columns, as index.html's header has them. */
export const STATS_COLUMNS = 9;

export function fmtRate(bps) {
  if (!bps) return "0 kb/s";
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${(bps / 1e3).toFixed(0)} kb/s`;
}

/**
 * Shows `s` (a backend's stats event) in `body`'s row for `s.id`, made when missing.
 * `name` and `state` as the UI knows them; `size` the picture received ({width, height}).
 */
export function renderStatsRow(body, s, { name, state, size }) {
  let row = body.querySelector(`tr[data-participant="${CSS.escape(s.id)}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.participant = s.id;
    for (let i = 0; i < STATS_COLUMNS; i++) row.append(document.createElement("td"));
    body.append(row);
  }
  const video = size ? `${size.width}×${size.height} @ ${s.fps ?? 0} fps` : "—";
  const sent = s.sentHeight ? `${s.sentWidth}×${s.sentHeight} @ ${Math.round(s.sentFps ?? 0)} fps` : "—";
  const cells = [
    name,
    state,
    fmtRate(s.bitrateIn),
    fmtRate(s.bitrateOut),
    s.available == null ? "—" : fmtRate(s.available),
    s.rtt == null ? "—" : `${(s.rtt * 1000).toFixed(0)} ms`,
    `${(Math.max(s.loss || 0, s.lossOut || 0) * 100).toFixed(1)} %`,
    video,
    sent,
  ];
  cells.forEach((text, i) => (row.children[i].textContent = text));
  row.dataset.framesDecoded = String(s.framesDecoded);
  if (s.available != null) row.dataset.available = String(Math.round(s.available));
}
