// The tile's connection indicator: the worst of loss, round trip and estimate (ui/quality.js,
// the same thresholds as the engine's `Quality::assess`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { assessQuality } from "../../ui/quality.js";

test("quality is the worst of loss either way, round trip and estimate", () => {
  assert.equal(assessQuality({ loss: 0, rtt: 0.04, available: 2e6 }), "good");
  assert.equal(assessQuality({}), "good", "nothing measured yet is not bad news");
  assert.equal(assessQuality({ loss: 0.03, rtt: 0.04, available: 2e6 }), "fair");
  assert.equal(assessQuality({ lossOut: 0.03 }), "fair", "what the other side loses of ours counts");
  assert.equal(assessQuality({ rtt: 0.35 }), "fair");
  assert.equal(assessQuality({ available: 300e3 }), "fair");
  assert.equal(assessQuality({ loss: 0.1 }), "poor");
  assert.equal(assessQuality({ rtt: 0.7 }), "poor");
  assert.equal(assessQuality({ available: 100e3 }), "poor");
});
