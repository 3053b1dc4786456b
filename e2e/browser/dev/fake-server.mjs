// DEV AID ONLY — not the setbridge server, not used by any test.
//
// A throwaway stand-in for the browser API of docs/browser-api.md, to develop
// web/static and room.mjs before (or without) the Go server:
//   - serves ../../web/static like web.Handler (/, /r/{room}, /static/...)
//   - GET /api/rooms/{room}/lobby, POST /api/rooms/{room}/session
//   - POST /whip/{room}, /whep/{room}; PATCH (trickle 204, ICE restart 200),
//     DELETE, POST {Location}/mute
//   - GET /api/rooms/{room}/events (SSE: snapshot, joins, leaves, updates,
//     speaking every 2 s, recording toggled by POST /dev/recording)
// The WebRTC answer comes from a headless Chromium page playing the "mixer":
// it sends a 440 Hz tone to every browser that joins, so a client that
// records what it hears can check it got real audio.
//
//   node dev/fake-server.mjs [--port 8089] [--chromium /usr/bin/chromium]
// Rooms: demo (open, recording off), pin (PIN 1234), invite (needs a token).
// GET /dev/stats → per session bytes the mixer received from the browser.
// POST /dev/fail-restarts toggles refusing ICE restarts (503) to see "Rejoin";
// POST /dev/drop-media closes the mixer's peer connections (ICE goes down);
// POST /dev/recording toggles recording; GET /dev/token?room=invite&name=N
// mints a token for the invitation-only room.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir = path.resolve(here, '../../../web/static');
const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : d; };
const PORT = Number(arg('port', '8089'));
const CHROMIUM = arg('chromium', '/usr/bin/chromium');

const ROOMS = {
  demo: { conference_number: '1234', dial_in: ['+44 20 7946 0000', '+1 555 0100'], needs_pin: false, needs_token: false },
  pin: { conference_number: '5678', dial_in: ['+44 20 7946 0001'], needs_pin: true, pin: '1234', needs_token: false },
  invite: { conference_number: '9999', dial_in: [], needs_pin: false, needs_token: true },
};
const byNumber = (r) => Object.keys(ROOMS).find((k) => k === r || ROOMS[k].conference_number === r);

let failRestarts = false;
const state = {}; // room → { participants: Map, speaking: [], recording, clients:Set<res>, sessions: Map }
function roomState(r) {
  if (!state[r]) {
    state[r] = { participants: new Map(), speaking: [], recording: { active: false, id: '' }, clients: new Set(), sessions: new Map() };
    // A phone caller is always there, talking now and then.
    state[r].participants.set('p-phone-1', { id: 'p-phone-1', name: 'Phone caller', kind: 'phone', caller: '+44 20 **** 1234', muted: false, joined_at: new Date(Date.now() - 60000).toISOString(), node: 'n1', set: 's1' });
  }
  return state[r];
}

// ------------------------------------------------------------ "mixer" page
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required', '--disable-features=WebRtcHideLocalIpsWithMdns'],
});
const mixer = await browser.newPage();
await mixer.setContent('<title>fake mixer</title>');
await mixer.evaluate(() => {
  const ctx = new AudioContext();
  const osc = ctx.createOscillator(); osc.frequency.value = 440;
  const gain = ctx.createGain(); gain.gain.value = 0.3;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest); osc.start();
  window.toneTrack = dest.stream.getAudioTracks()[0];
  window.pcs = {};
  const gather = (pc) => new Promise((res) => {
    if (pc.iceGatheringState === 'complete') return res();
    const t = setTimeout(res, 3000);
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') { clearTimeout(t); res(); } });
  });
  window.answer = async (id, offer, send) => {
    await ctx.resume();
    const pc = new RTCPeerConnection();
    window.pcs[id] = pc;
    pc.ontrack = (e) => { const a = new Audio(); a.muted = true; a.srcObject = new MediaStream([e.track]); };
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const tr = pc.getTransceivers()[0];
    if (send) { await tr.sender.replaceTrack(window.toneTrack); tr.direction = 'sendrecv'; }
    const ans = await pc.createAnswer();
    await pc.setLocalDescription(ans);
    await gather(pc);
    return pc.localDescription.sdp;
  };
  // ICE restart: the client's sdpfrag carries its new ufrag/pwd; rebuild its
  // offer from the previous one and answer.
  window.restart = async (id, ufrag, pwd, cands) => {
    const pc = window.pcs[id];
    let sdp = pc.remoteDescription.sdp
      .replace(/a=ice-ufrag:.*\r\n/g, `a=ice-ufrag:${ufrag}\r\n`)
      .replace(/a=ice-pwd:.*\r\n/g, `a=ice-pwd:${pwd}\r\n`)
      .replace(/a=candidate:.*\r\n/g, '').replace(/a=end-of-candidates\r\n/g, '');
    sdp = sdp.replace(/(a=mid:[^\r\n]+\r\n)/, `$1${cands.map((c) => `${c}\r\n`).join('')}`);
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gather(pc);
    const l = pc.localDescription.sdp;
    return {
      ufrag: l.match(/a=ice-ufrag:(.*)\r\n/)[1], pwd: l.match(/a=ice-pwd:(.*)\r\n/)[1],
      cands: l.split('\r\n').filter((x) => x.startsWith('a=candidate:')),
    };
  };
  window.addCandidates = async (id, cands) => { for (const c of cands) { try { await window.pcs[id].addIceCandidate({ candidate: c.slice(2), sdpMid: '0' }); } catch {} } };
  window.drop = (id) => { window.pcs[id]?.close(); delete window.pcs[id]; };
  window.stats = async () => {
    const out = {};
    for (const [id, pc] of Object.entries(window.pcs)) {
      let rx = 0;
      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') rx += s.bytesReceived; });
      out[id] = { ice: pc.iceConnectionState, bytesReceived: rx };
    }
    return out;
  };
});

// ------------------------------------------------------------ helpers
const send = (res, code, body, headers = {}) => {
  const isObj = body && typeof body === 'object';
  res.writeHead(code, { 'Content-Type': isObj ? 'application/json' : 'text/plain', ...headers });
  res.end(isObj ? JSON.stringify(body) : body ?? '');
};
const readBody = (req) => new Promise((res) => { let b = ''; req.on('data', (c) => { b += c; }); req.on('end', () => res(b)); });
const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function makeToken(room, name) {
  const identity = `web-${crypto.randomBytes(4).toString('hex')}`;
  const now = Math.floor(Date.now() / 1000);
  return { identity, token: `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ iss: 'dev', sub: identity, name, nbf: now, exp: now + 3600, video: { room, roomJoin: true, canPublish: true, canSubscribe: true } })}.fakesig` };
}
function claims(tok) { try { return JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()); } catch { return null; } }
function bearer(req, url) {
  const h = req.headers.authorization || '';
  if (h.startsWith('Bearer ')) return claims(h.slice(7));
  const q = url.searchParams.get('access_token');
  return q ? claims(q) : null;
}
function broadcast(room, event, data) {
  for (const c of roomState(room).clients) c.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
function snapshot(room) {
  const s = roomState(room);
  return { room, participants: [...s.participants.values()], speaking: s.speaking, recording: s.recording };
}

// Speaking: every 2 s, the phone caller and whoever joined last take turns.
setInterval(() => {
  for (const room of Object.keys(state)) {
    const ids = [...state[room].participants.keys()];
    const tick = Math.floor(Date.now() / 2000);
    const sp = ids.length ? [ids[tick % ids.length]] : [];
    state[room].speaking = sp;
    broadcast(room, 'speaking', { speaking: sp });
  }
}, 2000);
setInterval(() => { for (const room of Object.keys(state)) for (const c of state[room].clients) c.write(': ping\n\n'); }, 15000);

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
function serveStatic(res, file) {
  const p = path.join(staticDir, file);
  if (!p.startsWith(staticDir) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) return send(res, 404, 'not found');
  res.writeHead(200, { 'Content-Type': TYPES[path.extname(p)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
  res.end(fs.readFileSync(p));
}

// ------------------------------------------------------------ routes
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const m = (re) => p.match(re);
  let r;
  try {
    if (req.method === 'GET' && (p === '/' || /^\/r\/[^/]+$/.test(p))) return serveStatic(res, 'index.html');
    if (req.method === 'GET' && p.startsWith('/static/')) return serveStatic(res, decodeURIComponent(p.slice(8)));

    if ((r = m(/^\/api\/rooms\/([^/]+)\/lobby$/)) && req.method === 'GET') {
      const room = byNumber(decodeURIComponent(r[1]));
      if (!room) return send(res, 404, { error: 'no such room' });
      const c = ROOMS[room];
      return send(res, 200, { room, conference_number: c.conference_number, dial_in: c.dial_in, needs_pin: c.needs_pin, needs_token: c.needs_token, recording: roomState(room).recording.active, ice_servers: [] });
    }
    if ((r = m(/^\/api\/rooms\/([^/]+)\/session$/)) && req.method === 'POST') {
      const room = byNumber(decodeURIComponent(r[1]));
      if (!room) return send(res, 404, { error: 'no such room' });
      const body = JSON.parse((await readBody(req)) || '{}');
      if (ROOMS[room].needs_token) return send(res, 401, { error: 'this room needs an invitation' });
      if (ROOMS[room].needs_pin && body.pin !== ROOMS[room].pin) return send(res, 403, { error: 'wrong PIN' });
      const t = makeToken(room, body.name || 'Guest');
      return send(res, 200, { token: t.token, identity: t.identity, room, expires_at: new Date(Date.now() + 3600e3).toISOString() });
    }
    if ((r = m(/^\/api\/rooms\/([^/]+)\/events$/)) && req.method === 'GET') {
      const room = byNumber(decodeURIComponent(r[1]));
      if (!room) return send(res, 404, { error: 'no such room' });
      const c = bearer(req, url);
      if (!c || c.video?.room !== room) return send(res, 401, { error: 'bad token' });
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot(room))}\n\n`);
      roomState(room).clients.add(res);
      req.on('close', () => roomState(room).clients.delete(res));
      return;
    }
    if ((r = m(/^\/(whip|whep)\/([^/]+)$/)) && req.method === 'POST') {
      const room = byNumber(decodeURIComponent(r[2]));
      if (!room) return send(res, 404, { error: 'no such room' });
      if (!(req.headers['content-type'] || '').startsWith('application/sdp')) return send(res, 415, { error: 'want application/sdp' });
      const c = bearer(req, url);
      if (!c) return send(res, 401, { error: 'missing or bad token' });
      if (c.video?.room !== room) return send(res, 403, { error: 'token for another room' });
      const offer = await readBody(req);
      if (!offer.startsWith('v=0')) return send(res, 400, { error: 'bad SDP' });
      const sid = crypto.randomBytes(6).toString('hex');
      const pid = `p-${sid}`;
      const answer = await mixer.evaluate(([id, o, s]) => window.answer(id, o, s), [sid, offer, true]);
      const s = roomState(room);
      s.sessions.set(sid, { pid, etag: `"${crypto.randomBytes(4).toString('hex')}"` });
      const P = { id: pid, name: c.name || c.sub, kind: 'browser', caller: '', muted: false, joined_at: new Date().toISOString(), node: 'n1', set: 's1' };
      s.participants.set(pid, P);
      broadcast(room, 'participant_joined', P);
      console.log(`[fake] ${r[1]} ${room} ${P.name} → ${pid}`);
      return send(res, 201, answer, {
        'Content-Type': 'application/sdp', Location: `/${r[1]}/${room}/${sid}`, ETag: s.sessions.get(sid).etag,
        'Setbridge-Participant': pid, Link: '<stun:127.0.0.1:3478>; rel="ice-server"',
      });
    }
    if ((r = m(/^\/(whip|whep)\/([^/]+)\/([^/]+)(\/mute)?$/))) {
      const room = r[2], sid = r[3], s = roomState(room), sess = s.sessions.get(sid);
      if (!sess) return send(res, 404, { error: 'no such session' });
      if (r[4] && req.method === 'POST') {
        const { muted } = JSON.parse(await readBody(req));
        const P = s.participants.get(sess.pid); P.muted = !!muted;
        broadcast(room, 'participant_updated', P);
        return send(res, 204, '');
      }
      if (req.method === 'DELETE') {
        s.sessions.delete(sid); s.participants.delete(sess.pid);
        await mixer.evaluate((id) => window.drop(id), sid);
        broadcast(room, 'participant_left', { id: sess.pid });
        console.log(`[fake] left ${sess.pid}`);
        return send(res, 200, '');
      }
      if (req.method === 'PATCH') {
        if (req.headers['content-type'] !== 'application/trickle-ice-sdpfrag') return send(res, 415, { error: 'want sdpfrag' });
        const frag = await readBody(req);
        const ufrag = (frag.match(/a=ice-ufrag:(.*)/) || [])[1]?.trim();
        const pwd = (frag.match(/a=ice-pwd:(.*)/) || [])[1]?.trim();
        const cands = frag.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
        if (req.headers['if-match'] === '*') {
          if (failRestarts) return send(res, 503, { error: 'dev: ICE restarts refused (POST /dev/fail-restarts)' });
          const out = await mixer.evaluate(([id, u, pw, cs]) => window.restart(id, u, pw, cs), [sid, ufrag, pwd, cands]);
          sess.etag = `"${crypto.randomBytes(4).toString('hex')}"`;
          console.log(`[fake] ICE restart ${sess.pid}: client ufrag ${ufrag}, server ufrag ${out.ufrag}`);
          return send(res, 200, ['a=ice-options:trickle ice2', 'a=group:BUNDLE 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0',
            `a=ice-ufrag:${out.ufrag}`, `a=ice-pwd:${out.pwd}`, ...out.cands, 'a=end-of-candidates', ''].join('\r\n'),
          { 'Content-Type': 'application/trickle-ice-sdpfrag', ETag: sess.etag });
        }
        if (req.headers['if-match'] && req.headers['if-match'] !== sess.etag) return send(res, 412, { error: 'etag mismatch' });
        await mixer.evaluate(([id, cs]) => window.addCandidates(id, cs), [sid, cands]);
        return send(res, 204, '');
      }
    }
    if (p === '/dev/recording' && req.method === 'POST') {
      for (const room of Object.keys(state)) {
        const s = state[room];
        s.recording = s.recording.active ? { active: false, id: '' } : { active: true, id: `rec-${Date.now()}` };
        broadcast(room, 'recording', s.recording);
      }
      return send(res, 200, { ok: true });
    }
    if (p === '/dev/drop-media' && req.method === 'POST') { await mixer.evaluate(() => { for (const pc of Object.values(window.pcs)) pc.close(); }); return send(res, 200, { ok: true }); }
    if (p === '/dev/fail-restarts' && req.method === 'POST') { failRestarts = !failRestarts; return send(res, 200, { failRestarts }); }
    if (p === '/dev/token') { const t = makeToken(url.searchParams.get('room') || 'invite', url.searchParams.get('name') || 'Invited'); return send(res, 200, t); }
    if (p === '/dev/stats') return send(res, 200, await mixer.evaluate(() => window.stats()));
    return send(res, 404, { error: 'not found' });
  } catch (e) {
    console.error('[fake]', e);
    return send(res, 500, { error: String(e.message || e) });
  }
});
server.listen(PORT, '127.0.0.1', () => console.log(`[fake] dev server on http://127.0.0.1:${PORT}/r/demo`));
const stop = async () => { server.close(); await browser.close(); process.exit(0); };
process.on('SIGINT', stop); process.on('SIGTERM', stop);
