// What a user sees on the stage, measured in the page (the same script in Chromium through
// Playwright and in the desktop app through WebDriver): every shown tile inside the stage,
// nothing scrolling, and each tile's picture on screen with content.

/**
 * A function body for `page.evaluate(new Function(STAGE_GEOMETRY))` / `executeScript`:
 * returns {stage, tiles: [{id, rect, inside, media, playing}], overflow}. `playing`: the
 * tile's <video> has a picture (videoWidth > 0), or its canvas has drawn frames (the app).
 */
export const STAGE_GEOMETRY = `
  const stageEl = document.getElementById("stage");
  const s = stageEl.getBoundingClientRect();
  const tiles = [...document.querySelectorAll("#video-grid .tile")].filter((t) => !t.hidden && t.getClientRects().length);
  const round = (r) => ({ x: Math.round(r.left), y: Math.round(r.top), w: Math.round(r.width), h: Math.round(r.height) });
  return {
    stage: round(s),
    tiles: tiles.map((t) => {
      const r = t.getBoundingClientRect();
      const canvas = t.classList.contains("canvas-video") ? t.querySelector("canvas.tile-canvas") : null;
      const media = canvas || t.querySelector("video");
      const m = media.getBoundingClientRect();
      return {
        id: t.dataset.participant,
        pip: t.classList.contains("pip"),
        rect: round(r),
        inside: r.left >= s.left - 0.5 && r.top >= s.top - 0.5 && r.right <= s.right + 0.5 && r.bottom <= s.bottom + 0.5,
        media: round(m),
        mediaInside: m.left >= r.left - 0.5 && m.top >= r.top - 0.5 && m.right <= r.right + 0.5 && m.bottom <= r.bottom + 0.5,
        playing: canvas ? Number(canvas.dataset.framesDrawn || 0) > 0 : media.videoWidth > 0 && !t.classList.contains("video-off"),
      };
    }),
    overflow: {
      stage: [stageEl.scrollWidth - stageEl.clientWidth, stageEl.scrollHeight - stageEl.clientHeight],
      page: [document.documentElement.scrollWidth - window.innerWidth, document.documentElement.scrollHeight - window.innerHeight],
    },
  };
`;

/** The failures in one measurement of `participants` (ours included); empty when it is right. */
export function stageProblems(g, participants) {
  const problems = [];
  if (g.tiles.length !== participants) problems.push(`${g.tiles.length} tiles shown for ${participants} participants`);
  for (const t of g.tiles) {
    if (!t.inside) problems.push(`${t.id || "self"}'s tile ${JSON.stringify(t.rect)} overflows the stage ${JSON.stringify(g.stage)}`);
    if (!t.mediaInside || t.media.w < 40 || t.media.h < 30) problems.push(`${t.id || "self"}'s picture ${JSON.stringify(t.media)} is not shown in its tile`);
    if (!t.playing) problems.push(`${t.id || "self"}'s tile has no picture`);
  }
  const big = g.tiles.filter((t) => !t.pip);
  for (let i = 0; i < big.length; i++) {
    for (let j = i + 1; j < big.length; j++) {
      const [a, b] = [big[i].rect, big[j].rect];
      if (!(a.x + a.w <= b.x + 1 || b.x + b.w <= a.x + 1 || a.y + a.h <= b.y + 1 || b.y + b.h <= a.y + 1)) problems.push(`tiles ${big[i].id} and ${big[j].id} overlap`);
    }
  }
  if (g.overflow.stage.some((d) => d > 0)) problems.push(`the stage scrolls: ${g.overflow.stage}`);
  if (g.overflow.page.some((d) => d > 0)) problems.push(`the page scrolls: ${g.overflow.page}`);
  return problems;
}

/** The sizes the issue names: the smallest window people use, a laptop, a full HD screen. */
export const SIZES = [
  [800, 600],
  [1280, 720],
  [1920, 1080],
];
/** Participants on the stage, ours included. */
export const COUNTS = [1, 2, 4, 6];
