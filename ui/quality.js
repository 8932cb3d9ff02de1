// How a connection is doing, for a tile's indicator: the worst of loss (either way), round
// trip and the sender's bandwidth estimate. The thresholds are the engine's
// (crates/engine/src/stats.rs `Quality::assess`): the desktop app gets its participants'
// quality from there; browser guests compute it here from Chromium's getStats.

/** Loss above which a connection is fair, and poor (FEC and NACK repair the first unseen). */
export const FAIR_LOSS = 0.02;
export const POOR_LOSS = 0.08;
/** Round trips (seconds) above which talk feels delayed, and talks over itself. */
export const FAIR_RTT = 0.3;
export const POOR_RTT = 0.6;
/** Estimates below which video drops to 360p, and to 240p at a low frame rate. */
export const FAIR_AVAILABLE_BPS = 400_000;
export const POOR_AVAILABLE_BPS = 150_000;

/** "good" | "fair" | "poor" from loss (0..1), rtt (s, or null) and available (b/s, or null). */
export function assessQuality({ loss = 0, lossOut = 0, rtt = null, available = null }) {
  const worstLoss = Math.max(loss || 0, lossOut || 0);
  const r = rtt ?? 0;
  const a = available ?? Infinity;
  if (worstLoss > POOR_LOSS || r > POOR_RTT || a < POOR_AVAILABLE_BPS) return "poor";
  if (worstLoss > FAIR_LOSS || r > FAIR_RTT || a < FAIR_AVAILABLE_BPS) return "fair";
  return "good";
}

/** What the tile's indicator says, for its label and tooltip. */
export const QUALITY_LABEL = {
  good: "Good connection",
  fair: "Unstable connection",
  poor: "Poor connection",
};
