// The browser backend: Socket.IO signalling plus the browser's own RTCPeerConnection.
//
// One RTCPeerConnection per remote participant (mesh). Negotiation follows the W3C "perfect
// negotiation" pattern (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): either
// side may offer at any time, glare is resolved by a fixed politeness (the participant with the
// greater id is polite). Each pair shares exactly one data channel, labelled "confab": the side
// that makes the first offer creates it (RFC 8832 in-band open), the other adopts it from
// `ondatachannel`. It carries chat, media state and file transfers.
//
// The UI talks to this only through the small interface documented on `BrowserBackend`; the
// desktop backend (Tauri) implements the same interface.

import { Transfers } from "./browser-transfers.js";
import { readStatsReport, statsEvent } from "./rtc-stats.js";
import { TokenBucket, DropReport, ChatLog, MAX_CHAT_CHARS, MESSAGES_PER_SECOND } from "./limits.js";
import { Recovery, SILENCE_MS } from "./recovery.js";

const CHANNEL_LABEL = "confab";
/** Wake a file sender waiting for the channel to drain (browser-transfers.js's HIGH_WATER)
 * when the queue falls to this. */
const LOW_WATER = 1024 * 1024;
const STATS_INTERVAL_MS = 1000;
/** How often links are checked for silence (no packet in SILENCE_MS: lost). */
const WATCHDOG_MS = 500;
/**
 * A participant announced by user-joined offers (the joiner does); if it has not within this
 * time this side offers instead: it came back believing its old link works, after the server
 * had dropped it (the engine's OFFER_IF_SILENT).
 */
const OFFER_IF_SILENT_MS = 3000;

/** The DTLS fingerprint of a session description: it identifies the remote process. */
function fingerprintOf(sdp) {
  const m = /^a=fingerprint:(.*)$/m.exec(sdp || "");
  return m ? m[1].trim() : null;
}

/**
 * @typedef {{type: string} & Record<string, any>} BackendEvent
 * Events (`onEvent(e)`): `status` {text, level}, `joined` {room, user}, `left`,
 * `participant-joined` {id, name}, `participant-left` {id}, `track` {id, stream},
 * `media-state` {id, video, audio, screen}, `chat` {id, from, text, ts, mine},
 * `transfer` {transfer}, `stats` {id, ...}, `error` {message}, `recording` {id, on},
 * `signalling` {state: "connected" | "reconnecting" | "rejoined", attempt?},
 * `participant-state` {id, state: "connecting" | "connected" | "reconnecting" | "left"}.
 */
export class BrowserBackend {
  /** @param {{onEvent: (e: BackendEvent) => void, iceServers?: RTCIceServer[]}} opts */
  constructor({ onEvent, iceServers = [] }) {
    this.emit = onEvent;
    this.iceServers = iceServers;
    this.socket = null;
    this.localStream = null;
    this.cameraTrack = null;
    this.screenTrack = null;
    /** @type {Map<string, Peer>} */
    this.peers = new Map();
    this.room = null;
    this.user = null;
    this.videoOn = true;
    this.audioOn = true;
    this.seenChat = new ChatLog();
    /** Display names of the participants in the room, by id (with or without a connection yet). */
    this.names = new Map();
    this.files = new Transfers({ emit: (e) => this.emit(e), peer: (id) => this.peers.get(id) });
    this.statsTimer = null;
    this.watchdogTimer = null;
    /** Every link went silent and the signalling connection was renewed for it. */
    this.ownNetworkSuspect = false;
  }

  /** Acquires camera and microphone before joining, so the first offer already carries them. */
  async startMedia() {
    if (this.localStream) return this.localStream;
    // The lobby's preview and the join may both ask: one request to the browser.
    if (!this.gettingMedia) this.gettingMedia = this.openDevices().finally(() => (this.gettingMedia = null));
    return this.gettingMedia;
  }

  async openDevices() {
    try {
      this.localStream = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480, frameRate: 30 },
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      this.emit({ type: "status", level: "error", text: `No camera/microphone: ${err.message}; joining receive-only` });
      this.localStream = new MediaStream();
    }
    this.cameraTrack = this.localStream.getVideoTracks()[0] || null;
    // Toggled in the lobby before the devices opened.
    for (const t of this.localStream.getVideoTracks()) t.enabled = this.videoOn;
    for (const t of this.localStream.getAudioTracks()) t.enabled = this.audioOn;
    return this.localStream;
  }

  /** Connects to the signalling server at this page's origin and joins `room` as `user`. */
  async join({ room, user, name, secret }) {
    await this.startMedia();
    this.room = room;
    this.user = user;
    this.userData = { name: name || user };
    this.secret = secret || null;
    this.resumeToken = null;
    let joinedOnce = false;
    // Reconnection: 300 ms doubling to 4 s, ±50 % jitter (the engine's policy, in socket.io's
    // terms). Losing the server does not end the call: the peer connections go on.
    // eslint-disable-next-line no-undef
    const socket = io({
      transports: ["websocket", "polling"],
      reconnectionDelay: 300,
      reconnectionDelayMax: 4000,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    const joinArgs = () => {
      const args = ["join-room", room, user, this.userData];
      const options = {};
      if (this.secret) options.secret = this.secret;
      // Our place back at once, even before the server notices our old socket is gone.
      if (this.resumeToken) options.resumeToken = this.resumeToken;
      if (Object.keys(options).length) args.push(options);
      socket.emit(...args);
    };
    socket.on("connect", joinArgs);
    socket.on("connect_error", (err) => {
      if (!joinedOnce) this.emit({ type: "status", level: "error", text: `Cannot reach the server: ${err.message}` });
    });
    socket.on("disconnect", (reason) => {
      if (this.socket !== socket) return;
      this.emit({ type: "status", level: "error", text: `Signalling disconnected (${reason}); reconnecting` });
      this.emit({ type: "signalling", state: "reconnecting", attempt: 0 });
      // No ICE restart can be delivered meanwhile.
      for (const peer of this.peers.values()) this.drive(peer, (r, now) => r.onSignalling(now, false));
    });
    socket.io.on("reconnect_attempt", (attempt) => {
      if (this.socket === socket) this.emit({ type: "signalling", state: "reconnecting", attempt });
    });
    socket.on("room-state", ({ users, resumeToken }) => {
      if (typeof resumeToken === "string") this.resumeToken = resumeToken;
      if (joinedOnce) {
        this.reconcile(users || []);
        for (const peer of this.peers.values()) this.drive(peer, (r, now) => r.onSignalling(now, true));
        this.emit({ type: "signalling", state: "rejoined" });
        this.emit({ type: "status", level: "ok", text: this.roomSummary() });
        return;
      }
      joinedOnce = true;
      this.emit({ type: "joined", room, user });
      this.emit({ type: "signalling", state: "connected" });
      this.emit({ type: "status", level: "ok", text: this.roomSummary() });
      // The joiner offers to everyone already there; they answer. One side starting avoids
      // glare on the first negotiation (perfect negotiation still covers later ones).
      for (const u of users || []) {
        this.addParticipant(u.userId, u.userData);
        this.connect(u.userId);
      }
    });
    socket.on("user-joined", ({ userId, userData }) => {
      // Someone we have a link with rejoined after losing its signalling: a link that works
      // stays; one that never connected is dropped, and the joiner offers afresh.
      const peer = this.peers.get(userId);
      if (peer && !peer.everConnected) this.closePeer(peer);
      this.addParticipant(userId, userData);
      if (!this.peers.has(userId)) {
        setTimeout(() => {
          if (this.socket === socket && this.names.has(userId) && !this.peers.has(userId)) this.connect(userId);
        }, OFFER_IF_SILENT_MS);
      }
    });
    socket.on("user-left", ({ userId }) => this.dropPeer(userId));
    socket.on("offer", (m) => this.onDescription(m.from, m.offer));
    socket.on("answer", (m) => this.onDescription(m.from, m.answer));
    socket.on("ice-candidate", (m) => this.onCandidate(m.from, m.candidate));
    socket.on("data-channel-message", (m) => this.onFallbackMessage(m));
    socket.on("error", (e) => {
      if (e && e.code === "recipient-unreachable") {
        // Its connection is gone for now: an offer to it will not be answered; take it back
        // so that the next restart can go out.
        const peer = this.peers.get(e.to);
        if (e.event === "offer" && peer && peer.pc.signalingState === "have-local-offer") {
          // A rollback that fails found the state already moved on (an answer came after all).
          peer.pc.setLocalDescription({ type: "rollback" }).catch(() => {});
        }
        return;
      }
      this.emit({ type: "error", message: `${e.code}: ${e.message}` });
    });
    this.statsTimer = setInterval(() => this.collectStats(), STATS_INTERVAL_MS);
    this.watchdogTimer = setInterval(() => this.watchSilence(), WATCHDOG_MS);
  }

  /**
   * Back in the room after losing the server: keep links that work, drop participants that
   * left meanwhile (unless their link still works: they may not be back yet), offer to
   * newcomers and to those whose link never came up. The engine does the same
   * (crates/engine/src/call/signalling.rs, `reconcile`).
   */
  reconcile(users) {
    const listed = new Set(users.map((u) => u.userId));
    for (const id of [...this.names.keys()]) {
      const peer = this.peers.get(id);
      const works = peer && peer.pc.connectionState === "connected";
      if (!listed.has(id) && !works) this.dropPeer(id);
    }
    for (const u of users) {
      this.addParticipant(u.userId, u.userData);
      const peer = this.peers.get(u.userId);
      if (peer && !peer.everConnected) this.closePeer(peer);
      if (!this.peers.has(u.userId)) this.connect(u.userId);
    }
  }

  /** Leaves the room: stops every local track, closes every connection and the socket. */
  leave() {
    clearInterval(this.statsTimer);
    this.statsTimer = null;
    clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    for (const id of new Set([...this.names.keys(), ...this.peers.keys()])) this.dropPeer(id);
    if (this.socket) {
      const s = this.socket;
      this.socket = null;
      s.emit("leave-room");
      s.disconnect();
    }
    for (const t of this.localStream ? this.localStream.getTracks() : []) t.stop();
    if (this.screenTrack) this.screenTrack.stop();
    if (this.cameraTrack) this.cameraTrack.stop();
    this.localStream = null;
    this.cameraTrack = null;
    this.screenTrack = null;
    this.emit({ type: "left" });
  }

  /** "In room R as U · N connected", for the status badge. */
  roomSummary() {
    const open = [...this.peers.values()].filter((p) => p.dc && p.dc.readyState === "open").length;
    return `In room ${this.room} as ${this.user} · ${open} connected`;
  }

  /** Local tracks that are still live (for tests and the UI). */
  liveLocalTracks() {
    const tracks = this.localStream ? this.localStream.getTracks() : [];
    return tracks.filter((t) => t.readyState === "live").length;
  }

  setCamera(on) {
    this.videoOn = on;
    for (const t of this.localStream ? this.localStream.getVideoTracks() : []) t.enabled = on;
    this.broadcastMediaState();
    return on;
  }

  setMic(on) {
    this.audioOn = on;
    for (const t of this.localStream ? this.localStream.getAudioTracks() : []) t.enabled = on;
    this.broadcastMediaState();
    return on;
  }

  /** Switches the outgoing video between the camera and a screen capture, without renegotiating. */
  async shareScreen(on) {
    if (on) {
      const display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
      const track = display.getVideoTracks()[0];
      track.onended = () => this.shareScreen(false);
      this.screenTrack = track;
      await this.replaceVideo(track);
      this.broadcastMediaState();
      return true;
    }
    if (this.screenTrack) {
      const t = this.screenTrack;
      this.screenTrack = null;
      t.onended = null;
      t.stop();
    }
    await this.replaceVideo(this.cameraTrack);
    this.broadcastMediaState();
    return false;
  }

  async replaceVideo(track) {
    if (this.localStream) {
      for (const t of this.localStream.getVideoTracks()) this.localStream.removeTrack(t);
      if (track) this.localStream.addTrack(track);
    }
    for (const peer of this.peers.values()) {
      const sender = peer.pc.getSenders().find((s) => s.track ? s.track.kind === "video" : s === peer.videoSender);
      if (sender) await sender.replaceTrack(track);
      else if (track) peer.videoSender = peer.pc.addTrack(track, this.localStream);
    }
    this.emit({ type: "local-stream", stream: this.localStream });
  }

  /** Sends `text` to everyone; returns the message as shown locally. */
  sendChat(text) {
    const msg = { t: "chat", id: crypto.randomUUID(), text, ts: Date.now() };
    this.seenChat.firstTime(this.user, msg.id);
    for (const peer of this.peers.values()) {
      if (peer.dc && peer.dc.readyState === "open") peer.dc.send(JSON.stringify(msg));
      else if (this.socket) {
        // Fallback path while the data channel is not open: the same message, by signalling.
        this.socket.emit("data-channel-message", { roomId: this.room, to: peer.id, message: msg, type: "chat" });
      }
    }
    const shown = { type: "chat", id: msg.id, from: this.user, text, ts: msg.ts, mine: true };
    this.emit(shown);
    return shown;
  }

  /** Offers `file` to every participant whose channel is open (see `Transfers.offer`). */
  sendFile(file) {
    return this.files.offer(file, [...this.peers.values()]);
  }

  acceptTransfer(id) {
    this.files.accept(id);
  }

  declineTransfer(id) {
    this.files.decline(id);
  }

  cancelTransfer(id) {
    this.files.cancel(id);
  }

  // ---- peers and negotiation ----

  addParticipant(id, userData) {
    if (id === this.user) return;
    const name = (userData && typeof userData.name === "string" && userData.name) || id;
    if (this.names.has(id)) return;
    this.names.set(id, name);
    this.emit({ type: "participant-joined", id, name });
  }

  /** Starts the connection to `id` as the offering side. */
  connect(id) {
    if (this.peers.has(id)) return;
    const peer = this.createPeer(id);
    peer.offerer = true;
    this.attachLocalMedia(peer, true);
    this.useChannel(peer, peer.pc.createDataChannel(CHANNEL_LABEL, { ordered: true }));
  }

  createPeer(id) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    const peer = { id, pc, dc: null, polite: this.user > id, makingOffer: false, ignoreOffer: false, videoSender: null, stats: null, offerer: false, everConnected: false, ladder: null, ladderTimer: null, activity: -1, activeAt: 0, messages: new TokenBucket(), flood: new DropReport() };
    this.peers.set(id, peer);
    this.emit({ type: "participant-state", id, state: "connecting" });
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.signal(pc.localDescription.type, id, pc.localDescription);
      } catch (err) {
        this.emit({ type: "error", message: `negotiation with ${id}: ${err.message}` });
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!this.socket) return;
      this.socket.emit("ice-candidate", { roomId: this.room, to: id, candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = (ev) => {
      const stream = ev.streams[0] || new MediaStream([ev.track]);
      this.emit({ type: "track", id, stream });
    };
    pc.onconnectionstatechange = () => this.onLinkState(peer);
    // The answering side adopts the channel the offerer opened; anything more is refused so
    // the pair keeps exactly one.
    pc.ondatachannel = ({ channel }) => {
      if (!peer.dc && channel.label === CHANNEL_LABEL) this.useChannel(peer, channel);
      else channel.close();
    };
    return peer;
  }

  /** The connection's state into the recovery ladder (ui/recovery.js, the engine's policy). */
  onLinkState(peer) {
    const state = peer.pc.connectionState;
    if (state === "connected") {
      peer.everConnected = true;
      peer.activeAt = performance.now();
      // Created at the first connection: by then it is known which side offered first.
      if (!peer.ladder) peer.ladder = new Recovery(peer.offerer);
    }
    const health = { connected: "connected", disconnected: "disconnected", failed: "failed" }[state];
    if (health) this.drive(peer, (r, now) => r.onLink(now, health));
  }

  /**
   * Feeds one input to `peer`'s ladder (`input(ladder, now)` returns its actions), carries
   * the actions out, and arms the timer for its next timeout.
   */
  drive(peer, input) {
    if (this.peers.get(peer.id) !== peer || !peer.ladder) return;
    for (const action of input(peer.ladder, performance.now())) {
      if (action === "restart") this.restartIce(peer);
      else if (action === "remove") return this.dropPeer(peer.id); // it tells the UI "left"
      else if (action.state !== "left") this.emit({ type: "participant-state", id: peer.id, state: action.state });
    }
    clearTimeout(peer.ladderTimer);
    const at = peer.ladder.nextTimeout();
    if (at !== null) {
      peer.ladderTimer = setTimeout(() => this.drive(peer, (r, now) => r.onTimeout(now)), Math.max(0, at - performance.now()));
    }
  }

  /**
   * Offers new ICE credentials. An offer of ours still waiting for its answer was lost (sent
   * into a connection that had died, as when this side's own network went away): it is taken
   * back first, or no new offer could go out (the engine's `take_back_offer`).
   */
  async restartIce(peer) {
    if (peer.pc.signalingState === "have-local-offer") {
      // A rollback that fails found the state already moved on (the answer came after all).
      await peer.pc.setLocalDescription({ type: "rollback" }).catch(() => {});
    }
    peer.pc.restartIce();
  }

  /**
   * A link that receives nothing at all — no media, no RTCP, no ICE check — for SILENCE_MS is
   * lost, before Chromium's ICE says so (~5 s); one that receives again while ICE still says
   * connected is back.
   */
  async watchSilence() {
    for (const peer of [...this.peers.values()]) {
      if (!peer.ladder) continue;
      let activity = 0;
      try {
        (await peer.pc.getStats()).forEach((r) => {
          if (r.type === "candidate-pair" && r.nominated) activity += (r.bytesReceived || 0) + (r.requestsReceived || 0) + (r.responsesReceived || 0);
        });
      } catch {
        continue; // closed meanwhile
      }
      const now = performance.now();
      if (activity !== peer.activity) {
        peer.activity = activity;
        peer.activeAt = now;
        if (peer.ladder.phase === "lost" && peer.pc.connectionState === "connected") this.drive(peer, (r, t) => r.onLink(t, "connected"));
      } else if (peer.ladder.phase === "connected" && now - peer.activeAt >= SILENCE_MS) {
        this.drive(peer, (r, t) => r.onLink(t, "disconnected"));
      }
    }
    this.checkOwnNetwork();
  }

  /**
   * Every link silent at once: most likely this side's own network failed or changed (a page
   * cannot see its addresses; the engine watches them). The signalling connection is then
   * probably dead too, but socket.io would notice only after its ping timeout (~9 s): it is
   * reconnected now instead, so that ICE restarts can be delivered as soon as the network
   * allows (from a new address at once). Once per episode; costs a rejoin when wrong.
   */
  checkOwnNetwork() {
    const links = [...this.peers.values()].filter((p) => p.ladder);
    const allLost = links.length > 0 && links.every((p) => p.ladder.phase === "lost");
    if (!allLost) {
      this.ownNetworkSuspect = false;
      return;
    }
    if (this.ownNetworkSuspect || !this.socket || !this.socket.connected) return;
    this.ownNetworkSuspect = true;
    for (const peer of links) {
      this.drive(peer, (r, now) => [...r.onSignalling(now, false), ...r.onOwnNetwork(now)]);
    }
    this.socket.io.engine.close(); // socket.io reconnects (and we rejoin) by itself
  }

  /** Closes a link without telling the UI the participant left (it is replaced). */
  closePeer(peer) {
    clearTimeout(peer.ladderTimer);
    this.peers.delete(peer.id);
    if (peer.dc) peer.dc.close();
    peer.pc.close();
  }

  attachLocalMedia(peer, offering) {
    const pc = peer.pc;
    for (const track of this.localStream.getTracks()) {
      const sender = pc.addTrack(track, this.localStream);
      if (track.kind === "video") peer.videoSender = sender;
    }
    if (offering) {
      // Receive both kinds even when we have nothing to send.
      if (!this.localStream.getVideoTracks().length) pc.addTransceiver("video", { direction: "recvonly" });
      if (!this.localStream.getAudioTracks().length) pc.addTransceiver("audio", { direction: "recvonly" });
    }
  }

  /** Makes `dc` the pair's channel (created here, or adopted from the offerer). */
  useChannel(peer, dc) {
    dc.binaryType = "arraybuffer";
    dc.bufferedAmountLowThreshold = LOW_WATER;
    peer.dc = dc;
    const opened = () => {
      this.emit({ type: "status", level: "ok", text: this.roomSummary() });
      this.sendMediaState(peer);
    };
    if (dc.readyState === "open") opened();
    else dc.onopen = opened;
    dc.onmessage = (ev) => this.onChannelMessage(peer, ev.data);
    dc.onclose = () => this.files.failAllOf(peer.id, "the connection closed");
  }

  signal(kind, to, description) {
    if (!this.socket) return;
    const payload = { roomId: this.room, to, [kind]: { type: description.type, sdp: description.sdp } };
    this.socket.emit(kind, payload);
  }

  async onDescription(from, description) {
    if (!description || from === this.user) return;
    let peer = this.peers.get(from);
    if (peer && description.type === "offer") {
      // Another DTLS identity than the one negotiated: the participant's process restarted
      // under the same id. Its old link is replaced, as for a newcomer.
      const known = fingerprintOf(peer.pc.remoteDescription && peer.pc.remoteDescription.sdp);
      const now = fingerprintOf(description.sdp);
      if (known && now && known !== now) {
        this.files.failAllOf(from, "the participant reconnected");
        this.closePeer(peer);
        peer = null;
      }
    }
    const fresh = !peer;
    if (fresh) {
      if (description.type !== "offer") return;
      this.addParticipant(from, null);
      peer = this.createPeer(from);
    }
    const pc = peer.pc;
    try {
      const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
      peer.ignoreOffer = !peer.polite && collision;
      if (peer.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (fresh) {
        // Answering side: our tracks take the transceivers the offer created; the channel
        // arrives through ondatachannel.
        this.attachLocalMedia(peer, false);
      }
      if (description.type === "offer") {
        await pc.setLocalDescription();
        this.signal("answer", from, pc.localDescription);
      }
    } catch (err) {
      this.emit({ type: "error", message: `description from ${from}: ${err.message}` });
    }
  }

  async onCandidate(from, candidate) {
    const peer = this.peers.get(from);
    if (!peer) return;
    try {
      await peer.pc.addIceCandidate(candidate || null);
    } catch (err) {
      if (!peer.ignoreOffer) this.emit({ type: "error", message: `candidate from ${from}: ${err.message}` });
    }
  }

  dropPeer(id) {
    const known = this.names.delete(id);
    const peer = this.peers.get(id);
    if (peer) {
      this.files.failAllOf(id, "the participant left");
      this.closePeer(peer);
    }
    if (known || peer) {
      this.emit({ type: "participant-state", id, state: "left" });
      this.seenChat.forget(id);
      this.emit({ type: "participant-left", id });
      if (this.socket) this.emit({ type: "status", level: "ok", text: this.roomSummary() });
    }
  }

  // ---- data channel protocol ----

  broadcastMediaState() {
    for (const peer of this.peers.values()) this.sendMediaState(peer);
  }

  sendMediaState(peer) {
    if (peer.dc && peer.dc.readyState === "open") {
      peer.dc.send(JSON.stringify({ t: "media-state", video: this.videoOn, audio: this.audioOn, screen: !!this.screenTrack }));
    }
  }

  onFallbackMessage(m) {
    const msg = m && m.message;
    if (msg && typeof msg === "object" && msg.t === "chat") this.onChat(m.from, msg);
  }

  onChat(from, msg) {
    if (typeof msg.id !== "string" || typeof msg.text !== "string") return;
    if (msg.text.length > MAX_CHAT_CHARS) {
      this.emit({ type: "error", message: `a chat message from ${from} is ${msg.text.length} characters long (at most ${MAX_CHAT_CHARS} are shown): dropped` });
      return;
    }
    if (!this.seenChat.firstTime(from, msg.id)) return; // exactly once, whichever path it came by
    const ts = Number.isFinite(msg.ts) ? msg.ts : Date.now();
    this.emit({ type: "chat", id: msg.id, from, text: msg.text, ts, mine: false });
  }

  onChannelMessage(peer, data) {
    if (data instanceof ArrayBuffer) return this.files.onChunk(peer, data);
    if (!peer.messages.take(Date.now())) {
      const dropped = peer.flood.dropped(Date.now());
      if (dropped !== null) this.emit({ type: "error", message: `${peer.id} sends messages faster than ${MESSAGES_PER_SECOND} a second: ${dropped} dropped` });
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== "object") return;
    switch (msg.t) {
      case "chat":
        return this.onChat(peer.id, msg);
      case "media-state":
        return this.emit({ type: "media-state", id: peer.id, video: msg.video !== false, audio: msg.audio !== false, screen: msg.screen === true });
      case "recording":
        return this.emit({ type: "recording", id: peer.id, on: msg.on === true });
      default:
        if (typeof msg.t === "string" && msg.t.startsWith("file-")) this.files.onMessage(peer, msg);
    }
  }

  // ---- statistics ----

  async collectStats() {
    for (const peer of this.peers.values()) {
      let report;
      try {
        report = await peer.pc.getStats();
      } catch {
        continue;
      }
      const now = performance.now();
      const totals = readStatsReport(report);
      this.emit(statsEvent(peer.id, peer.pc.connectionState, totals, peer.stats, now));
      peer.stats = { ...totals, at: now };
    }
  }
}
