// The statistics panel's bitrate graph: total bitrate in and out over the last minute, from
// the once-a-second stats events (summed over participants), drawn on a canvas.

const SECONDS = 60;

export class BitrateGraph {
  /** @param {HTMLCanvasElement} canvas @param {HTMLElement} scaleLabel */
  constructor(canvas, scaleLabel) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.scaleLabel = scaleLabel;
    /** Per participant: the latest {in, out}; summed into one point per second. */
    this.latest = new Map();
    /** [{t, in, out}] oldest first, at most SECONDS + 1 points. */
    this.points = [];
    this.timer = null;
  }

  /** A stats event for one participant. */
  update(s) {
    this.latest.set(s.id, { in: s.bitrateIn || 0, out: s.bitrateOut || 0 });
    if (!this.timer) this.timer = setInterval(() => this.tick(), 1000);
  }

  remove(id) {
    this.latest.delete(id);
  }

  tick() {
    let sumIn = 0;
    let sumOut = 0;
    for (const v of this.latest.values()) {
      sumIn += v.in;
      sumOut += v.out;
    }
    this.points.push({ in: sumIn, out: sumOut });
    if (this.points.length > SECONDS + 1) this.points.shift();
    this.canvas.dataset.points = String(this.points.length);
    this.draw();
  }

  draw() {
    const { canvas, ctx, points } = this;
    const w = canvas.width;
    const h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#3a3a3a";
    ctx.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      ctx.beginPath();
      ctx.moveTo(0, Math.round((h * i) / 4) + 0.5);
      ctx.lineTo(w, Math.round((h * i) / 4) + 0.5);
      ctx.stroke();
    }
    const max = Math.max(100e3, ...points.map((p) => Math.max(p.in, p.out)));
    // A round top of scale (1, 2 or 5 × 10^n b/s) so the labels read well.
    const exp = 10 ** Math.floor(Math.log10(max));
    const top = [1, 2, 5, 10].map((m) => m * exp).find((v) => v >= max);
    this.scaleLabel.textContent = `top ${top >= 1e6 ? `${top / 1e6} Mb/s` : `${top / 1e3} kb/s`}`;
    const x = (i) => w - (points.length - 1 - i) * (w / SECONDS);
    const y = (v) => h - 2 - (v / top) * (h - 4);
    for (const [key, color] of [["in", "#4caf50"], ["out", "#42a5f5"]]) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      points.forEach((p, i) => (i === 0 ? ctx.moveTo(x(i), y(p[key])) : ctx.lineTo(x(i), y(p[key]))));
      ctx.stroke();
    }
  }

  clear() {
    clearInterval(this.timer);
    this.timer = null;
    this.latest.clear();
    this.points = [];
    this.draw();
  }
}
