// Video for the desktop app's tiles. The engine forwards each participant's H.264 access
// units (Annex B) and the page decodes them with WebCodecs into the tile's canvas; where this
// webview cannot decode H.264 the engine decodes and sends I420 pictures instead, drawn
// through `new VideoFrame`. BENCHMARKS.md ("Frames to tiles") has the measurements that chose
// this: raw pictures cost the IPC ~100× the bytes and ~2× the CPU.

const CODEC = "avc1.42e01f";
/** Pictures are drawn at the tile's size when it is less than half theirs (see draw()). */
const MIN_SCALE_TO_FIT = 0.5;
/** Latency samples kept per tile (the benchmark reads them; ~17 s at 30 fps). */
const SAMPLES = 512;

/** Whether this webview decodes H.264: decides, at join, what the engine sends. */
export async function canDecodeH264() {
  if (typeof VideoDecoder === "undefined") return false;
  try {
    return (await VideoDecoder.isConfigSupported({ codec: CODEC, optimizeForLatency: true })).supported === true;
  } catch {
    return false;
  }
}

/** Milliseconds since the epoch on the same clock as the app's send stamps. */
const nowMs = () => performance.timeOrigin + performance.now();

export class TileVideo {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {(msg: string) => void} onError
   * @param {() => void} onUndecodable asks the sender for a keyframe
   */
  constructor(canvas, onError, onUndecodable = () => {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onError = onError;
    this.onUndecodable = onUndecodable;
    this.waitingForKeyframe = true;
    this.framesDrawn = 0;
    /** Send → drawn, ms: a ring of the last SAMPLES frames. */
    this.latencies = new Float64Array(SAMPLES);
    /** Send time of each queued access unit, by chunk timestamp. */
    this.sent = new Map();
    this.chunks = 0;
    this.decoder = null;
    /** The last picture's own size (the canvas may hold it smaller). */
    this.frameSize = null;
    // A large picture goes into the canvas at the size it is shown at: a 720p frame in a
    // 380-pixel tile otherwise costs WebKit's compositing ~6× the pixels (BENCHMARKS.md,
    // "Frames to tiles").
    this.box = null;
    this.resize = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      this.box = width > 0 && height > 0 ? { width: width * devicePixelRatio, height: height * devicePixelRatio } : null;
    });
    this.resize.observe(canvas);
  }

  ensureDecoder() {
    if (this.decoder) return true;
    if (typeof VideoDecoder === "undefined") {
      this.onError("this webview has no WebCodecs: video cannot be shown");
      return false;
    }
    this.decoder = new VideoDecoder({
      output: (frame) => {
        const sent = this.sent.get(frame.timestamp);
        this.sent.delete(frame.timestamp);
        this.draw(frame, sent);
        frame.close();
      },
      error: (e) => {
        this.onError(`video decoder: ${e.message}`);
        this.restart();
      },
    });
    // Annex B input (no avcC description): WebKit's GStreamer decoder takes it as is.
    this.decoder.configure({ codec: CODEC, optimizeForLatency: true });
    return true;
  }

  /** After a decoder error: a fresh decoder that waits for a keyframe, which is asked for. */
  restart() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
    this.sent.clear();
    this.waitingForKeyframe = true;
    this.onUndecodable();
  }

  /** One access unit; frames before the first keyframe (or after an error) are skipped. */
  pushAccessUnit(keyframe, data, sentMs) {
    if (this.waitingForKeyframe && !keyframe) return;
    if (!this.ensureDecoder()) return;
    this.waitingForKeyframe = false;
    // Latency over completeness: a decoder that falls behind drops what is queued, and what
    // follows a dropped frame cannot decode until the next keyframe.
    if (this.decoder.decodeQueueSize > 3) {
      if (!keyframe) {
        this.restart();
        return;
      }
    }
    const timestamp = this.chunks++;
    this.sent.set(timestamp, sentMs);
    this.decoder.decode(new EncodedVideoChunk({ type: keyframe ? "key" : "delta", timestamp, data }));
  }

  /** One decoded I420 picture (the fallback path). */
  pushPicture(width, height, planes, sentMs) {
    let frame;
    try {
      frame = new VideoFrame(planes, { format: "I420", codedWidth: width, codedHeight: height, timestamp: this.chunks++ });
    } catch (e) {
      this.onError(`video picture: ${e.message}`);
      return;
    }
    this.draw(frame, sentMs);
    frame.close();
  }

  draw(frame, sentMs) {
    let { displayWidth: w, displayHeight: h } = frame;
    this.frameSize = { width: w, height: h };
    if (this.box) {
      // Scaled like CSS object-fit: cover would, but only when that saves much: scaling in
      // drawImage costs more than it saves for a picture near the tile's size (640×480 in a
      // 380-pixel tile: 76–80 % CPU unscaled vs 89–93 % scaled; 720p: 119–122 % vs 109–111 %).
      const scale = Math.max(this.box.width / w, this.box.height / h);
      if (scale < MIN_SCALE_TO_FIT) {
        w = Math.max(2, Math.round(w * scale));
        h = Math.max(2, Math.round(h * scale));
      }
    }
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.drawImage(frame, 0, 0, w, h);
    if (sentMs !== undefined) this.latencies[this.framesDrawn % SAMPLES] = nowMs() - sentMs;
    this.framesDrawn++;
    this.canvas.dataset.framesDrawn = String(this.framesDrawn);
  }

  /** Frames drawn and the latency samples (send → drawn, ms) of the last ones. */
  stats() {
    const n = Math.min(this.framesDrawn, SAMPLES);
    return { framesDrawn: this.framesDrawn, latencies: Array.from(this.latencies.subarray(0, n)) };
  }

  close() {
    this.resize.disconnect();
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
  }
}
