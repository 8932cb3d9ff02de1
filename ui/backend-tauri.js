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

  async join({ room, user, secret }) {
    const channel = new (tauri().Channel)();
    channel.onmessage = (e) => {
      // After leave() the call's last events (its own "left" included) are not news.
      if (this.joined) this.emit(e);
    };
    // Access units as raw bytes: [id length][id][keyframe][Annex B] (src-tauri bridge.rs).
    const video = new (tauri().Channel)();
    const decoder = new TextDecoder();
    video.onmessage = (buf) => {
      if (!this.joined) return;
      const bytes = new Uint8Array(buf);
      const n = bytes[0];
      this.emit({
        type: "encoded-video",
        id: decoder.decode(bytes.subarray(1, 1 + n)),
        keyframe: bytes[1 + n] === 1,
        data: bytes.subarray(2 + n),
      });
    };
    this.joined = true;
    let res;
    try {
      res = await tauri().invoke("join", {
        request: { server: this.server, room, name: user, secret: secret || null },
        onEvent: channel,
        onVideo: video,
      });
    } catch (err) {
      this.joined = false;
      throw new Error(String(err));
    }
    this.invite = res.invite;
    this.emit({ type: "status", text: `Connected to ${res.server}`, level: "ok" });
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

  cancelTransfer(id) {
    tauri().invoke("cancel_transfer", { id });
  }
}
