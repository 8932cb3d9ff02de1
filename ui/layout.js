// Where tiles go on the stage: pure functions of the stage's size and the tiles, so that the
// grid's arithmetic is unit-tested (tests/js/unit-layout.test.mjs) apart from the DOM.

/** The space between tiles, and around them, in CSS pixels. */
export const GAP = 8;
/** The shape tiles take when nothing better is known (most cameras; the test pattern is 4:3). */
export const TILE_ASPECT = 16 / 9;
/** Below this many pixels wide a tile is too small to be useful: the grid scrolls instead. */
export const MIN_TILE_WIDTH = 120;

/**
 * The grid that shows `n` tiles of `aspect` (width / height) largest inside a `width` ×
 * `height` stage: every column count is tried and the one whose tiles come out widest wins
 * (ties: fewer rows). Tiles keep `aspect`; the grid is centred by the caller.
 * @returns {{cols: number, rows: number, tileWidth: number, tileHeight: number}}
 */
export function gridLayout(n, width, height, aspect = TILE_ASPECT) {
  if (n <= 0 || width <= 0 || height <= 0) return { cols: 0, rows: 0, tileWidth: 0, tileHeight: 0 };
  let best = null;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const cellWidth = (width - GAP * (cols + 1)) / cols;
    const cellHeight = (height - GAP * (rows + 1)) / rows;
    if (cellWidth <= 0 || cellHeight <= 0) continue;
    const tileWidth = Math.min(cellWidth, cellHeight * aspect);
    if (!best || tileWidth > best.tileWidth + 0.5) {
      best = { cols, rows, tileWidth, tileHeight: tileWidth / aspect };
    }
  }
  if (!best) return { cols: 1, rows: n, tileWidth: 0, tileHeight: 0 };
  best.tileWidth = Math.floor(best.tileWidth);
  best.tileHeight = Math.floor(best.tileHeight);
  return best;
}

/**
 * The speaker view: one tile large, the others in a strip below it (or beside it when the
 * stage is much wider than tall). Sizes of the main tile and of each strip tile.
 * @returns {{strip: "below"|"side"|"none", main: {width: number, height: number}, thumb: {width: number, height: number}}}
 */
export function speakerLayout(others, width, height, aspect = TILE_ASPECT) {
  if (others === 0) {
    const only = gridLayout(1, width, height, aspect);
    return { strip: "none", main: { width: only.tileWidth, height: only.tileHeight }, thumb: { width: 0, height: 0 } };
  }
  const side = width / height > 2 * aspect;
  // The strip takes a fifth of the stage (at least a usable thumbnail); the main tile the rest.
  if (side) {
    const stripWidth = Math.max(MIN_TILE_WIDTH + 2 * GAP, Math.floor(width / 5));
    const thumb = gridLayout(others, stripWidth, height, aspect);
    const main = gridLayout(1, width - stripWidth, height, aspect);
    return { strip: "side", stripWidth, main: { width: main.tileWidth, height: main.tileHeight }, thumb: { width: thumb.tileWidth, height: thumb.tileHeight } };
  }
  const stripHeight = Math.max(Math.ceil(MIN_TILE_WIDTH / aspect) + 2 * GAP, Math.floor(height / 5));
  // A thumbnail is at most a quarter of the stage's width (on a tall stage the strip's height
  // alone would make it as large as the speaker).
  const perThumb = Math.min((width - GAP * (others + 1)) / others, (stripHeight - 2 * GAP) * aspect, width / 4);
  const main = gridLayout(1, width, height - stripHeight, aspect);
  return {
    strip: "below",
    main: { width: main.tileWidth, height: main.tileHeight },
    thumb: { width: Math.floor(perThumb), height: Math.floor(perThumb / aspect) },
  };
}

/**
 * Where each of `count` tiles goes on a `width` × `height` stage: rectangles {x, y, width,
 * height} in stage pixels, in the tiles' order. With `focus`, the first tile is the large one
 * of the speaker view and the others share the strip; otherwise a centred grid (the last row
 * centred too, as the call apps people know do it).
 */
export function placeTiles(count, width, height, { focus = false, aspect = TILE_ASPECT } = {}) {
  if (count === 0) return [];
  if (!focus || count === 1) {
    const g = gridLayout(count, width, height, aspect);
    const rects = [];
    const gridHeight = g.rows * g.tileHeight + (g.rows - 1) * GAP;
    const top = Math.max(GAP, Math.floor((height - gridHeight) / 2));
    for (let i = 0; i < count; i++) {
      const row = Math.floor(i / g.cols);
      const inRow = Math.min(g.cols, count - row * g.cols);
      const rowWidth = inRow * g.tileWidth + (inRow - 1) * GAP;
      const left = Math.floor((width - rowWidth) / 2);
      rects.push({
        x: left + (i % g.cols) * (g.tileWidth + GAP),
        y: top + row * (g.tileHeight + GAP),
        width: g.tileWidth,
        height: g.tileHeight,
      });
    }
    return rects;
  }
  const s = speakerLayout(count - 1, width, height, aspect);
  if (s.strip === "side") {
    const stripWidth = s.stripWidth;
    const main = { x: Math.floor((width - stripWidth - s.main.width) / 2), y: Math.floor((height - s.main.height) / 2), ...s.main };
    const thumbs = placeTiles(count - 1, stripWidth, height, { aspect }).map((r) => ({ ...r, x: r.x + width - stripWidth }));
    return [main, ...thumbs];
  }
  const stripHeight = s.thumb.height + 2 * GAP;
  const mainArea = height - stripHeight;
  const main = { x: Math.floor((width - s.main.width) / 2), y: Math.max(GAP, Math.floor((mainArea - s.main.height) / 2)), ...s.main };
  const others = count - 1;
  const rowWidth = others * s.thumb.width + (others - 1) * GAP;
  const left = Math.floor((width - rowWidth) / 2);
  const thumbs = [];
  for (let i = 0; i < others; i++) {
    thumbs.push({ x: left + i * (s.thumb.width + GAP), y: height - stripHeight + GAP, ...s.thumb });
  }
  return [main, ...thumbs];
}
