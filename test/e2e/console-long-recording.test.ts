// A long recording (~24 MB) found in serve's data folder gets a seek index from the library's
// rebuild, and the console plays it from the index in Chromium: it starts without loading the
// whole file, a seek to 90 % shows the same screen asciinema-player shows when it loads the whole
// cast and seeks there, the activity timeline is drawn from the index, and a search hit seeks
// into the recording.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { consoleRequest } from '../helpers/console-client';
import { writeRecording, type Ev } from '../helpers/recordings';
import { ttyEvents } from '../helpers/tty-content';
import { assertNothingLeft, eventually, openConsole, playerScreen, REPO, replayTime, screenshot, startServe, tempDir, type Child, type ConsoleBrowser, type ServeUrls } from './console-harness';

const NEEDLE = 'long-needle-31337';
const BYTES = 24 * 1024 * 1024;

let serve: Child<ServeUrls>;
let ui: ConsoleBrowser;
let dataDir: string;
let id: string;

before(async () => {
  dataDir = tempDir('long');
  const events: Ev[] = ttyEvents({ seed: 21, bytes: BYTES, ascii: true, cols: 100, rows: 30, resizeChance: 0.0002 });
  // A word printed once, at about half way, for the search: on the normal screen outside a scroll
  // region, where lines scroll into the history that search indexes.
  let alt = false;
  let region = false;
  let at = Math.floor(events.length / 2);
  for (let i = 0; i < events.length; i++) {
    const data = events[i][2];
    if (data.includes('\x1b[?1049h')) alt = true;
    if (data.includes('\x1b[?1049l')) alt = false;
    if (/\[\d+;\d+r/.test(data)) region = true;
    if (data.includes('\x1b[r')) region = false;
    if (i >= at && !alt && !region) {
      at = i + 1;
      break;
    }
  }
  // On a cleared screen, and pushed into the history by plain lines right after it (search reads
  // lines as they leave the screen; the generated scroll regions and cursor jumps could otherwise
  // overwrite it first).
  const [before, next] = [events[at - 1][0], events[at][0]];
  const filler = Array.from({ length: 60 }, (_, i) => `after the needle ${i}\r\n`).join('');
  events.splice(at, 0, [before + (next - before) / 3, 'o', `\x1b[H\x1b[2J${NEEDLE}\r\n`], [before + (2 * (next - before)) / 3, 'o', filler]);
  ({ id } = await writeRecording(dataDir, { events, cols: 100, rows: 30 }));
  serve = await startServe(dataDir);
  // The library's rebuild indexed the file at start; its seek index is built in the background.
  await eventually(
    async () => (await consoleRequest(serve.info.console, `/api/recordings/${id}/index`)).status === 200,
    180_000,
    async () => `no seek index after 3 minutes: ${(await consoleRequest(serve.info.console, `/api/recordings/${id}/index`)).body}\n${serve.logs()}`,
  );
  ui = await openConsole(serve.info.console);
});

after(async () => {
  await ui?.close();
  await serve?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await assertNothingLeft();
});

/** The screen of asciinema-player loading the whole cast (no index) and seeking to `seconds`, in the same page. */
async function wholeFileScreen(seconds: number): Promise<string[]> {
  const { page } = ui;
  // The standalone bundle defines the global AsciinemaPlayer; evaluated over the DevTools protocol, as a test fixture.
  await page.evaluate(readFileSync(join(REPO, 'node_modules', 'asciinema-player', 'dist', 'bundle', 'asciinema-player.min.js'), 'utf8'));
  return page.evaluate(
    async ({ recording, at }) => {
      const host = document.createElement('div');
      host.className = 'reference-player';
      host.style.cssText = 'position: fixed; left: -5000px; top: 0; width: 1200px';
      document.body.append(host);
      const global = window as unknown as { AsciinemaPlayer: { create(src: unknown, el: HTMLElement, opts: unknown): { seek(t: number): Promise<unknown> } } };
      const player = global.AsciinemaPlayer.create({ url: `/api/recordings/${recording}/cast` }, host, { preload: true, fit: false });
      await player.seek(at);
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const text = (host.querySelector('.ap-term-text') as HTMLElement | null)?.innerText ?? '';
      return text.split('\n').map((line) => line.replace(/\u00a0/g, ' ').trimEnd());
    },
    { recording: id, at: seconds },
  );
}

function trimmed(lines: string[]): string[] {
  const out = [...lines];
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

test('a long recording plays from its seek index, seeks to 90 % showing the right screen, and search hits seek into it', async () => {
  const { page } = ui;
  const item = page.locator(`.recordings-section [role="option"][data-id="${id}"]`);
  await item.waitFor({ state: 'visible', timeout: 10_000 });

  // Start: the replay uses the index, and the first frames are there at once.
  const opened = Date.now();
  await item.click();
  await page.waitForSelector('.replay-view[data-state="ready"][data-source="segments"]', { timeout: 15_000 });
  await eventually(async () => (await playerScreen(page)).some((l) => l.startsWith('frame 00000')), 10_000, async () => `no first frame:\n${(await playerScreen(page)).join('\n')}`);
  const firstFrame = Date.now() - opened;
  assert.ok(firstFrame < 5000, `first frame after ${firstFrame} ms`);
  const loaded = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
  assert.ok(!loaded.some((name) => name.endsWith(`/api/recordings/${id}/cast`)), `the cast was not fetched whole: ${loaded.join(', ')}`);
  assert.ok(loaded.some((name) => name.includes(`/api/recordings/${id}/segments/0`)), 'the first segment was');

  // The timeline is drawn from the index's activity.
  const painted = await page.evaluate(() => {
    const canvas = document.querySelector('.timeline-canvas') as HTMLCanvasElement | null;
    const pixels = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
    let n = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) n++;
    return n;
  });
  assert.ok(painted > 50, `the timeline has ${painted} painted pixels`);

  // Pause, then the player's own shortcut for 90 %.
  await page.focus('.replay-view .ap-wrapper');
  await page.keyboard.press(' ');
  const duration = Number(await page.getAttribute('.replay-view', 'data-duration'));
  assert.ok(duration > 60, `duration ${duration}`);
  const seeked = Date.now();
  await page.keyboard.press('9');
  const target = (90 / 100) * (duration * 1000); // how the player computes "90%", in ms
  await eventually(async () => Math.abs((await replayTime(page)) * 1000 - target) < 2, 10_000, async () => `after 9 the time is ${await replayTime(page)} s of ${duration} s`);
  await eventually(async () => !(await playerScreen(page)).some((l) => l.startsWith('frame 00000')), 10_000, () => 'the screen still shows the start');
  const seekMs = Date.now() - seeked;
  await screenshot(page, 'replay-long-90.png');

  const reference = trimmed(await wholeFileScreen(target / 1000));
  assert.ok(reference.some((l) => /frame \d{7}/.test(l)), `the reference screen:\n${reference.join('\n')}`);
  await eventually(
    async () => JSON.stringify(trimmed(await playerScreen(page))) === JSON.stringify(reference),
    5000,
    async () => `at 90 % the console shows:\n${(await playerScreen(page)).join('\n')}\nasciinema-player loading the whole cast shows:\n${reference.join('\n')}`,
  );
  process.stderr.write(`# long recording: first frame ${firstFrame} ms, seek to 90 % ${seekMs} ms (from the test runner, including polling)\n`);

  // Search: the hit seeks into the recording, to the screen that printed the word.
  await page.fill('.search-input', NEEDLE);
  const found = page.locator(`.recordings-section [role="option"][data-id="${id}"]`);
  await eventually(async () => /match/.test((await found.textContent().catch(() => '')) ?? ''), 60_000, async () => `the search for ${NEEDLE} did not list the recording with a match`);
  await found.click();
  await page.waitForSelector('.replay-view[data-state="ready"][data-source="segments"] .hit-list .hit', { timeout: 15_000 });
  const hitTime = Number(await page.getAttribute('.hit-list .hit', 'data-time'));
  await page.click('.hit-list .hit');
  await eventually(async () => Math.abs((await replayTime(page)) - hitTime) < 0.01, 10_000, async () => `after the hit the player is at ${await replayTime(page)} s, the hit at ${hitTime} s`);
  await eventually(async () => (await playerScreen(page)).some((l) => l.trim() === NEEDLE), 10_000, async () => `the screen at the hit lacks ${NEEDLE}:\n${(await playerScreen(page)).join('\n')}`);

  const effects = await ui.effects();
  assert.deepEqual(effects.cspViolations, [], 'CSP violations');
  assert.deepEqual(ui.problems, [], 'page errors');
});
