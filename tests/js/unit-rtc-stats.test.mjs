// The statistics a browser guest shows, from reports shaped like Chromium's getStats().
import { test } from "node:test";
import assert from "node:assert/strict";
import { readStatsReport, statsEvent } from "../../ui/rtc-stats.js";

const report = (entries) => new Map(entries.map((e, i) => [String(i), e]));

test("a report's audio and video add up, and only the nominated pair's round trip counts", () => {
  const totals = readStatsReport(report([
    { type: "inbound-rtp", kind: "video", bytesReceived: 100_000, packetsLost: 3, packetsReceived: 97, framesPerSecond: 29, frameWidth: 640, frameHeight: 480, framesDecoded: 300 },
    { type: "inbound-rtp", kind: "audio", bytesReceived: 20_000, packetsLost: 0, packetsReceived: 100, totalSamplesReceived: 48_000 },
    { type: "outbound-rtp", kind: "video", bytesSent: 90_000, frameWidth: 320, frameHeight: 240, framesPerSecond: 15 },
    { type: "outbound-rtp", kind: "audio", bytesSent: 10_000 },
    { type: "remote-inbound-rtp", kind: "video", fractionLost: 0.02 },
    { type: "candidate-pair", nominated: false, state: "succeeded", currentRoundTripTime: 9 },
    { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.04, availableOutgoingBitrate: 1_500_000 },
  ]));
  assert.equal(totals.bytesIn, 120_000);
  assert.equal(totals.bytesOut, 100_000);
  assert.equal(totals.lost, 3);
  assert.equal(totals.packets, 197);
  assert.deepEqual([totals.width, totals.height, totals.fps, totals.framesDecoded], [640, 480, 29, 300]);
  assert.deepEqual([totals.sentWidth, totals.sentHeight, totals.sentFps], [320, 240, 15]);
  assert.equal(totals.audioSamples, 48_000);
  assert.equal(totals.rtt, 0.04);
  assert.equal(totals.available, 1_500_000);
  assert.equal(totals.lossOut, 0.02);
});

test("rates come from two reports a second apart; the first has none", () => {
  const first = readStatsReport(report([{ type: "inbound-rtp", kind: "video", bytesReceived: 1000, packetsReceived: 10 }]));
  const e1 = statsEvent("bob", "connected", first, undefined, 1000);
  assert.equal(e1.bitrateIn, 0);
  assert.equal(e1.id, "bob");
  assert.equal(e1.state, "connected");
  const later = readStatsReport(report([{ type: "inbound-rtp", kind: "video", bytesReceived: 126_000, packetsReceived: 110, packetsLost: 10 }]));
  const e2 = statsEvent("bob", "connected", later, { ...first, at: 1000 }, 2000);
  assert.equal(e2.bitrateIn, 1_000_000);
  assert.equal(e2.loss, 10 / 120);
});
