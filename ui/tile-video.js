// Video for the desktop app's tiles: the engine forwards each participant's H.264 access
// units (Annex B) and the page decodes them with WebCodecs and draws them into the tile's
// canvas. Why not decoded frames from Rust: raw pictures through Tauri's IPC top out at
// ~27 fps for one 720p stream, access units are ~100× smaller (FINDINGS, "Video into the
// webview").

const CODEC = "avc1.42e01f";

export class TileVideo {
  /** @param {HTMLCanvasElement} canvas @param {(msg: string) => void} onError */
  constructor(canvas, onError) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onError = onError;
    this.waitingForKeyframe = true;
    this.framesDrawn = 0;
    this.decoder = null;
    if (typeof VideoDecoder === "undefined") {
      onError("this webview has no WebCodecs: video cannot be shown");
      return;
    }
    this.decoder = new VideoDecoder({
      output: (frame) => this.draw(frame),
      error: (e) => {
        this.onError(`video decoder: ${e.message}`);
        this.reset();
      },
    });
    // Annex B input (no avcC description): WebKit's GStreamer decoder takes it as is.
    this.decoder.configure({ codec: CODEC, optimizeForLatency: true });
  }

  reset() {
    if (!this.decoder || this.decoder.state === "closed") {
      this.decoder = null;
      return;
    }
    this.decoder.reset();
    this.decoder.configure({ codec: CODEC, optimizeForLatency: true });
    this.waitingForKeyframe = true;
  }

  /** One access unit; frames before the first keyframe (or after an error) are skipped. */
  push(keyframe, data, timestamp) {
    if (!this.decoder) return;
    if (this.waitingForKeyframe && !keyframe) return;
    this.waitingForKeyframe = false;
    // Latency over completeness: a decoder that falls behind drops what is queued.
    if (this.decoder.decodeQueueSize > 3 && !keyframe) return;
    this.decoder.decode(new EncodedVideoChunk({ type: keyframe ? "key" : "delta", timestamp, data }));
  }

  draw(frame) {
    const { displayWidth: w, displayHeight: h } = frame;
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.ctx.drawImage(frame, 0, 0, w, h);
    frame.close();
    this.framesDrawn++;
    this.canvas.dataset.framesDrawn = String(this.framesDrawn);
  }

  close() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
  }
}
