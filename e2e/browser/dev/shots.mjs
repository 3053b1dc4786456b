// DEV AID ONLY: drives the page against dev/fake-server.mjs and takes
// screenshots at desktop and phone width of every state worth looking at,
// checking along the way: wrong PIN, mute, recording, ICE restart.
//   node dev/shots.mjs [--base http://127.0.0.1:8089] [--out /tmp/shots] [--wav tone.wav]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const arg = (k, d) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : d; };
const base = arg('base', 'http://127.0.0.1:8089');
const out = arg('out', '/tmp/shots');
const wav = arg('wav', '');
fs.mkdirSync(out, { recursive: true });

const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required'];
if (wav) args.push(`--use-file-for-fake-audio-capture=${path.resolve(wav)}`);
const ctx = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-shots-')),
  { executablePath: '/usr/bin/chromium', headless: true, args, viewport: { width: 1280, height: 800 } });
const check = (cond, msg) => { if (!cond) { console.error(`FAIL: ${msg}`); process.exitCode = 1; } else console.log(`ok: ${msg}`); };
const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

for (const [label, vp] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error('pageerror', e));
  await page.setViewportSize(vp);

  // PIN room, wrong PIN.
  await page.goto(`${base}/r/pin`);
  await page.waitForSelector('#pin', { state: 'visible' });
  await page.fill('#name', 'Grace');
  await page.click('#mic-test');
  await page.waitForTimeout(800);
  await page.fill('#pin', '0000');
  await page.press('#pin', 'Enter');
  await page.waitForSelector('#pin-error', { state: 'visible' });
  check(await page.isVisible('#lobby'), `${label}: wrong PIN stays in the lobby`);
  check((await page.textContent('#pin-error')).includes('Wrong PIN'), `${label}: error next to the PIN field`);
  await shot(page, `${label}-pin-wrong`);

  // Unknown room.
  await page.fill('#room', 'nosuchroom');
  await page.press('#room', 'Tab');
  await page.waitForSelector('#room-error', { state: 'visible' });
  await shot(page, `${label}-room-unknown`);

  // Right PIN.
  await page.fill('#room', 'pin');
  await page.press('#room', 'Tab');
  await page.waitForSelector('#pin', { state: 'visible' });
  await page.fill('#pin', '1234');
  await page.press('#pin', 'Enter');
  await page.waitForFunction(() => window.setbridge.state === 'connected');
  await page.waitForFunction(() => ['connected', 'completed'].includes(window.setbridge.pc.iceConnectionState));
  await page.waitForSelector('#plist li[data-you="true"]');
  await shot(page, `${label}-room`);

  // Mute via keyboard 'm' and via click.
  await page.keyboard.press('m');
  await page.waitForSelector('#plist li[data-you="true"][data-muted="true"]', { timeout: 5000 });
  check(await page.evaluate(() => window.setbridge.muted === true), `${label}: m mutes, server echoes participant_updated`);
  await fetch(`${base}/dev/recording`, { method: 'POST' });
  await page.waitForSelector('#rec-badge', { state: 'visible' });
  check(true, `${label}: recording badge`);
  await shot(page, `${label}-room-muted-recording`);
  await fetch(`${base}/dev/recording`, { method: 'POST' });
  await page.click('#mute-btn');
  await page.waitForSelector('#plist li[data-you="true"]:not([data-muted])', { timeout: 5000 });

  // Mic → mixer.
  const s1 = await (await fetch(`${base}/dev/stats`)).json();
  await page.waitForTimeout(1000);
  const s2 = await (await fetch(`${base}/dev/stats`)).json();
  const id = Object.keys(s2).pop();
  check(s2[id] && s1[id] && s2[id].bytesReceived > s1[id].bytesReceived, `${label}: the mixer receives our audio`);

  // ICE restart through PATCH.
  const states = [];
  await page.exposeFunction('noteBanner', (t) => states.push(t));
  await page.evaluate(() => new MutationObserver(() => window.noteBanner(document.getElementById('banner-text').textContent))
    .observe(document.getElementById('banner'), { subtree: true, childList: true, characterData: true, attributes: true }));
  const ufragBefore = await page.evaluate(() => window.setbridge.pc.remoteDescription.sdp.match(/a=ice-ufrag:(.*)/)[1]);
  await page.evaluate(() => window.setbridge.restartIce());
  await page.waitForFunction(() => document.getElementById('banner-text').textContent === 'Reconnected', null, { timeout: 15000 });
  const ufragAfter = await page.evaluate(() => window.setbridge.pc.remoteDescription.sdp.match(/a=ice-ufrag:(.*)/)[1]);
  check(ufragBefore !== ufragAfter, `${label}: ICE restart applied the server's new ufrag (${ufragBefore} → ${ufragAfter})`);
  check(states.includes('Reconnecting…'), `${label}: banner showed Reconnecting… then Reconnected`);
  await shot(page, `${label}-reconnected`);
  const s3 = await (await fetch(`${base}/dev/stats`)).json();
  await page.waitForTimeout(1000);
  const s4 = await (await fetch(`${base}/dev/stats`)).json();
  check(s4[id].bytesReceived > s3[id].bytesReceived, `${label}: audio flows after the restart`);

  // Restarts refused → after the attempts, the banner offers Rejoin, which works.
  await fetch(`${base}/dev/fail-restarts`, { method: 'POST' });
  const pidBefore = await page.evaluate(() => window.setbridge.participantId);
  await page.evaluate(() => window.setbridge.restartIce());
  await page.waitForSelector('#banner-action', { state: 'visible', timeout: 20000 });
  check(await page.evaluate(() => window.setbridge.state === 'failed'), `${label}: repeated restart failure offers Rejoin`);
  await shot(page, `${label}-rejoin-offer`);
  await fetch(`${base}/dev/fail-restarts`, { method: 'POST' });
  await page.click('#banner-action');
  await page.waitForFunction(() => window.setbridge.state === 'connected', null, { timeout: 15000 });
  await page.waitForFunction(() => ['connected', 'completed'].includes(window.setbridge.pc.iceConnectionState), null, { timeout: 15000 });
  const pidAfter = await page.evaluate(() => window.setbridge.participantId);
  check(pidAfter && pidAfter !== pidBefore, `${label}: rejoined as a new participant (${pidBefore} → ${pidAfter})`);
  await page.waitForSelector(`#plist li[data-participant-id="${pidAfter}"][data-you="true"]`);
  check(!(await page.$(`#plist li[data-participant-id="${pidBefore}"]`)), `${label}: the old session left the list`);

  await page.click('#leave-btn');
  await page.waitForSelector('#lobby', { state: 'visible' });
  await shot(page, `${label}-left`);
  await page.close();
}
// Media path lost for real: the mixer drops its peer connections; the page
// notices (ICE disconnected > 2 s / failed), tries restarts, then offers Rejoin.
{
  const page = await ctx.newPage();
  await page.goto(`${base}/r/demo`);
  await page.fill('#name', 'Edsger');
  await page.press('#name', 'Enter');
  await page.waitForFunction(() => ['connected', 'completed'].includes(window.setbridge?.pc?.iceConnectionState));
  const seen = [];
  await page.exposeFunction('noteBanner2', (t) => seen.push(t));
  await page.evaluate(() => new MutationObserver(() => window.noteBanner2(document.getElementById('banner-text').textContent))
    .observe(document.getElementById('banner'), { subtree: true, childList: true, characterData: true, attributes: true }));
  const t0 = Date.now();
  await fetch(`${base}/dev/drop-media`, { method: 'POST' });
  await page.waitForSelector('#banner-action', { state: 'visible', timeout: 60000 });
  check(seen.includes('Reconnecting…'), `lost media: Reconnecting… shown, Rejoin offered after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await page.click('#banner-action');
  await page.waitForFunction(() => ['connected', 'completed'].includes(window.setbridge?.pc?.iceConnectionState), null, { timeout: 15000 });
  check(true, 'lost media: Rejoin reconnects');
  await page.click('#leave-btn');
  await page.close();
}

// Invitation-only room with and without ?token=, in dark mode.
{
  const page = await ctx.newPage();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${base}/r/invite`);
  await page.waitForSelector('#lobby-invite', { state: 'visible' });
  await page.fill('#name', 'Linus');
  await page.press('#name', 'Enter');
  await page.waitForSelector('#form-error', { state: 'visible' });
  check((await page.textContent('#form-error')).includes('invitation'), 'invite room without token: clear 401 message');
  await shot(page, 'dark-invite-401');
  const { token } = await (await fetch(`${base}/dev/token?room=invite&name=Linus`)).json();
  await page.goto(`${base}/r/invite?token=${token}`);
  await page.waitForSelector('#roominfo', { state: 'visible' });
  check(await page.inputValue('#name') !== '', 'token: name prefilled');
  await page.click('#join-btn');
  await page.waitForFunction(() => window.setbridge.state === 'connected');
  await page.waitForSelector('#plist li[data-you="true"]');
  check(true, 'invite room with ?token= joins without the session call');
  await shot(page, 'dark-room');
  await page.click('#leave-btn');
  await page.close();
}
await ctx.close();
