// setbridge browser client: lobby, WHIP (RFC 9725) join, participant list
// from Server-Sent Events, mute, leave, ICE restart. No framework, no network
// but this server. The HTTP contract is docs/browser-api.md.
//
// For tests: window.setbridge = { pc, remoteStream, participantId, state, ... }.

const $ = (id) => document.getElementById(id);

const ui = {
  lobby: $('lobby'), roomView: $('room-view'), form: $('join-form'),
  room: $('room'), roomError: $('room-error'),
  name: $('name'), nameError: $('name-error'),
  pinField: $('pin-field'), pin: $('pin'), pinError: $('pin-error'),
  roominfo: $('roominfo'), lobbyConf: $('lobby-conf'), lobbyDial: $('lobby-dial'), lobbyDialWrap: $('lobby-dial-wrap'),
  lobbyRec: $('lobby-rec'), lobbyInvite: $('lobby-invite'),
  micSelect: $('mic-select'), micTest: $('mic-test'), micMeter: $('mic-meter'), micFill: $('mic-meter-fill'),
  micHint: $('mic-hint'), micError: $('mic-error'),
  formError: $('form-error'), joinBtn: $('join-btn'), listenBtn: $('listen-btn'),
  roomTitle: $('room-title'), recBadge: $('rec-badge'), timer: $('timer'),
  roomConf: $('room-conf'), roomDial: $('room-dial'), roomDialWrap: $('room-dial-wrap'), copyLink: $('copy-link'),
  plist: $('plist'), count: $('people-count'), eventsState: $('events-state'),
  muteBtn: $('mute-btn'), muteLabel: $('mute-label'), leaveBtn: $('leave-btn'), selfFill: $('self-meter-fill'),
  banner: $('banner'), bannerText: $('banner-text'), bannerAction: $('banner-action'),
  conn: $('conn'), connText: $('conn-text'), audio: $('remote-audio'),
};

// ---------------------------------------------------------------- state

const params = new URLSearchParams(location.search);
const urlToken = params.get('token') || '';

const S = {
  state: 'lobby',          // lobby | joining | connected | reconnecting | failed | left
  room: '',                // the room as the user typed it / from the path
  lobby: null,             // GET /api/rooms/{room}/lobby answer
  lobbyFor: '',            // room that lobby describes
  token: '', tokenExpires: 0, pin: '', name: '',
  listenOnly: false,
  pc: null, remoteStream: null,
  location: '', etag: '', participantId: '', endpoint: '',
  localStream: null, micTrack: null, muted: false,
  participants: new Map(), speaking: [], recording: false,
  events: null, eventsRetry: 0, eventsTimer: 0,
  iceTimer: 0, restartAttempts: 0, restarting: false, pendingCandidates: [], trickleTimer: 0,
  joinedAt: 0, timerTick: 0,
};

const MAX_RESTARTS = 3;
const DISCONNECT_GRACE_MS = 2000;
const GATHER_TIMEOUT_MS = 2500;

function exposeForTests() {
  window.setbridge = {
    pc: S.pc,
    remoteStream: S.remoteStream,
    participantId: S.participantId,
    state: S.state,
    room: S.room,
    muted: S.muted,
    location: S.location,
    participants: [...S.participants.values()],
    speaking: [...S.speaking],
    recording: S.recording,
    restartIce: () => iceRestart('manual'),
  };
}

function setState(st) {
  S.state = st;
  document.body.dataset.state = st;
  exposeForTests();
}

// ---------------------------------------------------------------- helpers

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function errorMessage(res) {
  let msg = '';
  try {
    const t = await res.text();
    try { msg = JSON.parse(t).error || ''; } catch { msg = t.trim().slice(0, 200); }
  } catch { /* ignore */ }
  return msg || `${res.status} ${res.statusText}`.trim();
}

async function api(method, url, { json, body, headers = {}, token } = {}) {
  const h = { ...headers };
  if (json !== undefined) { h['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { method, headers: h, body, cache: 'no-store', credentials: 'same-origin' });
  if (!res.ok) throw new HttpError(res.status, await errorMessage(res));
  return res;
}

const roomPath = (room) => encodeURIComponent(room.trim());

function showError(el, msg, input) {
  el.textContent = msg || '';
  el.hidden = !msg;
  if (input) {
    if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }
}

function clearErrors() {
  showError(ui.roomError, '', ui.room);
  showError(ui.nameError, '', ui.name);
  showError(ui.pinError, '', ui.pin);
  showError(ui.formError, '');
}

let toastTimer = 0;
function toast(msg) {
  let el = document.querySelector('.toast');
  if (!el) {
    el = document.createElement('div');
    el.className = 'toast';
    el.setAttribute('role', 'status');
    document.body.append(el);
  }
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}

let bannerTimer = 0;
function banner(text, kind = 'warn', action = null) {
  clearTimeout(bannerTimer);
  if (!text) { ui.banner.hidden = true; return; }
  ui.banner.hidden = false;
  ui.banner.className = `banner is-${kind}`;
  ui.bannerText.textContent = text;
  ui.bannerAction.hidden = !action;
  if (action) {
    ui.bannerAction.textContent = action.label;
    ui.bannerAction.onclick = action.onClick;
  }
  if (kind === 'ok') bannerTimer = setTimeout(() => { ui.banner.hidden = true; }, 3000);
}

function setConn(text, kind = 'ok') {
  ui.conn.hidden = !text;
  ui.connText.textContent = text || '';
  ui.conn.className = `conn${kind === 'ok' ? '' : ` is-${kind}`}`;
}

function setBusy(btn, busy, label) {
  btn.disabled = busy;
  btn.classList.toggle('is-busy', busy);
  if (label) btn.textContent = label;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function decodeJwt(tok) {
  try {
    const p = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch { return null; }
}

// ---------------------------------------------------------------- lobby

function roomFromUrl() {
  const m = location.pathname.match(/^\/r\/([^/]+)\/?$/);
  if (m) { try { return decodeURIComponent(m[1]); } catch { return m[1]; } }
  return params.get('room') || '';
}

function fillDial(dd, wrap, numbers) {
  dd.textContent = '';
  const list = Array.isArray(numbers) ? numbers.filter(Boolean) : [];
  wrap.hidden = list.length === 0;
  list.forEach((n, i) => {
    if (i) dd.append(', ');
    const a = document.createElement('a');
    a.href = `tel:${String(n).replace(/[^+\d]/g, '')}`;
    a.textContent = n;
    dd.append(a);
  });
}

let lobbySeq = 0;
async function loadLobby(room) {
  room = room.trim();
  if (!room) { S.lobby = null; S.lobbyFor = ''; ui.roominfo.hidden = true; ui.pinField.hidden = true; return null; }
  if (S.lobby && S.lobbyFor === room) return S.lobby;
  const seq = ++lobbySeq;
  let lobby;
  try {
    const res = await api('GET', `/api/rooms/${roomPath(room)}/lobby`);
    lobby = await res.json();
  } catch (e) {
    if (seq !== lobbySeq) return null;
    S.lobby = null; S.lobbyFor = '';
    ui.roominfo.hidden = true;
    if (e.status === 404) showError(ui.roomError, 'No conference with this name or number. Check it and try again.', ui.room);
    else showError(ui.roomError, `Could not look up the conference: ${e.message}`, ui.room);
    throw e;
  }
  if (seq !== lobbySeq) return S.lobby;
  S.lobby = lobby; S.lobbyFor = room;
  showError(ui.roomError, '', ui.room);
  ui.roominfo.hidden = false;
  ui.lobbyConf.textContent = lobby.conference_number || lobby.room || room;
  fillDial(ui.lobbyDial, ui.lobbyDialWrap, lobby.dial_in);
  ui.lobbyRec.hidden = !lobby.recording;
  ui.lobbyInvite.hidden = !(lobby.needs_token && !urlToken);
  ui.pinField.hidden = !(lobby.needs_pin && !urlToken);
  return lobby;
}

let lobbyDebounce = 0;
ui.room.addEventListener('input', () => {
  clearTimeout(lobbyDebounce);
  showError(ui.roomError, '', ui.room);
  lobbyDebounce = setTimeout(() => loadLobby(ui.room.value).catch(() => {}), 450);
});
ui.room.addEventListener('change', () => { clearTimeout(lobbyDebounce); loadLobby(ui.room.value).catch(() => {}); });
ui.name.addEventListener('input', () => showError(ui.nameError, '', ui.name));
ui.pin.addEventListener('input', () => showError(ui.pinError, '', ui.pin));

// ---------------------------------------------------------------- microphone

const mic = { ctx: null, analyser: null, source: null, raf: 0, buf: null };

async function getMic(deviceId) {
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (deviceId) audio.deviceId = { exact: deviceId };
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser cannot use a microphone here (a secure https page is needed).');
  const stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
  if (S.localStream && S.localStream !== stream) S.localStream.getTracks().forEach((t) => t.stop());
  S.localStream = stream;
  S.micTrack = stream.getAudioTracks()[0] || null;
  if (S.micTrack) S.micTrack.enabled = !S.muted;
  attachMeter(stream);
  listMics().catch(() => {});
  return stream;
}

function micErrorText(e) {
  switch (e && e.name) {
    case 'NotAllowedError': case 'SecurityError': return 'Microphone access was blocked. Allow it in your browser\'s site settings, or join listen-only.';
    case 'NotFoundError': case 'OverconstrainedError': return 'No microphone was found. Connect one, or join listen-only.';
    case 'NotReadableError': return 'The microphone is in use by another application.';
    default: return `Microphone unavailable: ${e && e.message ? e.message : e}`;
  }
}

async function listMics() {
  const devs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audioinput');
  if (devs.length < 2) { ui.micSelect.hidden = true; return; }
  const cur = S.micTrack?.getSettings?.().deviceId;
  ui.micSelect.textContent = '';
  devs.forEach((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `Microphone ${i + 1}`;
    if (d.deviceId === cur) o.selected = true;
    ui.micSelect.append(o);
  });
  ui.micSelect.hidden = false;
}

ui.micSelect.addEventListener('change', async () => {
  try {
    await getMic(ui.micSelect.value);
    // In a call, swap the track without renegotiation.
    const sender = S.pc?.getSenders().find((s) => s.track?.kind === 'audio' || s.track === null);
    if (sender && S.micTrack) await sender.replaceTrack(S.micTrack);
  } catch (e) { showError(ui.micError, micErrorText(e)); }
});

function attachMeter(stream) {
  try {
    if (!mic.ctx) mic.ctx = new AudioContext();
    if (mic.ctx.state === 'suspended') mic.ctx.resume().catch(() => {});
    if (mic.source) mic.source.disconnect();
    mic.source = mic.ctx.createMediaStreamSource(stream);
    mic.analyser = mic.ctx.createAnalyser();
    mic.analyser.fftSize = 1024;
    mic.analyser.smoothingTimeConstant = 0.3;
    mic.buf = new Float32Array(mic.analyser.fftSize);
    mic.source.connect(mic.analyser);
    if (!mic.raf) meterLoop();
  } catch { /* the meter is a nicety */ }
}

let meterSmooth = 0, lastAria = -1;
function meterLoop() {
  mic.raf = requestAnimationFrame(meterLoop);
  if (!mic.analyser) return;
  mic.analyser.getFloatTimeDomainData(mic.buf);
  let sum = 0;
  for (let i = 0; i < mic.buf.length; i++) sum += mic.buf[i] * mic.buf[i];
  const rms = Math.sqrt(sum / mic.buf.length);
  const db = 20 * Math.log10(rms + 1e-9);              // -60 dB .. 0 dB → 0 .. 100
  let level = Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
  if (S.muted) level = 0;
  meterSmooth = level > meterSmooth ? level : meterSmooth * 0.85 + level * 0.15;
  const pct = `${meterSmooth.toFixed(0)}%`;
  ui.micFill.style.width = pct;
  ui.selfFill.style.height = pct;
  const rounded = Math.round(meterSmooth / 5) * 5;
  if (rounded !== lastAria) { ui.micMeter.setAttribute('aria-valuenow', String(rounded)); lastAria = rounded; }
}

function stopMic() {
  if (S.localStream) S.localStream.getTracks().forEach((t) => t.stop());
  S.localStream = null; S.micTrack = null;
  if (mic.source) { mic.source.disconnect(); mic.source = null; }
  mic.analyser = null;
  cancelAnimationFrame(mic.raf); mic.raf = 0;
  ui.micFill.style.width = '0%'; ui.selfFill.style.height = '0%';
  ui.micTest.setAttribute('aria-pressed', 'false');
  ui.micTest.textContent = 'Test microphone';
}

ui.micTest.addEventListener('click', async () => {
  showError(ui.micError, '');
  if (ui.micTest.getAttribute('aria-pressed') === 'true') { stopMic(); return; }
  try {
    await getMic(ui.micSelect.hidden ? undefined : ui.micSelect.value);
    ui.micTest.setAttribute('aria-pressed', 'true');
    ui.micTest.textContent = 'Stop test';
    ui.micHint.textContent = 'Speak: the bar should move.';
    ui.listenBtn.hidden = true;
  } catch (e) {
    showError(ui.micError, micErrorText(e));
    ui.listenBtn.hidden = false;
  }
});

// ---------------------------------------------------------------- join

ui.form.addEventListener('submit', (ev) => { ev.preventDefault(); join({ listenOnly: false }); });
ui.listenBtn.addEventListener('click', () => join({ listenOnly: true }));

async function join({ listenOnly }) {
  if (S.state === 'joining') return;
  clearErrors();
  const room = ui.room.value.trim();
  const name = ui.name.value.trim();
  const pin = ui.pin.value.trim();
  if (!room) { showError(ui.roomError, 'Enter the room name or conference number.', ui.room); ui.room.focus(); return; }
  if (!name && !urlToken) { showError(ui.nameError, 'Enter your name so others know who joined.', ui.name); ui.name.focus(); return; }
  try { localStorage.setItem('setbridge.name', name); } catch { /* private mode */ }

  setState('joining');
  setBusy(ui.joinBtn, true, 'Joining…');
  ui.listenBtn.disabled = true;
  try {
    let lobby;
    try { lobby = await loadLobby(room); } catch { ui.room.focus(); return; }
    if (lobby && lobby.needs_pin && !urlToken && !pin) {
      ui.pinField.hidden = false;
      showError(ui.pinError, 'This conference needs a PIN.', ui.pin);
      ui.pin.focus();
      return;
    }
    // A conference number typed in the lobby resolves to the room's name:
    // the token, WHIP and the event stream all speak of that name.
    S.room = (lobby && lobby.room) || room; S.name = name; S.pin = pin;

    // 1. a token
    if (urlToken) {
      S.token = urlToken;
    } else {
      try {
        await fetchToken();
      } catch (e) {
        if (e.status === 403) { ui.pinField.hidden = false; showError(ui.pinError, 'Wrong PIN. Check it and try again.', ui.pin); ui.pin.select(); ui.pin.focus(); }
        else if (e.status === 401) showError(ui.formError, 'This room is by invitation only: open the invitation link you were sent.');
        else if (e.status === 404) showError(ui.roomError, 'No conference with this name or number.', ui.room);
        else showError(ui.formError, `Could not join: ${e.message}`);
        return;
      }
    }

    // 2. the microphone
    S.listenOnly = listenOnly;
    if (!listenOnly && !S.micTrack) {
      try { await getMic(ui.micSelect.hidden ? undefined : ui.micSelect.value); } catch (e) {
        showError(ui.micError, micErrorText(e));
        ui.listenBtn.hidden = false;
        return;
      }
    }

    // 3. WHIP (or WHEP when listening only)
    try {
      await connectMedia();
    } catch (e) {
      closePc();
      if (e.status === 401) {
        if (urlToken) showError(ui.formError, 'Your invitation link has expired or is not valid. Ask for a new one.');
        else showError(ui.formError, 'Your session expired before joining. Try again.');
      } else if (e.status === 403) {
        showError(ui.formError, S.listenOnly ? 'You may not join this room.' : 'You may not speak in this room. Try "Join listen-only".');
        if (!S.listenOnly) ui.listenBtn.hidden = false;
      } else {
        showError(ui.formError, `Could not connect the audio: ${e.message}`);
      }
      return;
    }
    enterRoom();
  } finally {
    if (S.state === 'joining') setState('lobby');
    setBusy(ui.joinBtn, false, 'Join');
    ui.listenBtn.disabled = false;
  }
}

async function fetchToken() {
  const res = await api('POST', `/api/rooms/${roomPath(S.room)}/session`, { json: { name: S.name, pin: S.pin } });
  const j = await res.json();
  S.token = j.token;
  S.tokenExpires = j.expires_at ? Date.parse(j.expires_at) : 0;
  if (j.room) S.canonicalRoom = j.room;
}

function parseLinkIceServers(link) {
  // Link: <turn:host:3478>; rel="ice-server"; username="u"; credential="p", <stun:...>; rel="ice-server"
  const out = [];
  if (!link) return out;
  const re = /<([^>]+)>((?:\s*;\s*[^;,]+(?:="[^"]*"|=[^;,]*)?)*)/g;
  let m;
  while ((m = re.exec(link))) {
    const attrs = {};
    for (const a of m[2].split(';')) {
      const kv = a.trim().match(/^([^=]+)(?:="?([^"]*)"?)?$/);
      if (kv) attrs[kv[1].trim().toLowerCase()] = kv[2] ?? '';
    }
    if (attrs.rel !== 'ice-server') continue;
    const s = { urls: [m[1]] };
    if (attrs.username) s.username = attrs.username;
    if (attrs.credential) s.credential = attrs.credential;
    out.push(s);
  }
  return out;
}

function waitGathering(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const t = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

async function connectMedia() {
  const iceServers = Array.isArray(S.lobby?.ice_servers) ? S.lobby.ice_servers : [];
  const pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  S.pc = pc;
  S.remoteStream = new MediaStream();
  S.pendingCandidates = [];
  S.restartAttempts = 0;

  if (S.listenOnly) pc.addTransceiver('audio', { direction: 'recvonly' });
  else pc.addTransceiver(S.micTrack, { direction: 'sendrecv', streams: [S.localStream] });

  pc.ontrack = (ev) => {
    if (ev.track.kind !== 'audio') return;
    if (!S.remoteStream.getTrackById(ev.track.id)) S.remoteStream.addTrack(ev.track);
    // Re-assign so every browser notices the new track; the element also
    // keeps Chrome's remote WebRTC audio flowing into WebAudio (tests).
    ui.audio.srcObject = S.remoteStream;
    ui.audio.play().catch(() => banner('Click anywhere to hear the conference.', 'warn'));
    exposeForTests();
  };
  pc.onicecandidate = (ev) => onLocalCandidate(ev.candidate);
  pc.oniceconnectionstatechange = () => onIceState(pc);
  pc.onconnectionstatechange = () => { if (pc.connectionState === 'failed') onIceState(pc); };
  exposeForTests();

  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await waitGathering(pc, GATHER_TIMEOUT_MS);

  S.endpoint = `/${S.listenOnly ? 'whep' : 'whip'}/${roomPath(S.room)}`;
  const res = await api('POST', S.endpoint, {
    body: pc.localDescription.sdp, token: S.token,
    headers: { 'Content-Type': 'application/sdp', Accept: 'application/sdp' },
  });
  const loc = res.headers.get('Location');
  if (!loc) throw new Error('the server gave no session Location');
  S.location = new URL(loc, new URL(S.endpoint, location.href)).href;
  S.etag = res.headers.get('ETag') || '';
  S.participantId = res.headers.get('Setbridge-Participant') || '';
  const linkServers = parseLinkIceServers(res.headers.get('Link'));
  if (linkServers.length) { try { pc.setConfiguration({ ...pc.getConfiguration(), iceServers: linkServers }); } catch { /* keep ours */ } }
  const answer = await res.text();
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  exposeForTests();
  flushCandidates();
}

// Trickle (RFC 9725 §4.3.1): candidates found after the offer went out.
function onLocalCandidate(c) {
  if (!S.pc || S.restarting) return;
  S.pendingCandidates.push(c ? c.candidate : null);
  if (!S.location) return;
  clearTimeout(S.trickleTimer);
  S.trickleTimer = setTimeout(flushCandidates, 150);
}

function localIceParams(sdp) {
  const ufrag = (sdp.match(/^a=ice-ufrag:(.+)$/m) || [])[1]?.trim() || '';
  const pwd = (sdp.match(/^a=ice-pwd:(.+)$/m) || [])[1]?.trim() || '';
  const mline = (sdp.match(/^m=audio .+$/m) || ['m=audio 9 UDP/TLS/RTP/SAVPF 111'])[0].trim();
  const mid = (sdp.match(/^a=mid:(.+)$/m) || [])[1]?.trim() || '0';
  return { ufrag, pwd, mline, mid };
}

function sdpfrag(sdp, candidates, { end = false } = {}) {
  const p = localIceParams(sdp);
  const lines = ['a=ice-options:trickle ice2', `a=group:BUNDLE ${p.mid}`, p.mline, `a=mid:${p.mid}`,
    `a=ice-ufrag:${p.ufrag}`, `a=ice-pwd:${p.pwd}`];
  for (const c of candidates) if (c) lines.push(`a=${c.replace(/^a=/, '')}`);
  if (end) lines.push('a=end-of-candidates');
  return `${lines.join('\r\n')}\r\n`;
}

async function flushCandidates() {
  if (!S.location || !S.pc || S.restarting || !S.pendingCandidates.length) return;
  const offerSdp = S.pc.localDescription?.sdp || '';
  // Candidates that went in the offer need not be sent again.
  const list = S.pendingCandidates.splice(0);
  const end = list.includes(null);
  const fresh = list.filter((c) => c && !offerSdp.includes(c));
  if (!fresh.length) return; // end-of-candidates alone adds nothing the offer did not say
  try {
    const headers = { 'Content-Type': 'application/trickle-ice-sdpfrag' };
    if (S.etag) headers['If-Match'] = S.etag;
    await api('PATCH', S.location, { body: sdpfrag(offerSdp, fresh, { end }), headers, token: S.token });
  } catch { /* trickle is best effort: the server gathered all its candidates */ }
}

// ---------------------------------------------------------------- ICE restart

function onIceState(pc) {
  if (pc !== S.pc) return;
  const st = pc.iceConnectionState;
  const cs = pc.connectionState;
  if (st === 'connected' || st === 'completed') {
    clearTimeout(S.iceTimer); S.iceTimer = 0;
    if (S.state === 'reconnecting' || S.state === 'failed') {
      S.restartAttempts = 0;
      setState('connected');
      banner('Reconnected', 'ok');
    }
    setConn('Connected', 'ok');
    return;
  }
  if (st === 'disconnected') {
    setConn('Connection unstable', 'warn');
    if (!S.iceTimer) {
      S.iceTimer = setTimeout(() => {
        S.iceTimer = 0;
        if (pc === S.pc && ['disconnected', 'failed'].includes(pc.iceConnectionState)) iceRestart('disconnected');
      }, DISCONNECT_GRACE_MS);
    }
    return;
  }
  if (st === 'failed' || cs === 'failed') {
    clearTimeout(S.iceTimer); S.iceTimer = 0;
    iceRestart('failed');
  }
}

async function iceRestart(reason) {
  const pc = S.pc;
  if (!pc || !S.location || S.restarting) return;
  if (!['connected', 'reconnecting'].includes(S.state)) return;
  if (S.restartAttempts >= MAX_RESTARTS) { offerRejoin(); return; }
  S.restarting = true;
  S.restartAttempts++;
  setState('reconnecting');
  setConn('Reconnecting…', 'warn');
  banner('Reconnecting…', 'warn');
  try {
    if (S.restartAttempts > 1) await sleep(1000 * 2 ** (S.restartAttempts - 2));
    if (pc !== S.pc) return;
    if (typeof pc.restartIce === 'function') pc.restartIce();
    const offer = await pc.createOffer({ iceRestart: true });
    await pc.setLocalDescription(offer);
    await waitGathering(pc, GATHER_TIMEOUT_MS);
    const local = pc.localDescription.sdp;
    const cands = local.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:')).map((l) => l.slice(2));
    const res = await api('PATCH', S.location, {
      body: sdpfrag(local, cands, { end: true }),
      headers: { 'Content-Type': 'application/trickle-ice-sdpfrag', 'If-Match': '*' },
      token: S.token,
    });
    S.etag = res.headers.get('ETag') || S.etag;
    if (res.status !== 200) throw new Error(`the server answered ${res.status} to the ICE restart`);
    const frag = await res.text();
    await pc.setRemoteDescription({ type: 'answer', sdp: applyRemoteFrag(pc.remoteDescription.sdp, frag) });
    S.restarting = false;
    // The new ICE session connects (state event), or, when the old path was
    // still up, the state never left "connected": poll for either, and try
    // again if it does not connect in time.
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (pc !== S.pc || S.state !== 'reconnecting' || S.restarting) { clearInterval(poll); return; }
      if (['connected', 'completed'].includes(pc.iceConnectionState)) { clearInterval(poll); onIceState(pc); return; }
      if (Date.now() - t0 > 8000) { clearInterval(poll); iceRestart('timeout'); }
    }, 250);
  } catch (e) {
    S.restarting = false;
    if (pc !== S.pc) return;
    // 404/405/412/501: the server cannot restart this session; anything else
    // may be passing, so try again until the attempts run out.
    if (e.status && [404, 405, 409, 412, 501].includes(e.status)) { S.restartAttempts = MAX_RESTARTS; offerRejoin(); return; }
    if (S.restartAttempts >= MAX_RESTARTS) { offerRejoin(); return; }
    setTimeout(() => iceRestart('retry'), 500);
  } finally {
    S.restarting = false;
  }
}

// Rewrites the previous remote description with the server's new ICE
// credentials and candidates (RFC 8840 sdpfrag, session- or media-level).
function applyRemoteFrag(prevSdp, frag) {
  const fl = frag.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const get = (k) => (fl.find((l) => l.startsWith(`a=${k}:`)) || '').slice(k.length + 3);
  const ufrag = get('ice-ufrag'), pwd = get('ice-pwd');
  if (!ufrag || !pwd) throw new Error('the server\'s ICE restart answer has no ice-ufrag/ice-pwd');
  const cands = fl.filter((l) => l.startsWith('a=candidate:'));
  const lite = fl.includes('a=ice-lite');
  const out = [];
  let inMedia = false, mediaIndex = -1;
  const lines = prevSdp.split(/\r?\n/).filter((l) => l !== '');
  for (const l of lines) {
    if (l.startsWith('m=')) {
      if (inMedia && mediaIndex === 0) out.push(...cands, 'a=end-of-candidates');
      inMedia = true; mediaIndex++;
    }
    if (l.startsWith('a=ice-ufrag:')) { out.push(`a=ice-ufrag:${ufrag}`); continue; }
    if (l.startsWith('a=ice-pwd:')) { out.push(`a=ice-pwd:${pwd}`); continue; }
    if (l.startsWith('a=candidate:') || l === 'a=end-of-candidates') continue;
    if (l === 'a=ice-lite' && !lite) continue;
    out.push(l);
  }
  if (inMedia && mediaIndex === 0) out.push(...cands, 'a=end-of-candidates');
  return `${out.join('\r\n')}\r\n`;
}

function offerRejoin() {
  setState('failed');
  setConn('Disconnected', 'bad');
  banner('The connection was lost.', 'bad', { label: 'Rejoin', onClick: rejoin });
  ui.bannerAction.focus();
}

async function rejoin() {
  ui.bannerAction.disabled = true;
  banner('Rejoining…', 'warn');
  const old = S.location, oldToken = S.token;
  closePc();
  if (old) fetch(old, { method: 'DELETE', headers: { Authorization: `Bearer ${oldToken}` }, keepalive: true }).catch(() => {});
  S.location = '';
  try {
    if (!urlToken && (!S.tokenExpires || S.tokenExpires - Date.now() < 60_000)) await fetchToken();
    try { await connectMedia(); } catch (e) {
      if (e.status !== 401 || urlToken) throw e;
      closePc(); await fetchToken(); await connectMedia();
    }
    setState('connected');
    banner('Reconnected', 'ok');
    setConn('Connected', 'ok');
    if (S.muted) setMuted(true); // the new session starts unmuted on the server
    renderParticipants();
    openEvents();
  } catch (e) {
    closePc();
    setState('failed');
    banner(`Could not rejoin: ${e.message}`, 'bad', { label: 'Try again', onClick: rejoin });
  } finally {
    ui.bannerAction.disabled = false;
  }
}

// ---------------------------------------------------------------- room

function enterRoom() {
  setState('connected');
  document.body.classList.add('in-room');
  ui.lobby.hidden = true;
  ui.roomView.hidden = false;
  const lobby = S.lobby || {};
  const title = lobby.room || S.canonicalRoom || S.room;
  ui.roomTitle.textContent = title;
  document.title = `${title} · setbridge`;
  ui.roomConf.textContent = lobby.conference_number || title;
  fillDial(ui.roomDial, ui.roomDialWrap, lobby.dial_in);
  setRecording(!!lobby.recording);
  setMuted(false, { send: false });
  ui.muteBtn.disabled = S.listenOnly;
  if (S.listenOnly) ui.muteLabel.textContent = 'Listening';
  setConn(S.pc && ['connected', 'completed'].includes(S.pc.iceConnectionState) ? 'Connected' : 'Connecting…',
    S.pc && ['connected', 'completed'].includes(S.pc.iceConnectionState) ? 'ok' : 'warn');
  S.participants.clear(); S.speaking = [];
  renderParticipants();
  openEvents();
  S.joinedAt = Date.now();
  clearInterval(S.timerTick);
  S.timerTick = setInterval(tickTimer, 1000); tickTimer();
  if (history.replaceState && !location.pathname.startsWith('/r/')) {
    history.replaceState(null, '', `/r/${encodeURIComponent(S.room)}${location.search}`);
  }
  ui.muteBtn.focus();
}

function tickTimer() {
  const s = Math.floor((Date.now() - S.joinedAt) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  ui.timer.textContent = h ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`;
}

function setRecording(on) {
  S.recording = on;
  ui.recBadge.hidden = !on;
  exposeForTests();
}

function setMuted(muted, { send = true } = {}) {
  S.muted = muted;
  if (S.micTrack) S.micTrack.enabled = !muted;
  ui.muteBtn.setAttribute('aria-pressed', String(muted));
  ui.muteBtn.setAttribute('aria-label', muted ? 'Unmute microphone' : 'Mute microphone');
  ui.muteBtn.title = muted ? 'Unmute (M)' : 'Mute (M)';
  ui.muteLabel.textContent = muted ? 'Unmute' : 'Mute';
  exposeForTests();
  if (send && S.location) {
    api('POST', `${S.location}/mute`, { json: { muted }, token: S.token })
      .catch((e) => toast(`Could not tell the server about mute: ${e.message}`));
  }
}

ui.muteBtn.addEventListener('click', () => { if (!S.listenOnly) setMuted(!S.muted); });
document.addEventListener('keydown', (ev) => {
  if (S.state !== 'connected' && S.state !== 'reconnecting') return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.target.closest && ev.target.closest('input, select, textarea')) return;
  if ((ev.key === 'm' || ev.key === 'M') && !S.listenOnly) { ev.preventDefault(); setMuted(!S.muted); }
});

ui.leaveBtn.addEventListener('click', () => leave());

async function leave() {
  const loc = S.location, token = S.token;
  setBusy(ui.leaveBtn, true);
  closeEvents();
  closePc();
  S.location = '';
  if (loc) {
    try { await api('DELETE', loc, { token }); } catch { /* the session times out on its own */ }
  }
  stopMic();
  clearInterval(S.timerTick);
  setBusy(ui.leaveBtn, false);
  S.participants.clear(); S.speaking = []; S.participantId = '';
  S.restartAttempts = 0;
  document.body.classList.remove('in-room');
  ui.roomView.hidden = true;
  ui.lobby.hidden = false;
  setConn('');
  banner('You left the conference.', 'ok');
  document.title = 'setbridge · Join a conference';
  setState('lobby');
  S.lobby = null; S.lobbyFor = '';
  loadLobby(ui.room.value).catch(() => {});
  ui.joinBtn.focus();
}

function closePc() {
  clearTimeout(S.iceTimer); S.iceTimer = 0;
  clearTimeout(S.trickleTimer);
  if (S.pc) { S.pc.ontrack = null; S.pc.onicecandidate = null; S.pc.oniceconnectionstatechange = null; S.pc.onconnectionstatechange = null; S.pc.close(); }
  S.pc = null;
  ui.audio.srcObject = null;
  S.remoteStream = null;
  exposeForTests();
}

window.addEventListener('pagehide', () => {
  if (S.location) fetch(S.location, { method: 'DELETE', headers: { Authorization: `Bearer ${S.token}` }, keepalive: true }).catch(() => {});
});

ui.copyLink.addEventListener('click', async () => {
  const url = `${location.origin}/r/${encodeURIComponent(S.room)}`;
  try { await navigator.clipboard.writeText(url); toast('Invite link copied'); } catch { toast(url); }
});

// ---------------------------------------------------------------- events (SSE)

function openEvents() {
  closeEvents();
  const url = `/api/rooms/${roomPath(S.room)}/events?access_token=${encodeURIComponent(S.token)}`;
  const es = new EventSource(url);
  S.events = es;
  ui.eventsState.textContent = 'Connecting…';
  const on = (type, fn) => es.addEventListener(type, (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    fn(data);
    renderParticipants();
  });
  es.onopen = () => { S.eventsRetry = 0; ui.eventsState.textContent = 'Live'; };
  es.onerror = () => {
    if (es !== S.events) return;
    if (es.readyState === EventSource.CONNECTING) {
      ui.eventsState.textContent = 'Reconnecting…';
    } else {
      // Closed for good (e.g. HTTP error): retry ourselves with backoff.
      ui.eventsState.textContent = 'Offline, retrying…';
      const delay = Math.min(30000, 1000 * 2 ** S.eventsRetry++);
      clearTimeout(S.eventsTimer);
      S.eventsTimer = setTimeout(() => { if (es === S.events && S.state !== 'lobby') openEvents(); }, delay);
    }
  };
  on('snapshot', (d) => {
    S.participants.clear();
    for (const p of d.participants || []) S.participants.set(p.id, p);
    S.speaking = Array.isArray(d.speaking) ? d.speaking : [];
    if (d.recording) setRecording(!!d.recording.active);
  });
  on('participant_joined', (p) => { if (p && p.id) S.participants.set(p.id, p); });
  on('participant_updated', (p) => {
    if (!p || !p.id) return;
    S.participants.set(p.id, { ...(S.participants.get(p.id) || {}), ...p });
    if (p.id === S.participantId && typeof p.muted === 'boolean' && p.muted !== S.muted && !S.listenOnly) {
      // The server (or a moderator) changed our mute state: follow it.
      setMuted(p.muted, { send: false });
    }
  });
  on('participant_left', (d) => {
    if (!d || !d.id) return;
    S.participants.delete(d.id);
    S.speaking = S.speaking.filter((id) => id !== d.id);
  });
  on('speaking', (d) => { S.speaking = Array.isArray(d.speaking) ? d.speaking : []; });
  on('recording', (d) => setRecording(!!d.active));
  // The room services were rebuilt above this machine and events may have
  // been missed: start again from a fresh snapshot.
  es.addEventListener('resync', () => { if (es === S.events) setTimeout(openEvents, 0); });
}

function closeEvents() {
  clearTimeout(S.eventsTimer);
  if (S.events) S.events.close();
  S.events = null;
  ui.eventsState.textContent = '';
}

const KIND = {
  phone: { icon: 'i-phone', label: 'Phone' },
  browser: { icon: 'i-browser', label: 'Browser' },
  robot: { icon: 'i-robot', label: 'Automated' },
};

function svgIcon(id, cls = 'icon') {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(NS, 'use');
  use.setAttribute('href', `#${id}`);
  svg.append(use);
  return svg;
}

function renderParticipants() {
  const list = [...S.participants.values()].sort((a, b) => {
    if (a.id === S.participantId) return -1;
    if (b.id === S.participantId) return 1;
    return String(a.joined_at || '').localeCompare(String(b.joined_at || '')) || String(a.name || '').localeCompare(String(b.name || ''));
  });
  const speaking = new Set(S.speaking);
  ui.count.textContent = String(list.length);
  ui.plist.textContent = '';
  if (!list.length) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = S.events ? 'Waiting for the participant list…' : 'No one here yet.';
    ui.plist.append(li);
  }
  for (const p of list) {
    const kind = KIND[p.kind] || KIND.browser;
    const isYou = p.id === S.participantId && !!S.participantId;
    const isSpeaking = speaking.has(p.id);
    const li = document.createElement('li');
    li.dataset.participantId = p.id;
    li.dataset.kind = p.kind || '';
    if (isSpeaking) { li.classList.add('is-speaking'); li.dataset.speaking = 'true'; }
    if (p.muted) li.dataset.muted = 'true';
    if (isYou) li.dataset.you = 'true';

    const av = document.createElement('span');
    av.className = 'avatar';
    av.setAttribute('role', 'img');
    av.setAttribute('aria-label', kind.label);
    av.title = kind.label;
    av.append(svgIcon(kind.icon));

    const info = document.createElement('div');
    const nm = document.createElement('div');
    nm.className = 'pname';
    const nameSpan = document.createElement('span');
    nameSpan.className = 'pname-text';
    nameSpan.textContent = p.name || p.caller || (p.kind === 'phone' ? 'Phone caller' : 'Guest');
    nm.append(nameSpan);
    if (isYou) {
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = 'you';
      nm.append(you);
    }
    const meta = document.createElement('div');
    meta.className = 'pmeta';
    meta.textContent = [kind.label, p.caller].filter(Boolean).join(' · ');
    info.append(nm, meta);

    const flags = document.createElement('div');
    flags.className = 'pflags';
    if (isSpeaking) {
      const sp = document.createElement('span');
      sp.className = 'speaking-tag';
      sp.textContent = 'Speaking';
      flags.append(sp);
    }
    if (p.muted) {
      const mu = document.createElement('span');
      mu.className = 'muted-flag';
      mu.setAttribute('role', 'img');
      mu.setAttribute('aria-label', 'Muted');
      mu.title = 'Muted';
      mu.append(svgIcon('i-mic-off'));
      flags.append(mu);
    }
    li.append(av, info, flags);
    ui.plist.append(li);
  }
  exposeForTests();
}

// ---------------------------------------------------------------- start

function init() {
  setState('lobby');
  const room = roomFromUrl();
  let saved = '';
  try { saved = localStorage.getItem('setbridge.name') || ''; } catch { /* private mode */ }
  if (urlToken) {
    const claims = decodeJwt(urlToken);
    if (claims?.name && !saved) saved = claims.name;
    if (!room && claims?.video?.room) ui.room.value = claims.video.room;
    ui.name.required = false;
  }
  if (room) ui.room.value = room;
  ui.name.value = saved;
  if (ui.room.value) {
    loadLobby(ui.room.value).catch(() => {});
    (saved ? ui.joinBtn : ui.name).focus();
  } else {
    ui.room.focus();
  }
}

init();
