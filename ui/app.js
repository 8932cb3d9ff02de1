// The Confab UI: one page for browser guests and the desktop app, behind one backend
// interface (see backend-browser.js). Everything a peer supplies (names, chat, file names)
// reaches the page through textContent or attributes, never as HTML.

import { BrowserBackend } from "./backend-browser.js";
import { TauriBackend } from "./backend-tauri.js";
import { TileVideo, canDecodeH264 } from "./tile-video.js";
import { SettingsPanel } from "./settings.js";
import { BitrateGraph } from "./bitrate-graph.js";
import { assessQuality, QUALITY_LABEL } from "./quality.js";
import { fillIcons, setButton } from "./icon.js";
import { SidePanel, PANEL_TITLES } from "./panel.js";
import { Stage } from "./stage.js";
import { MicMeter } from "./mic-meter.js";
import { GuestDevices } from "./guest-devices.js";
import { renderTransfer } from "./transfer-list.js";
import { renderPeople } from "./people.js";
import { renderStatsRow } from "./stats-table.js";
import { appendChat, appendSystem, appendSystemAction } from "./chat-log.js";
import { RecordingControls } from "./recording-controls.js";
import { installShortcuts } from "./shortcuts.js";
import { ID_RE, parseInvite } from "./invite-link.js";

const $ = (id) => document.getElementById(id);

const ui = {
  status: $("status"),
  form: $("join-form"),
  room: $("room"),
  name: $("name"),
  secret: $("secret"),
  join: $("join"),
  leave: $("leave"),
  video: $("toggle-video"),
  audio: $("toggle-audio"),
  share: $("share-screen"),
  record: $("record"),
  recIndicator: $("rec-indicator"),
  recTime: $("rec-time"),
  invite: $("invite"),
  inviteLink: $("invite-link"),
  inviteStatus: $("invite-status"),
  grid: $("video-grid"),
  localTile: $("local-tile"),
  localVideo: $("local-video"),
  localName: $("local-name"),
  statsBody: $("stats-body"),
  messages: $("messages"),
  chatForm: $("chat-form"),
  chatInput: $("chat-input"),
  chatSend: $("chat-send"),
  fileInput: $("file-input"),
  fileSend: $("file-send"),
  transfers: $("transfers"),
  tileTemplate: $("tile-template"),
  serverField: $("server-field"),
  server: $("server"),
  localSource: $("local-source"),
  banner: $("signalling-banner"),
  roomTitle: $("room-title"),
  previewSlot: $("preview-slot"),
  people: $("people"),
  clock: $("call-clock"),
  invitePaste: $("invite-paste"),
  linkField: $("link-field"),
  joinHint: $("join-hint"),
};
fillIcons();
const panel = new SidePanel({
  onChange: (open) => {
    // Chat opened from the keyboard: straight to the message box.
    if (open === "chat" && !ui.chatInput.disabled) ui.chatInput.focus();
    if (open === "settings" && settings) settings.refreshDevices();
    if (open === "settings" && devices) devices.refresh().catch((err) => systemMessage(`Devices: ${err.message}`));
    requestAnimationFrame(() => stage.relayout());
  },
});
const stage = new Stage({
  stage: $("stage"),
  grid: $("video-grid"),
  localTile: $("local-tile"),
  showSelf: $("show-self"),
  hideSelf: $("hide-self"),
  layoutButton: $("layout-toggle"),
});
const meter = new MicMeter($("mic-meter"));
const recording = new RecordingControls({
  button: ui.record,
  indicator: ui.recIndicator,
  time: ui.recTime,
  localTile: ui.localTile,
  backend: () => backend,
  inCall: () => inCall,
  tileOf: (id) => (present.has(id) ? ensureTile(id) : null),
  nameOf: (id) => names.get(id) || id,
  say: (text) => systemMessage(text),
  sayWithAction: (text, label, onClick) => appendSystemAction(ui.messages, text, label, onClick),
  changed: () => showPeople(),
});

const isTauri = "__TAURI__" in window;
/** The desktop app's command-line arguments (server, room, name, secret, join). */
let startup = {};
let backend = null;
let inCall = false;
let videoOn = true;
let audioOn = true;
let sharing = false;
const names = new Map();
/**
 * Who is in the call now. Media, state and statistics events still in flight for someone who
 * has left arrive after the "left" (they travel on other queues): only these ids get a tile.
 */
const present = new Set();
/** Video for `id` has a tile to go to: our own preview, or someone in the call. */
const hasTile = (id) => id === ui.localTile.dataset.participant || present.has(id);
/** Desktop app: one WebCodecs decoder per tile, by participant id (our own for the preview). */
const tileVideos = new Map();
const graph = new BitrateGraph($("bitrate-graph"), $("graph-scale"));
/** Desktop app: the settings panel (devices, download folder, …). */
let settings = null;
/** When each participant's speaking indicator goes off unless more sound arrives. */
const speakingUntil = new Map();
/** Each remote participant's link: connecting, connected, reconnecting. */
const linkStates = new Map();
/** Hides the "reconnected" banner a moment after it appears. */
let bannerTimer = null;

const TILE_STATE_TEXT = {
  connecting: "Connecting…",
  reconnecting: "Connection lost — reconnecting…",
};

/** A participant's link changed state: the tile and the statistics say so. */
function setLinkState(id, state) {
  linkStates.set(id, state);
  const tile = tileFor(id);
  if (tile) {
    tile.dataset.state = state;
    tile.classList.toggle("reconnecting", state === "reconnecting");
    const label = tile.querySelector(".tile-state");
    const text = TILE_STATE_TEXT[state];
    label.hidden = !text;
    label.textContent = text || "";
  }
  const row = ui.statsBody.querySelector(`tr[data-participant="${CSS.escape(id)}"]`);
  if (row) row.children[1].textContent = state;
  showPeople();
}

/** The signalling connection changed state (the call itself goes on regardless). */
function setSignalling(e) {
  clearTimeout(bannerTimer);
  if (e.state === "reconnecting") {
    const attempt = e.attempt ? ` (attempt ${e.attempt})` : "";
    ui.banner.textContent = `Connection to the server lost — reconnecting${attempt}. The call goes on; people who join meanwhile will appear when it is back.`;
    ui.banner.classList.remove("ok");
    ui.banner.hidden = false;
    ui.banner.dataset.state = "reconnecting";
    ui.status.textContent = "Reconnecting to the server…";
    ui.status.className = "status error";
  } else if (e.state === "rejoined") {
    ui.banner.textContent = "Reconnected to the server.";
    ui.banner.classList.add("ok");
    ui.banner.hidden = false;
    ui.banner.dataset.state = "rejoined";
    systemMessage("Reconnected to the server");
    if (connectedStatus) setStatus(connectedStatus, "ok");
    bannerTimer = setTimeout(() => (ui.banner.hidden = true), 4000);
  } else {
    ui.banner.hidden = true;
    ui.banner.dataset.state = e.state;
  }
}

function tileVideoFor(id) {
  let tv = tileVideos.get(id);
  if (tv) return tv;
  const tile = id === ui.localTile.dataset.participant ? ui.localTile : ensureTile(id);
  let canvas = tile.querySelector("canvas.tile-canvas");
  if (!canvas) {
    canvas = document.createElement("canvas");
    canvas.className = "tile-canvas";
    canvas.dataset.testid = "tile-canvas";
    tile.prepend(canvas);
    tile.classList.add("canvas-video");
  }
  tv = new TileVideo(
    canvas,
    (msg) => systemMessage(msg),
    () => backend && backend.requestKeyframe && backend.requestKeyframe(id),
  );
  tileVideos.set(id, tv);
  return tv;
}

if (isTauri) {
  // For bench/tiles-bench.mjs and the app's test: frames drawn and send → drawn latency per tile.
  window.confabTileStats = () => Object.fromEntries([...tileVideos].map(([id, tv]) => [id, tv.stats()]));
}

function closeTileVideo(id) {
  const tv = tileVideos.get(id);
  if (tv) tv.close();
  tileVideos.delete(id);
}

/** The last "connected" status, shown again once signalling is back. */
let connectedStatus = null;

function setStatus(text, level = "info") {
  if (level === "ok") connectedStatus = text;
  ui.status.textContent = text;
  ui.status.className = `status ${level === "ok" ? "connected" : level === "error" ? "error" : ""}`;
}

function systemMessage(text) {
  appendSystem(ui.messages, text);
}

function chatMessage(m) {
  appendChat(ui.messages, m, names.get(m.from) || m.from);
  if (!m.mine) panel.notify("chat");
}

function tileFor(id) {
  return ui.grid.querySelector(`.tile.remote[data-participant="${CSS.escape(id)}"]`);
}

function ensureTile(id) {
  let tile = tileFor(id);
  if (tile) return tile;
  tile = ui.tileTemplate.content.firstElementChild.cloneNode(true);
  tile.dataset.participant = id;
  const name = names.get(id) || id;
  tile.dataset.initial = name.slice(0, 1).toUpperCase();
  tile.querySelector(".tile-name").textContent = name;
  tile.setAttribute("aria-label", name);
  if (speakersSink) tile.querySelector("video").setSinkId?.(speakersSink).catch(() => {});
  ui.grid.append(tile);
  if (linkStates.has(id)) setLinkState(id, linkStates.get(id));
  stage.relayout();
  showPeople();
  return tile;
}

/** The people panel, and the count on its button. */
function showPeople() {
  const count = renderPeople(ui.people, ui.name.value.trim() || "You", ui.localTile, ui.grid.querySelectorAll(".tile.remote"));
  setButton(document.querySelector('[data-panel-toggle="people"]'), "users", `People (${count})`);
}

function setFlags(tile, { video, audio, screen }) {
  const flags = [];
  if (screen) flags.push("sharing screen");
  if (!audio) flags.push("mic off");
  if (!video) flags.push("camera off");
  tile.querySelector(".tile-flags").textContent = flags.join(" · ");
  tile.classList.toggle("video-off", !video);
  tile.dataset.video = String(video);
  tile.dataset.audio = String(audio);
  tile.dataset.screen = String(!!screen);
  if (tile.classList.contains("remote")) stage.setScreen(tile.dataset.participant, !!screen);
  showPeople();
}

/** A participant's row in the statistics panel, and their tile's connection indicator. */
function showStats(s) {
  // The desktop app decodes in the page: the size is the tile's last picture.
  const size = s.width ? { width: s.width, height: s.height } : tileVideos.get(s.id)?.frameSize;
  renderStatsRow(ui.statsBody, s, { name: names.get(s.id) || s.id, state: linkStates.get(s.id) || s.state, size });
  showQuality(s.id, s.quality || assessQuality(s));
}

/** The tile's connection indicator (bars, with the words for screen readers and tooltips). */
function showQuality(id, quality) {
  const tile = tileFor(id);
  const badge = tile?.querySelector(".tile-quality");
  if (!badge || badge.dataset.quality === quality) return;
  badge.dataset.quality = quality;
  badge.title = QUALITY_LABEL[quality];
  badge.setAttribute("aria-label", QUALITY_LABEL[quality]);
  badge.hidden = false;
}

/** A transfer's row in the files panel; a new offer is counted on the panel's button. */
function showTransfer(t) {
  const fresh = renderTransfer(ui.transfers, t, {
    nameOf: (id) => names.get(id) || id,
    accept: (id) => backend.acceptTransfer(id),
    decline: (id) => backend.declineTransfer(id),
    cancel: (id) => backend.cancelTransfer(id),
  });
  if (fresh && t.direction === "received") panel.notify("files");
}

function onEvent(e) {
  switch (e.type) {
    case "status":
      setStatus(e.text, e.level);
      if (e.level === "error") systemMessage(e.text);
      break;
    case "error":
      systemMessage(`Error: ${e.message}`);
      break;
    case "joined":
      present.clear();
      setInCall(true);
      ui.roomTitle.textContent = e.room;
      document.title = `${e.room} — Confab`;
      systemMessage(`Joined room ${e.room}`);
      showInvite(e.room);
      break;
    case "left":
      present.clear();
      setInCall(false);
      clearTimeout(bannerTimer);
      ui.banner.hidden = true;
      break;
    case "signalling":
      setSignalling(e);
      break;
    case "participant-state":
      if (e.state !== "left") setLinkState(e.id, e.state);
      break;
    case "local-stream":
      ui.localVideo.srcObject = e.stream;
      // A microphone switched in the lobby: the meter follows the new one.
      if (!inCall) meter.start(e.stream);
      break;
    case "participant-joined":
      present.add(e.id);
      names.set(e.id, e.name);
      ensureTile(e.id);
      systemMessage(`${e.name} joined`);
      break;
    case "participant-left": {
      present.delete(e.id);
      closeTileVideo(e.id);
      linkStates.delete(e.id);
      graph.remove(e.id);
      speakingUntil.delete(e.id);
      const tile = tileFor(e.id);
      if (tile) {
        const v = tile.querySelector("video");
        v.srcObject = null;
        tile.remove();
      }
      const row = ui.statsBody.querySelector(`tr[data-participant="${CSS.escape(e.id)}"]`);
      if (row) row.remove();
      stage.remove(e.id);
      showPeople();
      systemMessage(`${names.get(e.id) || e.id} left`);
      break;
    }
    case "local-video":
      // A shared screen is shown as it is; only the camera preview is mirrored.
      ui.localTile.classList.toggle("sharing", e.screen);
      break;
    case "encoded-video":
      // Frames still in flight after leaving (ours or theirs) must not bring a tile back.
      if (backend && backend.joined && hasTile(e.id)) tileVideoFor(e.id).pushAccessUnit(e.keyframe, e.data, e.sentMs);
      break;
    case "picture":
      if (backend && backend.joined && hasTile(e.id)) tileVideoFor(e.id).pushPicture(e.width, e.height, e.planes, e.sentMs);
      break;
    case "track": {
      if (!present.has(e.id)) break;
      const v = ensureTile(e.id).querySelector("video");
      if (v.srcObject !== e.stream) v.srcObject = e.stream;
      break;
    }
    case "media-state":
      if (present.has(e.id)) setFlags(ensureTile(e.id), e);
      break;
    case "chat":
      chatMessage(e);
      break;
    case "transfer":
      showTransfer(e.transfer);
      break;
    case "stats":
      if (!present.has(e.id)) break;
      showStats(e);
      graph.update(e);
      break;
    case "recording":
      recording.onEvent(e);
      break;
    case "audio-level": {
      // Speaking: loud enough recently. Events come ~5 times a second while sound arrives.
      const tile = e.id === ui.localTile.dataset.participant ? ui.localTile : tileFor(e.id);
      if (!tile) break;
      if (e.level >= 0.05) speakingUntil.set(e.id, performance.now() + 600);
      const speaking = (speakingUntil.get(e.id) || 0) > performance.now();
      tile.classList.toggle("speaking", speaking);
      tile.dataset.speaking = String(speaking);
      stage.audioLevel(e.id, e.level);
      break;
    }
    default:
  }
}

/** When the call started (ms, performance.now()), for the control bar's clock. */
let callStarted = 0;
let clockTimer = null;

function showClock() {
  recording.show();
  const s = Math.floor((performance.now() - callStarted) / 1000);
  const hms = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
  ui.clock.textContent = (hms[0] ? hms : hms.slice(1)).map((n, i) => (i === 0 ? String(n) : String(n).padStart(2, "0"))).join(":");
}

/**
 * The local tile is the lobby's preview before joining and one of the stage's tiles during
 * the call: the same element moves, so its video or canvas goes on without a gap.
 */
function moveLocalTile(toStage) {
  if (toStage) ui.grid.prepend(ui.localTile);
  else {
    ui.previewSlot.prepend(ui.localTile);
    for (const prop of ["left", "top", "width", "height"]) ui.localTile.style.removeProperty(prop);
    ui.localTile.classList.remove("pip", "main", "thumb");
    ui.localTile.hidden = false;
  }
}

function setInCall(on) {
  // "joined" comes again when the signalling connection rejoins: the call did not restart.
  const starting = on && !inCall;
  inCall = on;
  document.body.dataset.view = on ? "call" : "lobby";
  moveLocalTile(on);
  if (starting) {
    callStarted = performance.now();
    showClock();
    clearInterval(clockTimer);
    clockTimer = setInterval(showClock, 1000);
    meter.stop();
    // Guests: the lobby's note on the preview is not news in the call.
    if (!isTauri) ui.localSource.hidden = true;
  } else if (!on) {
    clearInterval(clockTimer);
    ui.roomTitle.textContent = "";
    document.title = "Confab — video calls";
    panel.reset();
    stage.reset();
  }
  ui.join.disabled = on;
  ui.leave.disabled = !on;
  for (const el of [ui.room, ui.name, ui.secret, ui.server]) el.disabled = on;
  for (const el of [ui.chatInput, ui.chatSend, ui.fileInput, ui.fileSend]) el.disabled = !on;
  if (!on) {
    graph.clear();
    linkStates.clear();
    speakingUntil.clear();
    ui.localSource.hidden = true;
    for (const id of [...tileVideos.keys()]) closeTileVideo(id);
    for (const c of ui.localTile.querySelectorAll("canvas.tile-canvas")) c.remove();
    ui.localTile.classList.remove("canvas-video", "sharing");
    for (const tile of ui.grid.querySelectorAll(".tile.remote")) tile.remove();
    ui.statsBody.replaceChildren();
    ui.localVideo.srcObject = null;
    ui.invite.hidden = true;
    sharing = false;
    showShare();
    showLocalFlags();
    recording.reset();
    // Leaving turns the camera and microphone off (their light goes out); the lobby's
    // preview comes back with the next join, not by itself.
    meter.stop();
    if (!isTauri) {
      ui.localSource.textContent = "You left the call: camera and microphone are off until you join again";
      ui.localSource.hidden = false;
    }
  } else {
    stage.relayout();
  }
  showPeople();
}

if (isTauri) {
  // The app refuses to load any other page in its window (a link would replace the app).
  window.__TAURI__.event.listen("navigation-refused", (ev) => {
    systemMessage(`Not opened in the app: ${String(ev.payload).slice(0, 200)}`);
  });
}

// In the app the invite link is copied, not followed: the window shows the app only.
ui.inviteLink.addEventListener("click", async (ev) => {
  if (!isTauri) return;
  ev.preventDefault();
  try {
    await backend.copyInvite();
    ui.inviteStatus.textContent = "Copied";
  } catch (err) {
    ui.inviteStatus.textContent = String(err);
  }
});

function showInvite(room) {
  if (isTauri) {
    // The engine's server (or the one the app hosts) is where guests join, not this page.
    if (!backend || !backend.invite) return;
    ui.inviteLink.href = backend.invite;
    setButton(ui.inviteLink, "link", "Copy invite link", { visible: true });
    ui.inviteLink.title = `Copy ${backend.invite}`;
    // README: `--embedded-bind 0.0.0.0:3000` hosts for the network.
    ui.inviteStatus.textContent = backend.inviteLocalOnly ? "(this computer only)" : "";
    ui.invite.hidden = false;
    return;
  }
  const url = new URL(window.location.href);
  url.search = "";
  url.hash = "";
  url.searchParams.set("room", room);
  // As the app's links: the secret is what a guest needs to get in.
  if (ui.secret.value) url.searchParams.set("secret", ui.secret.value);
  ui.inviteLink.href = url.toString();
  setButton(ui.inviteLink, "link", "Invite link", { visible: true });
  ui.inviteLink.title = url.toString();
  ui.invite.hidden = false;
}

async function join() {
  const room = ui.room.value.trim();
  const user = ui.name.value.trim();
  if (!ID_RE.test(room) || !ID_RE.test(user)) {
    setStatus("Room and name: 1–64 letters, digits, . _ -", "error");
    return;
  }
  ui.join.disabled = true;
  setStatus(`Joining ${room}…`);
  if (isTauri) endPreview();
  // Guests join with the lobby's backend: the camera and microphone it opened for the preview.
  backend = isTauri ? new TauriBackend({ onEvent, server: ui.server.value.trim() || null }) : previewBackend || new BrowserBackend({ onEvent });
  previewBackend = null;
  window.confab.backend = backend;
  const stream = await backend.startMedia();
  if (stream) ui.localVideo.srcObject = stream;
  ui.localName.textContent = `You (${user})`;
  ui.localTile.dataset.participant = user;
  ui.localTile.dataset.initial = user.slice(0, 1).toUpperCase();
  backend.setCamera(videoOn);
  backend.setMic(audioOn);
  // Desktop: where this webview cannot decode H.264, the engine decodes and sends pictures.
  const pictures = isTauri && !(await canDecodeH264());
  if (pictures) systemMessage("This system cannot decode H.264 here (install gstreamer1.0-libav): video uses the slower fallback.");
  const reply = await backend.join({ room, user, name: user, secret: ui.secret.value, pictures });
  if (reply && reply.camera) {
    // Desktop: what this call sends, e.g. "Synthetic camera (no camera found)".
    ui.localSource.textContent = `${reply.camera} · ${reply.microphone}`;
    ui.localSource.hidden = false;
    for (const n of reply.notices) systemMessage(n);
  }
  // The desktop backend learns its invite link from the join's reply, which can arrive
  // after the "joined" event.
  if (isTauri && inCall) showInvite(room);
}

/** Guests: the speakers chosen in the settings ("" is the system's default). */
let speakersSink = "";
/** Guests: their devices' pickers (the app's are the engine's, in settings.js). */
const devices = isTauri
  ? null
  : new GuestDevices({
      backend: () => backend || previewBackend,
      onSpeakers: (sinkId) => {
        speakersSink = sinkId;
        for (const v of ui.grid.querySelectorAll(".tile.remote video")) v.setSinkId?.(sinkId).catch((err) => systemMessage(`Speakers: ${err.message}`));
      },
      notify: systemMessage,
    });

/** Guests: the backend that holds the lobby's camera and microphone until the join takes it. */
let previewBackend = null;
/** The app: the engine's preview runs (its pictures go to the lobby's tile). */
let previewing = false;

/** The app's preview ends when joining (the engine stops it too): its tile's decoder goes. */
function endPreview() {
  previewing = false;
  closeTileVideo("");
  for (const c of ui.localTile.querySelectorAll("canvas.tile-canvas")) c.remove();
  ui.localTile.classList.remove("canvas-video");
}

/**
 * The lobby's preview: the camera as it will be sent, and the microphone's level. Guests open
 * their browser's devices here (the join then reuses them); the desktop app's engine opens
 * its devices only when joining, so its lobby says so.
 */
async function startPreview() {
  if (isTauri) {
    // The engine opens the devices and sends small pictures for the lobby's tile (id "").
    previewing = true;
    const shows = await TauriBackend.startPreview({
      onPicture: (width, height, planes, sentMs) => {
        if (previewing && !inCall) tileVideoFor("").pushPicture(width, height, planes, sentMs);
      },
      onLevel: (level) => previewing && meter.level(level),
      onProblem: (text) => systemMessage(text),
    });
    ui.localSource.textContent = `Preview: ${shows}`;
    ui.localSource.hidden = false;
    return;
  }
  if (!previewBackend) previewBackend = new BrowserBackend({ onEvent });
  const mine = previewBackend;
  window.confab.backend = mine;
  mine.setCamera(videoOn);
  mine.setMic(audioOn);
  const stream = await mine.startMedia();
  if (inCall || previewBackend !== mine) return;
  ui.localVideo.srcObject = stream;
  meter.start(stream);
}

function leave() {
  if (!backend) return;
  backend.leave();
  systemMessage("Left the room");
  setStatus("Not connected");
}

ui.form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  join().catch((err) => {
    setStatus(`Could not join: ${err.message}`, "error");
    ui.join.disabled = false;
  });
});
ui.leave.addEventListener("click", leave);
/**
 * The media buttons show the state (a crossed microphone when muted, red) and are labelled
 * with the action, as in the call apps people know; aria-pressed carries "on".
 */
function showMediaButtons() {
  setButton(ui.audio, audioOn ? "mic" : "mic-off", audioOn ? "Turn off microphone" : "Turn on microphone");
  ui.audio.setAttribute("aria-pressed", String(audioOn));
  ui.audio.classList.toggle("off", !audioOn);
  setButton(ui.video, videoOn ? "video" : "video-off", videoOn ? "Turn off camera" : "Turn on camera");
  ui.video.setAttribute("aria-pressed", String(videoOn));
  ui.video.classList.toggle("off", !videoOn);
}

function showShare() {
  ui.share.setAttribute("aria-pressed", String(sharing));
  ui.share.classList.toggle("active", sharing);
  setButton(ui.share, sharing ? "monitor-x" : "monitor-up", sharing ? "Stop sharing" : "Share screen");
}

ui.video.addEventListener("click", () => {
  videoOn = !videoOn;
  if (backend) backend.setCamera(videoOn);
  showMediaButtons();
  showLocalFlags();
});
ui.audio.addEventListener("click", () => {
  audioOn = !audioOn;
  if (backend) backend.setMic(audioOn);
  showMediaButtons();
  showLocalFlags();
});
ui.share.addEventListener("click", async () => {
  if (!backend || !inCall) return;
  try {
    sharing = await backend.shareScreen(!sharing);
  } catch (err) {
    systemMessage(`Screen share failed: ${err.message}`);
    sharing = false;
  }
  showShare();
  showLocalFlags();
});
/** The local tile shows the same muted / camera-off / sharing flags the others see. */
function showLocalFlags() {
  setFlags(ui.localTile, { video: videoOn || sharing, audio: audioOn, screen: sharing });
}
ui.chatForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || !backend) return;
  backend.sendChat(text);
  ui.chatInput.value = "";
});
ui.fileSend.addEventListener("click", async () => {
  if (isTauri) {
    // The native picker (tauri-plugin-dialog): the webview's <input type=file> gives no path.
    if (backend) backend.pickAndSendFile().catch((err) => systemMessage(`Cannot send: ${err}`));
    return;
  }
  const file = ui.fileInput.files[0];
  if (!file || !backend) return;
  try {
    await backend.sendFile(file);
    ui.fileInput.value = "";
  } catch (err) {
    systemMessage(`Cannot send ${file.name}: ${err.message}`);
  }
});
window.addEventListener("beforeunload", () => backend && backend.leave());

// Invite links: /?room=ID&name=NAME[&secret=S][&autojoin=1]
window.confab = { backend: null };
const params = new URLSearchParams(window.location.search);
if (params.get("room")) ui.room.value = params.get("room");
if (params.get("name")) ui.name.value = params.get("name");
if (params.get("secret")) ui.secret.value = params.get("secret");
moveLocalTile(false);
showMediaButtons();
showShare();
ui.record.hidden = !isTauri;
setButton(ui.leave, "phone-off", "Leave call");
for (const t of document.querySelectorAll("[data-panel-toggle]")) {
  const icons = { chat: "message-square", people: "users", files: "paperclip", stats: "activity", settings: "settings" };
  setButton(t, icons[t.dataset.panelToggle], PANEL_TITLES[t.dataset.panelToggle]);
}

/** What joining will do, under the Join button (the app hosts when no server is given). */
function showJoinHint() {
  if (!isTauri) {
    ui.joinHint.textContent = "";
    return;
  }
  const server = ui.server.value.trim();
  ui.joinHint.textContent = server
    ? `Joins the call on ${server}.`
    : "No server: this computer hosts the call, and others join with its invite link.";
  ui.join.textContent = server ? "Join" : "Host and join";
}
ui.server.addEventListener("input", showJoinHint);

/** The app's "join with a link": an invite link fills server, room and secret. */
ui.invitePaste.addEventListener("input", () => {
  const invite = parseInvite(ui.invitePaste.value);
  if (!invite) return;
  if (invite.error) {
    ui.joinHint.textContent = invite.error;
    return;
  }
  // Filled as the link is typed or pasted; the focus stays in the field (typing goes on).
  ui.server.value = invite.server;
  ui.room.value = invite.room;
  ui.secret.value = invite.secret;
  showJoinHint();
});

document.body.classList.toggle("app", isTauri);
if (isTauri) {
  ui.fileInput.hidden = true;
  ui.serverField.hidden = false;
  ui.linkField.hidden = false;
  settings = new SettingsPanel(systemMessage, (now, before) => {
    // In the lobby, the preview shows what the join will use: another camera or microphone
    // chosen in the settings restarts it (the call itself switches devices in place).
    const changed = !before || now.camera !== before.camera || now.microphone !== before.microphone;
    if (previewing && !inCall && changed) startPreview().catch((err) => systemMessage(`Preview: ${err}`));
  });
  (async () => {
    // The last call's server, room and name, unless the command line (an invite) says otherwise.
    const saved = await settings.load().catch((err) => {
      systemMessage(`Settings: ${err}`);
      return {};
    });
    const args = await window.__TAURI__.core.invoke("startup_args");
    startup = args;
    // A saved server is a suggestion, never filled in: joining with the field empty hosts,
    // and a server that is gone must not turn "host a call" into "Connection refused".
    ui.server.value = args.server || "";
    if (saved.server) {
      const option = document.createElement("option");
      option.value = saved.server;
      $("server-suggestions").append(option);
    }
    ui.room.value = args.room || saved.room || "";
    ui.name.value = args.name || saved.name || "";
    if (args.secret) ui.secret.value = args.secret;
    setStatus(ui.server.value ? `Server: ${ui.server.value}` : "No server configured: joining hosts one here");
    showJoinHint();
    // Joining at once (an invite on the command line) skips the preview.
    if (args.join && ui.room.value && ui.name.value) ui.form.requestSubmit();
    else startPreview().catch((err) => systemMessage(`Preview: ${err}`));
  })();
  window.addEventListener("beforeunload", () => TauriBackend.stopPreview());
} else {
  startPreview().catch((err) => setStatus(`Preview: ${err.message}`, "error"));
  if (params.get("autojoin") === "1" && ui.room.value && ui.name.value) ui.form.requestSubmit();
}

installShortcuts(document, {
  chatInput: ui.chatInput,
  panel,
  inCall: () => inCall,
  lobbyKeys: () => ({ m: ui.audio, v: ui.video }),
  callKeys: () => ({ s: ui.share, l: $("layout-toggle"), ...(isTauri ? { r: ui.record } : {}) }),
});
