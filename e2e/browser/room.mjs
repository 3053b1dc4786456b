#!/usr/bin/env node
// Joins a setbridge room through the real web page in headless Chromium and
// records what the page plays.
//
//   node room.mjs --url http://127.0.0.1:PORT/r/demo --name Ada --wav tone1000.wav \
//     --seconds 8 --out-wav /tmp/heard.wav --shots DIR [--pin 1234] \
//     [--expect-participants 2] [--leave-and-check] [--timeout 60] \
//     [--chromium /usr/bin/chromium] [--verbose]
//
// The fake microphone plays --wav (Chromium's --use-file-for-fake-audio-capture;
// it loops). What the page receives (window.setbridge.remoteStream) is
// recorded through WebAudio for --seconds and written to --out-wav as mono
// 16-bit PCM at the AudioContext's rate. Screenshots: DIR/lobby.png and
// DIR/room.png (and DIR/error.png on failure). One JSON line goes to stdout:
//   {"participants":[{"id","name","kind","muted","you","speaking"}...],
//    "speaking":["id"...],"participant_id":"...","sample_rate":48000,
//    "samples":N,"rms_dbfs":-20.1,"left":true?}
// Exit 0 on success; on failure a message on stderr and exit 1.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

// ------------------------------------------------------------ arguments
function parseArgs(argv) {
  const o = {
    url: '', name: '', wav: '', seconds: 8, outWav: '', shots: '', pin: '', expectParticipants: 0,
    leaveAndCheck: false, timeout: 60, chromium: '/usr/bin/chromium', verbose: false,
  };
  const flags = new Set(['leave-and-check', 'verbose', 'ice-restart']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    let [k, v] = a.slice(2).split(/=(.*)/s);
    if (flags.has(k)) { v = v ?? 'true'; } else if (v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
    }
    switch (k) {
      case 'url': o.url = v; break;
      case 'name': o.name = v; break;
      case 'wav': o.wav = v; break;
      case 'seconds': o.seconds = Number(v); break;
      case 'out-wav': o.outWav = v; break;
      case 'shots': o.shots = v; break;
      case 'pin': o.pin = v; break;
      case 'expect-participants': o.expectParticipants = Number(v); break;
      case 'leave-and-check': o.leaveAndCheck = v !== 'false'; break;
      case 'ice-restart': o.iceRestart = v !== 'false'; break;
      case 'timeout': o.timeout = Number(v); break;
      case 'chromium': o.chromium = v; break;
      case 'verbose': o.verbose = v !== 'false'; break;
      case 'help': usage(0); break;
      default: throw new Error(`unknown option --${k}`);
    }
  }
  if (!o.url) throw new Error('--url is required');
  if (!o.name) throw new Error('--name is required');
  if (!o.wav) throw new Error('--wav is required (the fake microphone)');
  if (!fs.existsSync(o.wav)) throw new Error(`--wav ${o.wav}: no such file`);
  if (!(o.seconds > 0)) throw new Error('--seconds must be > 0');
  if (!(o.timeout > 0)) throw new Error('--timeout must be > 0');
  if (!Number.isInteger(o.expectParticipants) || o.expectParticipants < 0) throw new Error('--expect-participants must be a whole number');
  if (o.timeout <= o.seconds) throw new Error('--timeout must be longer than --seconds');
  return o;
}

function usage(code) {
  process.stderr.write('usage: node room.mjs --url URL --name NAME --wav FILE [--seconds 8] [--out-wav FILE] [--shots DIR]\n' +
    '         [--pin PIN] [--expect-participants N] [--leave-and-check] [--ice-restart] [--timeout 60] [--chromium PATH] [--verbose]\n');
  process.exit(code);
}

// ------------------------------------------------------------ WAV
function wavBytes(int16, sampleRate) {
  const data = Buffer.from(int16.buffer, int16.byteOffset, int16.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24); h.writeUInt32LE(sampleRate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

// ------------------------------------------------------------ in-page capture
// Runs in the page: records window.setbridge.remoteStream for `seconds`.
async function captureInPage(seconds) {
  const sb = window.setbridge;
  if (!sb || !sb.remoteStream) throw new Error('window.setbridge.remoteStream is missing');
  if (!sb.remoteStream.getAudioTracks().length) throw new Error('the remote stream has no audio track');
  // 48 kHz, Opus's own rate, so nothing is resampled on the way in.
  let ctx;
  try { ctx = new AudioContext({ sampleRate: 48000 }); } catch { ctx = new AudioContext(); }
  await ctx.resume();
  const src = ctx.createMediaStreamSource(sb.remoteStream);
  const want = Math.round(seconds * ctx.sampleRate);
  const out = new Float32Array(want);
  let n = 0;
  let finish;
  const done = new Promise((r) => { finish = r; });
  const push = (ch) => {
    const k = Math.min(ch.length, want - n);
    out.set(k === ch.length ? ch : ch.subarray(0, k), n);
    n += k;
    if (n >= want) finish();
  };
  let node;
  let how = 'audioworklet';
  try {
    const code = `registerProcessor('sb-capture', class extends AudioWorkletProcessor {
      process(inputs) { const ch = inputs[0] && inputs[0][0]; this.port.postMessage(ch ? ch.slice(0) : new Float32Array(128)); return true; }
    });`;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    await ctx.audioWorklet.addModule(url);
    node = new AudioWorkletNode(ctx, 'sb-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit' });
    node.port.onmessage = (e) => { if (n < want) push(e.data); };
  } catch {
    how = 'scriptprocessor';
    node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => { if (n < want) push(new Float32Array(e.inputBuffer.getChannelData(0))); };
  }
  // Pull the graph through a silent gain so the capture node runs.
  const mute = ctx.createGain(); mute.gain.value = 0;
  src.connect(node); node.connect(mute); mute.connect(ctx.destination);
  const guard = setTimeout(() => finish(), seconds * 1000 + 5000);
  await done;
  clearTimeout(guard);
  src.disconnect(); node.disconnect();
  const sampleRate = ctx.sampleRate;
  await ctx.close();
  const pcm = new Int16Array(n);
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, out[i]));
    sq += s * s;
    pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
  }
  const bytes = new Uint8Array(pcm.buffer);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return { sampleRate, samples: n, b64: btoa(bin), rms: n ? Math.sqrt(sq / n) : 0, how };
}

// Runs in the page: what the participant list shows.
function listInPage() {
  return [...document.querySelectorAll('#plist li[data-participant-id]')].map((li) => ({
    id: li.dataset.participantId,
    name: li.querySelector('.pname-text')?.textContent || '',
    kind: li.dataset.kind || '',
    muted: li.dataset.muted === 'true',
    you: li.dataset.you === 'true',
    speaking: li.dataset.speaking === 'true',
  }));
}

// ------------------------------------------------------------ main
async function main() {
  let opts;
  try { opts = parseArgs(process.argv.slice(2)); } catch (e) { process.stderr.write(`room.mjs: ${e.message}\n`); usage(1); }
  const log = (...a) => { if (opts.verbose) process.stderr.write(`[room] ${a.join(' ')}\n`); };
  const deadline = Date.now() + opts.timeout * 1000;
  const left = () => Math.max(1, deadline - Date.now());
  if (opts.shots) fs.mkdirSync(opts.shots, { recursive: true });

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'setbridge-chromium-'));
  let context;
  let step = 'starting Chromium';
  let finished = false;
  // Every wait below is bounded by the deadline; this backstop catches a hang
  // elsewhere (a stuck evaluate, a browser that never starts).
  const overall = setTimeout(async () => {
    if (finished) return;
    finished = true;
    process.stderr.write(`room.mjs: timed out after ${opts.timeout}s while ${step} (backstop)\n`);
    try { if (context && opts.shots) await context.pages()[0]?.screenshot({ path: path.join(opts.shots, 'error.png'), timeout: 2000 }); } catch { /* ignore */ }
    try { await context?.close(); } catch { /* ignore */ }
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(1);
  }, opts.timeout * 1000 + 3000);

  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium,
      headless: true,
      viewport: { width: 1280, height: 800 },
      bypassCSP: true, // the page's CSP would refuse the capture worklet's blob: URL
      timeout: left(),
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${path.resolve(opts.wav)}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    const origin = new URL(opts.url).origin;
    await context.grantPermissions(['microphone'], { origin }).catch(() => {});
    const page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => { pageErrors.push(String(e)); log('pageerror', e); });
    page.on('console', (m) => log(`console.${m.type()}`, m.text()));
    page.on('requestfailed', (r) => log('requestfailed', r.method(), r.url(), r.failure()?.errorText || ''));

    step = `opening ${opts.url}`;
    const resp = await page.goto(opts.url, { waitUntil: 'load', timeout: left() });
    if (!resp || !resp.ok()) throw new Error(`GET ${opts.url}: ${resp ? resp.status() : 'no response'}`);
    await page.waitForSelector('#join-form', { state: 'visible', timeout: left() });
    step = 'waiting for the lobby information';
    // The lobby looks the room up; wait for it (or its error) before the shot.
    await page.waitForFunction(() => !document.getElementById('roominfo').hidden || !document.getElementById('room-error').hidden,
      null, { timeout: Math.min(left(), 10000) }).catch(() => log('lobby information did not appear'));
    const roomError = await page.$eval('#room-error', (e) => (e.hidden ? '' : e.textContent));
    if (opts.shots) await page.screenshot({ path: path.join(opts.shots, 'lobby.png'), fullPage: true });
    if (roomError) throw new Error(`lobby: ${roomError}`);

    step = 'filling the lobby';
    await page.fill('#name', opts.name);
    if (opts.pin) {
      await page.waitForSelector('#pin', { state: 'visible', timeout: Math.min(left(), 5000) })
        .catch(() => { throw new Error('--pin given but the lobby shows no PIN field (the room needs no PIN?)'); });
      await page.fill('#pin', opts.pin);
    }
    step = 'joining';
    await page.press(opts.pin ? '#pin' : '#name', 'Enter'); // Enter submits, as a person would
    const joined = await page.waitForFunction(() => {
      const sb = window.setbridge;
      if (sb && sb.state === 'connected') return { ok: true };
      if (sb && sb.state === 'joining') return false;
      for (const id of ['form-error', 'pin-error', 'room-error', 'name-error', 'mic-error']) {
        const e = document.getElementById(id);
        if (e && !e.hidden && e.textContent) return { ok: false, error: `${id}: ${e.textContent}` };
      }
      return false;
    }, null, { timeout: left(), polling: 100 }).then((h) => h.jsonValue());
    if (!joined.ok) throw new Error(`join failed: ${joined.error}`);
    log('joined as', await page.evaluate(() => window.setbridge.participantId));

    step = 'waiting for the remote audio track';
    await page.waitForFunction(() => window.setbridge?.remoteStream?.getAudioTracks().length > 0, null, { timeout: left(), polling: 100 });
    step = 'waiting for ICE to connect';
    await page.waitForFunction(() => ['connected', 'completed'].includes(window.setbridge?.pc?.iceConnectionState), null, { timeout: left(), polling: 100 });

    if (opts.expectParticipants > 0) {
      step = `waiting for ${opts.expectParticipants} participants and someone speaking`;
      await page.waitForFunction((n) => document.querySelectorAll('#plist li[data-participant-id]').length >= n &&
        document.querySelector('#plist li[data-speaking="true"]') !== null, opts.expectParticipants, { timeout: left(), polling: 100 });
    }

    let iceRestarted = false;
    if (opts.iceRestart) {
      // An ICE restart as after a network blip: new credentials both
      // ways through PATCH, the page says so, and the audio goes on.
      step = 'restarting ICE';
      const ufrag = (sdp) => (/a=ice-ufrag:(\S+)/.exec(sdp) || [])[1];
      const before = await page.evaluate(() => window.setbridge.pc.remoteDescription.sdp);
      await page.evaluate(() => window.setbridge.restartIce());
      await page.waitForFunction((old) => {
        const sb = window.setbridge;
        const m = /a=ice-ufrag:(\S+)/.exec(sb?.pc?.remoteDescription?.sdp || '');
        return sb && sb.state === 'connected' && m && m[1] !== old &&
          ['connected', 'completed'].includes(sb.pc.iceConnectionState) &&
          /Reconnected/.test(document.body.innerText);
      }, ufrag(before), { timeout: left(), polling: 100 });
      iceRestarted = true;
      log('ICE restarted');
    }

    step = `recording ${opts.seconds}s of what the page plays`;
    const cap = await page.evaluate(captureInPage, opts.seconds);
    log(`captured ${cap.samples} samples at ${cap.sampleRate} Hz via ${cap.how}`);
    const pcm = new Int16Array(new Uint8Array(Buffer.from(cap.b64, 'base64')).buffer);
    if (opts.outWav) fs.writeFileSync(opts.outWav, wavBytes(pcm, cap.sampleRate));

    step = 'reading the participant list';
    const participants = await page.evaluate(listInPage);
    const participantId = await page.evaluate(() => window.setbridge.participantId);
    if (opts.shots) await page.screenshot({ path: path.join(opts.shots, 'room.png'), fullPage: true });

    const result = {
      participants,
      speaking: participants.filter((p) => p.speaking).map((p) => p.id),
      participant_id: participantId,
      sample_rate: cap.sampleRate,
      samples: cap.samples,
      rms_dbfs: cap.rms > 0 ? Math.round(200 * Math.log10(cap.rms)) / 10 : null,
      ice_restarted: iceRestarted,
    };

    if (opts.leaveAndCheck) {
      step = 'leaving';
      await page.click('#leave-btn');
      await page.waitForFunction(() => window.setbridge?.state === 'lobby' && !document.getElementById('lobby').hidden &&
        document.getElementById('room-view').hidden, null, { timeout: left(), polling: 100 });
      if (opts.shots) await page.screenshot({ path: path.join(opts.shots, 'left.png'), fullPage: true });
      result.left = true;
    }
    if (pageErrors.length) log(`page errors: ${pageErrors.join(' | ')}`);

    clearTimeout(overall);
    finished = true;
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  } catch (e) {
    clearTimeout(overall);
    if (finished) return;
    finished = true;
    const msg = e && e.message ? e.message.split('\n')[0] : String(e);
    if (Date.now() >= deadline - 100) process.stderr.write(`room.mjs: timed out after ${opts.timeout}s while ${step} (${msg})\n`);
    else process.stderr.write(`room.mjs: failed while ${step}: ${msg}\n`);
    try { if (context && opts.shots) await context.pages()[0]?.screenshot({ path: path.join(opts.shots, 'error.png'), timeout: 3000 }); } catch { /* ignore */ }
    try { await context?.close(); } catch { /* ignore */ }
    fs.rmSync(userDataDir, { recursive: true, force: true });
    process.exit(1);
  }
}

main();
