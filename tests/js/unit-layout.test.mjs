// The stage's grid (ui/layout.js): 1-6 tiles fit any stage from 800×600 to full HD without
// overflowing it, keep their aspect ratio, and use the space (the largest tiles that fit).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gridLayout, speakerLayout, placeTiles, GAP } from "../../ui/layout.js";

const STAGES = [
  [800, 480],
  [1280, 600],
  [1920, 960],
  [500, 900],
];

test("every tile fits the stage, keeps its aspect ratio, and no layout with other columns gives bigger tiles", () => {
  for (const [w, h] of STAGES) {
    for (let n = 1; n <= 6; n++) {
      const g = gridLayout(n, w, h, 16 / 9);
      assert.ok(g.cols * g.rows >= n, `${n} tiles in ${g.cols}×${g.rows}`);
      assert.ok(g.cols * g.tileWidth + GAP * (g.cols + 1) <= w, `${n} tiles ${g.tileWidth} wide fit ${w}`);
      assert.ok(g.rows * g.tileHeight + GAP * (g.rows + 1) <= h, `${n} tiles ${g.tileHeight} high fit ${h}`);
      assert.ok(Math.abs(g.tileWidth / g.tileHeight - 16 / 9) < 0.05, "aspect kept");
      for (let cols = 1; cols <= n; cols++) {
        const rows = Math.ceil(n / cols);
        const width = Math.min((w - GAP * (cols + 1)) / cols, ((h - GAP * (rows + 1)) / rows) * (16 / 9));
        assert.ok(width <= g.tileWidth + 1, `${cols} columns would not beat ${g.cols} for ${n} in ${w}×${h}`);
      }
    }
  }
});

test("the grid takes the shapes people expect", () => {
  assert.deepEqual(pick(gridLayout(1, 1280, 600)), [1, 1]);
  assert.deepEqual(pick(gridLayout(2, 1280, 600)), [2, 1], "two side by side on a wide stage");
  assert.deepEqual(pick(gridLayout(2, 500, 900)), [1, 2], "stacked on a tall one");
  assert.deepEqual(pick(gridLayout(4, 1280, 720)), [2, 2]);
  assert.deepEqual(pick(gridLayout(6, 1920, 960)), [3, 2]);
  assert.deepEqual(gridLayout(0, 800, 600), { cols: 0, rows: 0, tileWidth: 0, tileHeight: 0 });
});

test("the speaker view gives the main tile most of the stage and a strip to the others", () => {
  const one = speakerLayout(0, 1280, 600);
  assert.equal(one.strip, "none");
  const below = speakerLayout(3, 1280, 600);
  assert.equal(below.strip, "below");
  assert.ok(below.main.height >= 0.7 * 600 - 2 * GAP, `main ${below.main.height} high`);
  assert.ok(3 * below.thumb.width + 4 * GAP <= 1280, "the strip fits");
  assert.ok(below.main.height + below.thumb.height + 3 * GAP <= 600, "main and strip fit one above the other");
  const side = speakerLayout(2, 2400, 500);
  assert.equal(side.strip, "side", "a very wide stage puts the strip beside");
});

function pick(g) {
  return [g.cols, g.rows];
}

test("placed tiles stay inside the stage and never overlap, in the grid and the speaker view", () => {
  for (const [w, h] of [...STAGES, [2400, 500]]) {
    for (let n = 1; n <= 6; n++) {
      for (const focus of [false, true]) {
        const rects = placeTiles(n, w, h, { focus });
        assert.equal(rects.length, n);
        for (const r of rects) {
          assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= w && r.y + r.height <= h, `${n} (focus ${focus}) in ${w}×${h}: ${JSON.stringify(r)}`);
          assert.ok(r.width >= 60, `a usable tile: ${JSON.stringify(r)} of ${n} in ${w}×${h}`);
        }
        for (let i = 0; i < n; i++) {
          for (let j = i + 1; j < n; j++) {
            const [a, b] = [rects[i], rects[j]];
            const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
            assert.ok(apart, `tiles ${i} and ${j} of ${n} overlap in ${w}×${h}`);
          }
        }
        if (focus && n > 1) assert.ok(rects[0].width > 1.5 * rects[1].width, "the speaker's tile is the large one");
      }
    }
  }
});
