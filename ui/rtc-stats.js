// What the statistics panel shows of a browser peer connection, from its `getStats()` report.
// Pure functions (a unit test feeds them reports as Chromium shapes them); the backend calls
// them once a second per link.

/** Totals over `report` (an RTCStatsReport, or any Map-like with forEach): bytes, loss,
 * the video received and sent, the round trip and Chromium's bandwidth estimate. */
export function readStatsReport(report) {
  const s = { bytesIn: 0, bytesOut: 0, rtt: null, lost: 0, packets: 0, fps: null, width: null, height: null, framesDecoded: 0, audioSamples: 0, available: null, sentWidth: null, sentHeight: null, sentFps: null, lossOut: 0 };
  report.forEach((r) => {
    if (r.type === "inbound-rtp") {
      s.bytesIn += r.bytesReceived || 0;
      s.lost += r.packetsLost || 0;
      s.packets += r.packetsReceived || 0;
      if (r.kind === "video") {
        s.fps = r.framesPerSecond ?? s.fps;
        s.width = r.frameWidth ?? s.width;
        s.height = r.frameHeight ?? s.height;
        s.framesDecoded += r.framesDecoded || 0;
      } else if (r.kind === "audio") {
        s.audioSamples += r.totalSamplesReceived || 0;
      }
    } else if (r.type === "outbound-rtp") {
      s.bytesOut += r.bytesSent || 0;
      if (r.kind === "video" && r.frameHeight) {
        s.sentWidth = r.frameWidth;
        s.sentHeight = r.frameHeight;
        s.sentFps = r.framesPerSecond ?? null;
      }
    } else if (r.type === "remote-inbound-rtp" && typeof r.fractionLost === "number") {
      // What the other side reports losing of ours.
      s.lossOut = Math.max(s.lossOut, r.fractionLost);
    } else if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
      if (typeof r.currentRoundTripTime === "number") s.rtt = r.currentRoundTripTime;
      // Chromium's own congestion control estimate for this link.
      if (typeof r.availableOutgoingBitrate === "number") s.available = r.availableOutgoingBitrate;
    }
  });
  return s;
}

/** The `stats` UI event for link `id` in `state`: `totals` now, `prev` (with its `at`) a
 * second ago, rates from the two; `now` in ms (performance.now()). */
export function statsEvent(id, state, totals, prev, now) {
  const s = totals;
  const dt = prev ? (now - prev.at) / 1000 : 0;
  const stat = {
    type: "stats",
    id,
    state,
    bitrateIn: prev && dt > 0 ? ((s.bytesIn - prev.bytesIn) * 8) / dt : 0,
    bitrateOut: prev && dt > 0 ? ((s.bytesOut - prev.bytesOut) * 8) / dt : 0,
    rtt: s.rtt,
    loss: s.packets + s.lost > 0 ? s.lost / (s.packets + s.lost) : 0,
    fps: s.fps,
    width: s.width,
    height: s.height,
    framesDecoded: s.framesDecoded,
    audioSamples: s.audioSamples,
    available: s.available,
    lossOut: s.lossOut,
    sentWidth: s.sentWidth,
    sentHeight: s.sentHeight,
    sentFps: s.sentFps,
  };
  return stat;
}
