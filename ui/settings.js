// The desktop app's settings panel: device pickers, download folder (native folder picker),
// bitrate cap, ICE servers, notifications. The app keeps them (src-tauri/src/settings.rs validates and
// saves); this file only fills the form from them and sends the form back.
// Device names come from the system and are set with textContent / option.text only.

const $ = (id) => document.getElementById(id);
const invoke = (cmd, args) => window.__TAURI__.core.invoke(cmd, args);

/** `turn:user:pass@host:3478` ⇄ {url, username, credential}, as `confab join --ice` takes it. */
export function parseIce(line) {
  const m = line.trim().match(/^(stuns?|turns?):(?:([^:@/]+):([^@]+)@)?(\S+)$/);
  if (!m) return null;
  return { url: `${m[1]}:${m[4]}`, username: m[2] || "", credential: m[3] || "" };
}

function formatIce({ url, username, credential }) {
  if (!username) return url;
  const [scheme, ...rest] = url.split(":");
  return `${scheme}:${username}:${credential}@${rest.join(":")}`;
}

function fill(select, options, chosen) {
  select.replaceChildren();
  for (const { value, text } of options) {
    const o = document.createElement("option");
    o.value = value;
    o.text = text;
    select.append(o);
  }
  // A saved device that is gone now is still shown (and kept), marked as missing.
  if (chosen && !options.some((o) => o.value === chosen)) {
    const o = document.createElement("option");
    o.value = chosen;
    o.text = `${chosen} (not connected)`;
    select.append(o);
  }
  select.value = chosen ?? options[0]?.value ?? "";
}

export class SettingsPanel {
  /**
   * @param {(text: string) => void} notify writes to the chat log
   * @param {(now: object, before: object) => void} onSaved told after each save (the lobby's
   *   preview follows a camera or microphone chosen here)
   */
  constructor(notify, onSaved = () => {}) {
    this.notify = notify;
    this.onSaved = onSaved;
    this.saved = null;
    this.panel = $("settings");
    this.form = $("settings-form");
    this.status = $("settings-status");
    // The panel itself opens from the control bar (panel.js); only its button is app-only.
    document.querySelector('[data-panel-toggle="settings"]').hidden = false;
    this.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.save();
    });
    // The tone plays through the engine's playback, on the speakers chosen above (saved or
    // not: trying them before saving is the point).
    $("test-speakers").hidden = false;
    $("test-speakers").addEventListener("click", async () => {
      this.show("Playing a test sound");
      try {
        await invoke("play_test_sound", { speakers: $("set-speakers").value });
        this.show("Test sound played");
      } catch (e) {
        this.show(`No test sound: ${e}`, true);
      }
    });
    $("set-download-choose").addEventListener("click", async () => {
      const dir = await invoke("choose_download_dir").catch((e) => this.show(String(e), true));
      if (dir) $("set-download").value = dir;
    });
    $("set-recordings-choose").addEventListener("click", async () => {
      const dir = await invoke("choose_download_dir").catch((e) => this.show(String(e), true));
      if (dir) $("set-recordings").value = dir;
    });
  }

  /** Loads the saved settings; resolves with them (the join form is prefilled from them). */
  async load() {
    const view = await invoke("get_settings");
    this.saved = view.settings;
    this.defaultDownloads = view.default_download_dir;
    this.defaultRecordings = view.default_recordings_dir;
    this.thisRun = view.this_run || {};
    if (view.problem) this.notify(`Settings: ${view.problem}`);
    this.fillForm();
    this.noteOverrides();
    return this.saved;
  }

  fillForm() {
    const s = this.saved;
    $("set-download").value = s.downloadDir || "";
    $("set-download").placeholder = this.defaultDownloads || "";
    $("set-recordings").value = s.recordingsDir || "";
    $("set-recordings").placeholder = this.defaultRecordings || "";
    $("set-bitrate").value = s.maxBitrateKbps ?? "";
    $("set-ice").value = (s.iceServers || []).map(formatIce).join("\n");
    $("set-relay").checked = !!s.relayOnly;
    $("set-voice").checked = s.voiceProcessing ?? true;
    $("set-notifications").checked = s.notifications ?? true;
    this.fillDevices({ cameras: [], microphones: ["default"], speakers: ["default"] });
  }

  /** Under each field this run's command line overrides, says what is in use instead. */
  noteOverrides() {
    const notes = [
      ["set-camera", this.thisRun.camera, "--camera"],
      ["set-mic", this.thisRun.microphone, "--mic"],
      ["set-speakers", this.thisRun.speakers, "--speakers"],
      ["set-download", this.thisRun.download_dir, "--download-dir"],
    ];
    for (const [id, value, flag] of notes) {
      const label = $(id).closest("label");
      label.querySelector(".run-override")?.remove();
      if (value == null) continue;
      const note = document.createElement("small");
      note.className = "run-override";
      note.dataset.testid = `run-override-${id.slice(4)}`;
      // Text nodes only: the value came from the command line, but is never markup.
      const code = document.createElement("code");
      code.textContent = flag;
      note.append(`This run: “${value}” (from `, code, ") until you choose another here.");
      label.append(note);
    }
  }

  fillDevices(d) {
    const s = this.saved;
    const cameras = d.cameras.map((c) => ({ value: c.id, text: c.name }));
    if (cameras.length === 0) cameras.push({ value: "", text: "No camera found: synthetic pattern" });
    else cameras.unshift({ value: "", text: "First camera" });
    cameras.push({ value: "synthetic", text: "Synthetic test pattern" });
    fill($("set-camera"), cameras, s.camera);
    const audio = (list, extra) => [...list.map((n) => ({ value: n === "default" ? "" : n, text: n === "default" ? "System default" : n })), extra];
    fill($("set-mic"), audio(d.microphones, { value: "synthetic", text: "Synthetic tone" }), s.microphone);
    fill($("set-speakers"), audio(d.speakers, { value: "none", text: "None (muted)" }), s.speakers);
  }

  async refreshDevices() {
    try {
      const d = await invoke("list_devices");
      this.fillDevices(d);
      if (d.camera_problem) this.show(`Cameras: ${d.camera_problem}`, true);
    } catch (e) {
      this.show(`Devices: ${e}`, true);
    }
  }

  show(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }

  async save() {
    const ice = [];
    for (const line of $("set-ice").value.split("\n").filter((l) => l.trim())) {
      const server = parseIce(line);
      if (!server) {
        this.show(`Not an ICE server: ${line.trim().slice(0, 80)}`, true);
        return;
      }
      ice.push(server);
    }
    const bitrate = $("set-bitrate").value.trim();
    const orNull = (v) => (v === "" ? null : v);
    const settings = {
      ...this.saved,
      camera: orNull($("set-camera").value),
      microphone: orNull($("set-mic").value),
      speakers: orNull($("set-speakers").value),
      downloadDir: orNull($("set-download").value),
      recordingsDir: orNull($("set-recordings").value),
      maxBitrateKbps: bitrate === "" ? null : Number(bitrate),
      iceServers: ice,
      relayOnly: $("set-relay").checked,
      voiceProcessing: $("set-voice").checked,
      notifications: $("set-notifications").checked,
    };
    try {
      // A device or folder changed here has replaced the command line's for this run.
      this.thisRun = await invoke("save_settings", { settings });
      const before = this.saved;
      this.saved = settings;
      this.noteOverrides();
      this.show("Saved");
      this.onSaved(settings, before);
    } catch (e) {
      this.show(String(e), true);
    }
  }
}
