// The lobby's microphone meter: how loud the microphone is, so a user sees it works before
// joining. Guests measure their stream with WebAudio; the desktop app feeds the engine's
// levels (`level()`). The bar is scaled with a transform (CSSOM, allowed by the CSP).

/** Levels are shown on a dB scale from this (silence) to 0 dBFS: speech reads mid-bar. */
const FLOOR_DB = -60;

/** 0..1 bar position of an RMS level (0..1). */
export function meterPosition(rms) {
  if (!(rms > 0)) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

export class MicMeter {
  constructor(el) {
    this.el = el;
    this.fill = el.querySelector(".meter-fill");
    this.context = null;
    this.frame = null;
  }

  /** Measures `stream`'s audio track until `stop()`. */
  start(stream) {
    this.stop();
    const track = stream && stream.getAudioTracks()[0];
    if (!track) return this.level(0);
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const x of samples) sum += x * x;
      this.level(track.enabled ? Math.sqrt(sum / samples.length) : 0);
      this.frame = requestAnimationFrame(tick);
    };
    this.context = context;
    // Chromium starts an AudioContext on a page that captures without a user gesture; resume
    // covers browsers that start it suspended.
    context.resume().catch(() => {});
    tick();
  }

  /** Shows an RMS level (0..1). */
  level(rms) {
    const p = meterPosition(rms);
    this.fill.style.transform = `scaleX(${p.toFixed(3)})`;
    const now = Math.round(p * 100);
    if (this.el.getAttribute("aria-valuenow") !== String(now)) this.el.setAttribute("aria-valuenow", String(now));
  }

  stop() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (this.context) this.context.close().catch(() => {});
    this.context = null;
    this.level(0);
  }
}
