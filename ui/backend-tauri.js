// The desktop backend: the Rust engine (src-tauri, confab-engine) owns the call; this file
// only invokes its commands and passes its events on. Same interface as BrowserBackend
// (backend-browser.js), so app.js drives either. Events arrive over one Tauri Channel per
// call, already in the browser backend's shapes (src-tauri/src/bridge.rs).

const tauri = () => window.__TAURI__.core;

export class TauriBackend {
  /** @param {{onEvent: (e: any) => void, server?: string|null}} opts */
  constructor({ onEvent, server = null }) {
    this.emit = onEvent;
    this.server = server;
    this.invite = null;
    this.joined = false;
  }

  /** The engine captures camera and microphone itself; the page shows no local stream. */
  async startMedia() {
    return null;
  }

  /** @param {{room: string, user: string, secret?: string, pictures?: boolean}} opts
   *  `pictures`: this webview cannot decode H.264, the engine sends decoded I420 instead. */
  async join({ room, user, secret, pictures = false }) {
    const channel = new (tauri().Channel)();
    channel.onmessage = (e) => {
      // After leave() the call's last events (its own "left" included) are not news.
      if (this.joined) this.emit(e);
    };
    // Video as raw bytes (src-tauri/src/bridge.rs): [kind][id length][id][sent: f64 LE ms],
    // then kind 0: [keyframe][Annex B access unit]; kind 1: [width u16][height u16][I420].
    const video = new (tauri().Channel)();
    const decoder = new TextDecoder();
    video.onmessage = (buf) => {
      if (!this.joined) return;
      const bytes = new Uint8Array(buf);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const n = bytes[1];
      const id = decoder.decode(bytes.subarray(2, 2 + n));
      const sentMs = view.getFloat64(2 + n, true);
      const body = 10 + n;
      if (bytes[0] === 0) {
        this.emit({ type: "encoded-video", id, sentMs, keyframe: bytes[body] === 1, data: bytes.subarray(body + 1) });
      } else if (bytes[0] === 1) {
        const width = view.getUint16(body, true);
        const height = view.getUint16(body + 2, true);
        this.emit({ type: "picture", id, sentMs, width, height, planes: bytes.subarray(body + 4) });
      }
    };
    this.joined = true;
    let res;
    try {
      res = await tauri().invoke("join", {
        request: { server: this.server, room, name: user, secret: secret || null, video: pictures ? "pictures" : "encoded" },
        onEvent: channel,
        onVideo: video,
      });
    } catch (err) {
      this.joined = false;
      throw new Error(String(err));
    }
    this.invite = res.invite;
    this.inviteLocalOnly = res.this_machine_only;
    this.emit({ type: "status", text: `Connected to ${res.server}`, level: "ok" });
    return res;
  }

  /**
   * The lobby's preview (src-tauri/src/preview.rs): the camera and microphone a join would
   * use, before joining. Pictures come as the video channel's picture messages; levels as
   * numbers 0..1; a device that cannot be opened as a message. Resolves with what it shows.
   */
  static startPreview({ onPicture, onLevel, onProblem }) {
    const video = new (tauri().Channel)();
    video.onmessage = (buf) => {
      const bytes = new Uint8Array(buf);
      if (bytes[0] !== 1) return;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const body = 10 + bytes[1];
      onPicture(view.getUint16(body, true), view.getUint16(body + 2, true), bytes.subarray(body + 4), view.getFloat64(2 + bytes[1], true));
    };
    const level = new (tauri().Channel)();
    level.onmessage = onLevel;
    const problem = new (tauri().Channel)();
    problem.onmessage = onProblem;
    return tauri().invoke("start_preview", { onVideo: video, onLevel: level, onProblem: problem });
  }

  static stopPreview() {
    return tauri().invoke("stop_preview").catch(() => {});
  }

  /** Puts the invite link on the system clipboard (the app does it); resolves with it. */
  copyInvite() {
    return tauri().invoke("copy_invite");
  }

  leave() {
    if (!this.joined) return;
    this.joined = false;
    tauri().invoke("leave").catch(() => {});
    this.emit({ type: "left" });
  }

  setCamera(on) {
    if (this.joined) tauri().invoke("set_camera", { on }).catch((e) => this.emit({ type: "error", message: String(e) }));
  }

  setMic(on) {
    if (this.joined) tauri().invoke("set_mic", { on }).catch((e) => this.emit({ type: "error", message: String(e) }));
  }

  async shareScreen(on) {
    return tauri().invoke("share_screen", { on });
  }

  /** Starts recording the call (src-tauri's recordings folder and name); resolves with the file. */
  async startRecording() {
    return tauri().invoke("start_recording");
  }

  async stopRecording() {
    return tauri().invoke("stop_recording");
  }

  /** Shows a recording this app made in the file manager. */
  async showRecording(path) {
    return tauri().invoke("show_recording", { path });
  }

  sendChat(text) {
    tauri().invoke("send_chat", { text }).catch((e) => this.emit({ type: "error", message: String(e) }));
  }

  /** Opens the native file picker (tauri-plugin-dialog, from Rust) and sends the choice. */
  async pickAndSendFile() {
    return tauri().invoke("pick_and_send_file");
  }

  acceptTransfer(id) {
    tauri().invoke("accept_transfer", { id });
  }

  declineTransfer(id) {
    tauri().invoke("decline_transfer", { id });
  }

  /** The page could not decode `id`'s video: ask that participant for a keyframe. */
  requestKeyframe(id) {
    if (this.joined) tauri().invoke("request_keyframe", { id }).catch(() => {});
  }

  cancelTransfer(id) {
    tauri().invoke("cancel_transfer", { id });
  }
}
