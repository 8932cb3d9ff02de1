// Browser guests' camera, microphone and speakers: the pickers in the settings panel (the
// desktop app's are settings.js, kept by the engine), the switch (a new track replaces the
// old one in the preview and in every call, without renegotiating), and a test sound on the
// chosen speakers. Device names come from the browser and are set as option text only.

const $ = (id) => document.getElementById(id);
/** How long the test sound plays (ms), and its pitch. */
const TEST_SOUND_MS = 600;
const TEST_SOUND_HZ = 660;

export class GuestDevices {
  /**
   * @param {{backend: () => any, onSpeakers: (sinkId: string) => void, notify: (text: string) => void}} opts
   */
  constructor({ backend, onSpeakers, notify }) {
    this.backend = backend;
    this.onSpeakers = onSpeakers;
    this.notify = notify;
    this.camera = $("set-camera");
    this.mic = $("set-mic");
    this.speakers = $("set-speakers");
    this.status = $("devices-status");
    this.sinkId = "";
    document.querySelector('[data-panel-toggle="settings"]').hidden = false;
    $("test-speakers").hidden = false;
    // Nothing to save for a guest: the form never submits (it would reload the page).
    $("settings-form").addEventListener("submit", (ev) => ev.preventDefault());
    this.status.hidden = false;
    this.camera.addEventListener("change", () => this.use("video", this.camera.value));
    this.mic.addEventListener("change", () => this.use("audio", this.mic.value));
    this.speakers.addEventListener("change", () => {
      this.sinkId = this.speakers.value;
      this.onSpeakers(this.sinkId);
    });
    $("test-speakers").addEventListener("click", () => this.testSound());
    navigator.mediaDevices.addEventListener("devicechange", () => this.refresh());
  }

  /** Lists the devices (their names are known once the page may use a camera and microphone). */
  async refresh() {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const current = (kind) => this.backend()?.localStream?.[kind === "videoinput" ? "getVideoTracks" : "getAudioTracks"]()[0]?.getSettings().deviceId;
    const fill = (select, kind, chosen) => {
      const list = devices.filter((d) => d.kind === kind);
      select.replaceChildren(...list.map((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.text = d.label || `${kind === "audiooutput" ? "Speakers" : kind === "videoinput" ? "Camera" : "Microphone"} ${i + 1}`;
        return o;
      }));
      if (chosen && list.some((d) => d.deviceId === chosen)) select.value = chosen;
      select.disabled = list.length === 0;
    };
    fill(this.camera, "videoinput", current("videoinput"));
    fill(this.mic, "audioinput", current("audioinput"));
    fill(this.speakers, "audiooutput", this.sinkId);
    this.say(`${devices.filter((d) => d.kind === "videoinput").length} camera(s), ${devices.filter((d) => d.kind === "audioinput").length} microphone(s), ${devices.filter((d) => d.kind === "audiooutput").length} speaker(s)`);
  }

  async use(kind, deviceId) {
    const backend = this.backend();
    if (!backend) return;
    try {
      await switchDevice(backend, kind, deviceId);
      this.say(kind === "video" ? "Camera switched" : "Microphone switched");
    } catch (err) {
      this.say(`Could not switch: ${err.message}`, true);
    }
  }

  /** A short tone on the chosen speakers (Chromium: AudioContext's sinkId). */
  async testSound() {
    try {
      const context = new AudioContext(this.sinkId ? { sinkId: this.sinkId } : {});
      const tone = context.createOscillator();
      const gain = context.createGain();
      tone.frequency.value = TEST_SOUND_HZ;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(context.destination);
      await context.resume();
      tone.start();
      tone.stop(context.currentTime + TEST_SOUND_MS / 1000);
      tone.onended = () => context.close();
      this.say("Playing a test sound");
    } catch (err) {
      this.say(`No test sound: ${err.message}`, true);
    }
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("error", error);
  }
}

/**
 * Switches `backend` (a BrowserBackend) to another camera (`kind` "video") or microphone
 * ("audio"): a new track from `deviceId` replaces the old one in the local stream and in
 * every call, without renegotiating; the old one stops (its light goes out).
 */
export async function switchDevice(backend, kind, deviceId) {
  const constraints = kind === "video"
    ? { video: { deviceId: { exact: deviceId }, width: 640, height: 480, frameRate: 30 } }
    : { audio: { deviceId: { exact: deviceId }, echoCancellation: true, noiseSuppression: true, autoGainControl: true } };
  const track = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks()[0];
  track.enabled = kind === "video" ? backend.videoOn : backend.audioOn;
  if (!backend.localStream) backend.localStream = new MediaStream();
  if (kind === "video") {
    const old = backend.cameraTrack;
    backend.cameraTrack = track;
    // While a screen is shared the camera waits; it comes back when sharing stops.
    if (!backend.screenTrack) await backend.replaceVideo(track);
    if (old) old.stop();
    return;
  }
  const old = backend.localStream.getAudioTracks()[0];
  if (old) backend.localStream.removeTrack(old);
  backend.localStream.addTrack(track);
  for (const peer of backend.peers.values()) {
    const sender = peer.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (sender) await sender.replaceTrack(track);
  }
  if (old) old.stop();
  backend.emit({ type: "local-stream", stream: backend.localStream });
}
