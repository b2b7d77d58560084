// The recordings library in the console, from a data folder seeded before `kubecast serve` starts
// (serve rebuilds its index from the cast files and the signed manifest): the list pages as it
// scrolls, each filter narrows it to exactly the right recordings, badges mark the incomplete and
// the unverified ones, exit statuses and relative dates show, the listbox is named and keyboard
// navigable with a visible focus ring, light and dark themes differ, the details pane and the
// .cast / .txt downloads of a recording, the replay's controls (Space, speed, idle-time limit,
// number-key seeks, search hits as markers on the player's bar), and opening local files leaves the
// library as it was.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { hashFile, Manifest } from '../../src/store/integrity';
import { consoleRequest } from '../helpers/console-client';
import { writeRecording, type Ev } from '../helpers/recordings';
import { eventually, FIXTURES, openConsole, replayTime, startServe, tearDown, tempDir, type Child, type ConsoleBrowser, type ServeUrls } from './console-harness';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const PAGE_SIZE = 50; // renderer/recordings-list.ts

interface Seeded {
  index: number;
  id: string;
  user: string;
  namespace: string;
  pod: string;
  ageMs: number;
  exitCode: number | null;
  /** 'complete' and 'cut' are sealed in the signed manifest (complete: true / false); 'none' is not. */
  seal: 'complete' | 'cut' | 'none';
}

const NOW = Date.now();
const seeded: Seeded[] = [];

/** How long before NOW recording `i` started: clear of every time-filter boundary. */
function ageOf(i: number): number {
  if (i < 3) return [5, 20, 40][i] * MINUTE; // last hour: 0–2
  if (i < 13) return (i - 2) * 2 * HOUR; // 2 h … 20 h: last 24 hours: 0–12
  if (i < 33) return 1.6 * DAY + (i - 13) * 0.25 * DAY; // 1.6 … 6.35 days: last 7 days: 0–32
  if (i < 50) return 8 * DAY + (i - 33) * 1.2 * DAY; // 8 … 27.2 days: last 30 days: 0–49
  return 40 * DAY + (i - 50) * 10 * DAY; // older
}

const COUNT = 58;
const ZOE = new Set([7, 23, 51]);
const AUDIT = new Set([2, 30, 44, 55]);
const LEDGER = new Set([11, 40]);
const CUT = new Set([1, 15, 52]);
const UNSIGNED = 3;

/** The one recording replayed and downloaded: oldest of all, and alone with its user, namespace and pod. */
const REPLAY_USER = 'replayer';
let replayId: string;
let replayText: string;

let serve: Child<ServeUrls>;
let ui: ConsoleBrowser;
let dataDir: string;

before(async () => {
  dataDir = tempDir('library');
  const manifest = await Manifest.open(dataDir, { create: true });
  for (let i = 0; i < COUNT; i++) {
    const s: Omit<Seeded, 'id'> = {
      index: i,
      user: ZOE.has(i) ? 'zoe' : ['alice', 'bob', 'carol'][i % 3],
      namespace: AUDIT.has(i) ? 'audit' : ['default', 'payments', 'kube-system', 'ci'][i % 4],
      pod: LEDGER.has(i) ? 'ledger-7' : ['web-0', 'db-0', 'shell', 'worker-1', 'cache-2'][i % 5],
      ageMs: ageOf(i),
      exitCode: i % 6 === 1 ? 1 : i % 10 === 4 ? null : 0,
      seal: i === UNSIGNED ? 'none' : CUT.has(i) ? 'cut' : 'complete',
    };
    const events: Ev[] = [
      [0.1, 'o', `$ echo hello-${i}\r\n`],
      [0.3, 'o', `seeded-output-${i}\r\n`],
    ];
    if (s.exitCode !== null) events.push([0.5, 'x', String(s.exitCode)]);
    const { id, path } = await writeRecording(dataDir, { user: s.user, namespace: s.namespace, pod: s.pod, startedAt: new Date(NOW - s.ageMs), argv: ['sh', '-c', `job-${i}`], events });
    if (s.seal !== 'none') await manifest.seal({ id, ...(await hashFile(path)), complete: s.seal === 'complete' });
    seeded.push({ ...s, id });
  }

  // For the replay: a clock line every 0.25 s up to 17.5 s (a word printed on three of them), then
  // 62.5 s of silence, 4 s more output, exit 3.
  const events: Ev[] = [];
  for (let t = 0.25; t <= 17.5; t += 0.25) events.push([t, 'o', `clock ${t.toFixed(2)}${[5, 10, 15].includes(t) ? ' zebrafish' : ''}\r\n`]);
  for (let t = 80; t <= 84; t += 0.25) events.push([t, 'o', `after the pause ${t.toFixed(2)}\r\n`]);
  events.push([84.1, 'x', '3']);
  const replay = await writeRecording(dataDir, {
    user: REPLAY_USER,
    namespace: 'replays',
    pod: 'player-0',
    container: 'clock',
    startedAt: new Date(NOW - 400 * DAY),
    argv: ['sh', '-c', 'clock'],
    events,
  });
  await manifest.seal({ id: replay.id, ...(await hashFile(replay.path)), complete: true });
  replayId = replay.id;
  replayText = replay.text;

  serve = await startServe(dataDir);
  ui = await openConsole(serve.info.console);
});

after(() => tearDown(ui, [serve], [dataDir]));

const OPTIONS = '.recordings-section [role="option"]';

function listedIds(page: Page): Promise<string[]> {
  return page.$$eval(OPTIONS, (items) => items.map((item) => (item as HTMLElement).dataset.id ?? ''));
}

function idsOf(pick: (s: Seeded) => boolean): string[] {
  return seeded.filter(pick).map((s) => s.id); // seeded in order of age: the list's order, newest first
}

async function listShows(page: Page, expected: string[], what: string): Promise<void> {
  const name = (id: string) => {
    const s = seeded.find((r) => r.id === id);
    return s ? `#${s.index}` : id === replayId ? 'replay' : id;
  };
  await eventually(
    async () => JSON.stringify(await listedIds(page)) === JSON.stringify(expected),
    10_000,
    async () => `${what}: the list shows [${(await listedIds(page)).map(name).join(' ')}], expected [${expected.map(name).join(' ')}]`,
  );
}

test('the list pages as it scrolls, with badges, exit statuses, relative dates and keyboard navigation', async () => {
  const { page } = ui;
  const all = [...seeded.map((s) => s.id), replayId];
  assert.ok(all.length > PAGE_SIZE);
  await page.locator(OPTIONS).nth(PAGE_SIZE - 1).waitFor({ timeout: 10_000 });
  await page.waitForTimeout(300);
  assert.deepEqual(await listedIds(page), all.slice(0, PAGE_SIZE), 'the first page: the 50 newest, newest first');

  // Scrolling the sidebar down brings the sentinel into view: the next page loads.
  const listbox = page.getByRole('listbox', { name: 'Recordings' });
  await listbox.hover();
  await eventually(
    async () => {
      await page.mouse.wheel(0, 4000);
      return (await page.locator(OPTIONS).count()) === all.length;
    },
    10_000,
    async () => `after scrolling the list has ${await page.locator(OPTIONS).count()} items, expected ${all.length}`,
  );
  assert.deepEqual(await listedIds(page), all, 'both pages, in order, each recording once');
  assert.match((await page.textContent('.recordings-section .end-of-list')) ?? '', new RegExp(`${all.length} recordings`));

  // Badges: incomplete (sealed as cut off, or never sealed) and unverified (never sealed), nothing else.
  const shown = await page.$$eval(OPTIONS, (items) =>
    items.map((item) => ({
      id: (item as HTMLElement).dataset.id ?? '',
      badges: Array.from(item.querySelectorAll('.badge')).map((b) => b.textContent ?? ''),
      exit: item.querySelector('.exit')?.textContent ?? '',
      when: item.querySelector('time.when')?.textContent ?? '',
    })),
  );
  for (const s of seeded) {
    const item = shown.find((x) => x.id === s.id)!;
    const badges = s.seal === 'none' ? ['incomplete', 'unverified'] : s.seal === 'cut' ? ['incomplete'] : [];
    assert.deepEqual(item.badges, badges, `badges of #${s.index}`);
    assert.equal(item.exit, s.exitCode === null ? 'no exit code' : `exit ${s.exitCode}`, `exit status of #${s.index}`);
    // Within a week a relative date ("… ago"); older ones a date.
    if (s.ageMs < 7 * DAY) assert.match(item.when, /ago|yesterday/, `date of #${s.index}: ${item.when}`);
    else assert.doesNotMatch(item.when, /ago/, `date of #${s.index}: ${item.when}`);
  }
  // The one started 20 minutes before the seeding reads as the page's own "20 min. ago" (or so, in its locale).
  const minutesAgo = await page.evaluate((started) => {
    const minutes = Math.round((started - Date.now()) / 60_000);
    return new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' }).format(minutes, 'minute');
  }, NOW - seeded[1].ageMs);
  assert.match(minutesAgo, /^2\d\b.*ago/);
  assert.equal(shown.find((x) => x.id === seeded[1].id)!.when, minutesAgo);
  assert.equal(shown.find((x) => x.id === seeded[2].id)!.exit, 'exit 0');

  // Both lists are listboxes with accessible names.
  assert.equal(await listbox.count(), 1);
  assert.equal(await page.getByRole('listbox', { name: 'Live sessions' }).count(), 1);

  // Keyboard: ArrowDown from the search box enters the list, ArrowDown moves, End goes to the last.
  const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.id ?? document.activeElement?.className ?? '');
  await page.focus('.search-input');
  await page.keyboard.press('ArrowDown');
  assert.equal(await focused(), all[0], 'ArrowDown in the search box focuses the first recording');
  await page.keyboard.press('ArrowDown');
  assert.equal(await focused(), all[1], 'ArrowDown moves to the second');
  await page.keyboard.press('End');
  assert.equal(await focused(), all[all.length - 1], 'End moves to the last');
  await page.keyboard.press('Home');
  assert.equal(await focused(), all[0], 'Home moves to the first');
  // The focused option shows a focus ring.
  const ring = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement!);
    return { style: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor };
  });
  assert.notEqual(ring.style, 'none', `focus outline ${JSON.stringify(ring)}`);
  assert.ok(ring.width >= 1, `focus outline ${JSON.stringify(ring)}`);
  // Without focus the same option has none (the ring is the focus's, not the option's).
  await page.focus('.search-input');
  assert.equal(await page.$eval(OPTIONS, (item) => getComputedStyle(item).outlineStyle), 'none');
});

test('each filter narrows the list to exactly the matching recordings', async () => {
  const { page } = ui;
  await page.getByRole('button', { name: /Show filters/ }).click();
  const user = page.getByRole('textbox', { name: 'Filter by user' });
  const namespace = page.getByRole('textbox', { name: 'Filter by namespace' });
  const pod = page.getByRole('textbox', { name: 'Filter by pod' });
  const since = page.getByRole('combobox', { name: 'Time range' });

  await user.fill('zoe');
  await listShows(page, idsOf((s) => s.user === 'zoe'), 'user zoe');
  assert.equal((await listedIds(page)).length, ZOE.size);
  await user.fill('alice');
  await listShows(page, idsOf((s) => s.user === 'alice'), 'user alice');
  await user.fill('');

  await namespace.fill('audit');
  await listShows(page, idsOf((s) => s.namespace === 'audit'), 'namespace audit');
  assert.equal((await listedIds(page)).length, AUDIT.size);
  await namespace.fill('');

  await pod.fill('ledger-7');
  await listShows(page, idsOf((s) => s.pod === 'ledger-7'), 'pod ledger-7');
  assert.equal((await listedIds(page)).length, LEDGER.size);
  await pod.fill('');

  for (const [value, days] of [
    ['1h', 1 / 24],
    ['24h', 1],
    ['7d', 7],
    ['30d', 30],
  ] as const) {
    await since.selectOption(value);
    const expected = idsOf((s) => s.ageMs < days * DAY);
    await listShows(page, expected, `time range ${value}`);
  }
  assert.equal((await listedIds(page)).length, 50);

  // Filters combine: bob within the last 24 hours.
  await since.selectOption('24h');
  await user.fill('bob');
  await listShows(page, idsOf((s) => s.user === 'bob' && s.ageMs < DAY), 'user bob, last 24 hours');

  await page.getByRole('button', { name: 'Clear filters' }).click();
  await eventually(async () => (await page.locator(OPTIONS).count()) >= PAGE_SIZE, 10_000, () => 'clearing the filters did not bring the list back');
  await page.getByRole('button', { name: /Show filters/ }).click();
});

/** Opens the replay afresh (from home, so the player starts at 0 even if it was open). */
async function openReplay(page: Page): Promise<void> {
  await page.evaluate(() => {
    location.hash = '#/';
  });
  await page.waitForSelector('.home-view');
  await page.evaluate((id) => {
    location.hash = `#/recordings/${id}`;
  }, replayId);
  await page.waitForSelector(`.replay-view[data-state="ready"]`, { timeout: 10_000 });
  assert.equal((await page.textContent('#replay-title'))?.trim(), 'sh -c clock');
}

test('a library recording: details, and .cast / .txt downloads', async () => {
  const { page } = ui;
  await openReplay(page);

  // Details.
  const details = async (label: string) => page.locator('.details-grid dt', { hasText: new RegExp(`^${label}$`) }).locator('xpath=following-sibling::dd[1]').textContent();
  assert.equal(await details('Protocol'), 'websocket');
  assert.equal(await details('kubectl version'), 'v1.34.1');
  assert.equal(await details('Exit code'), 'exit 3');
  assert.match((await details('Integrity')) ?? '', /^intact/);
  assert.equal(await details('User'), REPLAY_USER);
  assert.equal(await details('Pod'), 'player-0');
  assert.equal(await details('Container'), 'clock');
  assert.equal(await details('Complete'), 'yes');

  // Downloads: the .cast is the file the API serves, the .txt the rendered transcript.
  const [castDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the recording (.cast)' }).click()]);
  assert.ok(castDownload.suggestedFilename() === `kubecast-${replayId}.cast`, castDownload.suggestedFilename());
  const cast = readFileSync((await castDownload.path())!, 'utf8');
  const served = await consoleRequest(serve.info.console, `/api/recordings/${replayId}/cast`);
  assert.equal(served.status, 200);
  assert.equal(cast, served.body, 'the downloaded .cast equals GET /api/recordings/ID/cast');
  assert.equal(cast, replayText, 'and the file on disk');
  const [textDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the transcript (.txt)' }).click()]);
  assert.ok(textDownload.suggestedFilename() === `kubecast-${replayId}.txt`, textDownload.suggestedFilename());
  const transcript = readFileSync((await textDownload.path())!, 'utf8');
  for (const line of ['clock 0.25', 'clock 10.00 zebrafish', 'after the pause 84.00']) assert.ok(transcript.includes(line), `the transcript lacks ${line}`);
  assert.doesNotMatch(transcript, /\[\d/, 'the transcript is text, not cast lines');
});

/** Recording seconds the replay advances per wall-clock second, measured over `ms`. */
async function rate(page: Page, ms: number): Promise<number> {
  const wall = Date.now();
  const start = await replayTime(page);
  await page.waitForTimeout(ms);
  const end = await replayTime(page);
  return (end - start) / ((Date.now() - wall) / 1000);
}

/** Focuses asciinema-player (a rebuild replaces it) and presses a key there, as a person would after a click. */
async function playerKey(page: Page, key: string): Promise<void> {
  await page.focus('.replay-view .ap-wrapper');
  await page.keyboard.press(key);
}

test('replay controls: Space pauses and resumes, 8× beats 1×, the idle limit skips a pause, 5 seeks to 50 %, search hits mark the bar', async () => {
  const { page } = ui;
  await openReplay(page);
  const duration = Number(await page.getAttribute('.replay-view', 'data-duration'));
  assert.ok(Math.abs(duration - 84.1) < 0.01, `duration ${duration}`);
  // It plays on its own.
  await eventually(async () => (await replayTime(page)) > 0.3, 5000, async () => `the replay did not start: ${await replayTime(page)}`);

  // Space on the focused player stops the clock, and starts it again.
  await playerKey(page, ' ');
  await page.waitForTimeout(150);
  const paused = await replayTime(page);
  await page.waitForTimeout(600);
  assert.ok(Math.abs((await replayTime(page)) - paused) < 0.01, `paused at ${paused}, now ${await replayTime(page)}`);
  await playerKey(page, ' ');
  await eventually(async () => (await replayTime(page)) > paused + 0.3, 3000, async () => `Space did not resume: ${paused} → ${await replayTime(page)}`);

  // Speed: recording seconds per second of wall time, at 1× and at 8×.
  const speed = page.getByRole('combobox', { name: 'Playback speed' });
  const normal = await rate(page, 700);
  assert.ok(normal > 0.6 && normal < 1.5, `at 1× the replay runs ${normal.toFixed(2)}× real time`);
  const before8 = await replayTime(page);
  await speed.selectOption('8');
  await eventually(async () => (await replayTime(page)) > before8 + 0.5, 3000, () => 'the replay stopped after the speed change');
  const fast = await rate(page, 700);
  assert.ok(fast > 5 && fast > 4 * normal, `at 8× the replay runs ${fast.toFixed(2)}× real time (1×: ${normal.toFixed(2)}×)`);
  await speed.selectOption('1');

  // 5 seeks to half way (the player's own shortcut), paused.
  await playerKey(page, ' ');
  await playerKey(page, '5');
  await eventually(async () => Math.abs((await replayTime(page)) - duration / 2) < 0.3, 5000, async () => `after 5 the time is ${await replayTime(page)} of ${duration}`);

  // Idle-time limit: from 16.8 s (2 → 20 %), the minute of silence after 17.5 s is crossed in about
  // half a second with "skip pauses over 0.5 s"; in real time it would take a minute.
  await playerKey(page, '2');
  await eventually(async () => Math.abs((await replayTime(page)) - duration / 5) < 0.3, 5000, async () => `after 2 the time is ${await replayTime(page)}`);
  await page.getByRole('combobox', { name: 'Idle time limit' }).selectOption('0.5');
  await eventually(async () => Math.abs((await replayTime(page)) - duration / 5) < 0.3, 5000, async () => `the idle limit change moved the time to ${await replayTime(page)}`);
  const played = Date.now();
  await playerKey(page, ' ');
  await eventually(async () => (await replayTime(page)) > 80.5, 4000, async () => `with pauses over 0.5 s skipped the replay is at ${await replayTime(page)} s after ${Date.now() - played} ms`);
  assert.ok(Date.now() - played < 4000);

  // Search hits: listed beside the player and drawn as markers on its bar, one per hit.
  assert.equal(await page.locator('.replay-view .ap-marker-container').count(), 0, 'no markers before a search');
  await eventually(
    async () => ((await consoleRequest(serve.info.console, '/api/recordings?q=zebrafish')).json<{ items: Array<{ id: string; hits?: unknown[] }> }>().items[0]?.hits?.length ?? 0) > 0,
    20_000,
    () => 'the seeded recordings were never indexed for search',
  );
  const { items } = (await consoleRequest(serve.info.console, '/api/recordings?q=zebrafish')).json<{ items: Array<{ id: string; hits: Array<{ time: number }> }> }>();
  assert.deepEqual(items.map((r) => r.id), [replayId]);
  const hits = items[0].hits;
  assert.deepEqual(hits.map((hit) => hit.time), [5, 10, 15], 'the word is on three lines of the clock');
  await page.fill('.search-input', 'zebrafish');
  await eventually(async () => (await page.locator('.replay-view .hit-list .hit').count()) === hits.length, 10_000, async () => `the hit list has ${await page.locator('.replay-view .hit-list .hit').count()} hits`);
  await eventually(
    async () => (await page.locator('.replay-view .ap-marker-container').count()) === hits.length,
    10_000,
    async () => `the player's bar has ${await page.locator('.replay-view .ap-marker-container').count()} markers for ${hits.length} hits`,
  );
  const lefts = await page.$$eval('.replay-view .ap-marker-container', (markers) => markers.map((m) => m.getBoundingClientRect().left));
  assert.equal(new Set(lefts.map(Math.round)).size, hits.length, `markers at ${lefts.join(', ')}`);
  assert.ok(lefts.every((x, i) => i === 0 || x > lefts[i - 1]), `markers in time order: ${lefts.join(', ')}`);
  await page.fill('.search-input', '');
});

test('opening local files leaves the library as it was', async () => {
  const { page } = ui;
  const list = async () => (await consoleRequest(serve.info.console, '/api/recordings?limit=200')).json<{ items: Array<{ id: string }> }>().items.map((r) => r.id).sort();
  const before = await list();
  assert.equal(before.length, COUNT + 1);
  for (const name of ['v1.cast', 'v2.cast', 'v3.cast']) {
    await page.setInputFiles('input[type="file"]', { name, mimeType: 'application/octet-stream', buffer: readFileSync(join(FIXTURES, name)) });
    await eventually(async () => (await page.textContent('#replay-title').catch(() => ''))?.trim() === name, 10_000, () => `${name} did not open`);
    await page.waitForSelector('.replay-view[data-state="ready"]', { timeout: 10_000 });
  }
  assert.deepEqual(await list(), before, 'GET /api/recordings lists the same recordings');
  assert.deepEqual(ui.problems, [], 'page errors');
});

test('light and dark themes follow the system', async () => {
  const { page } = ui;
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const luminance = (rgb: string) => {
    const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await background();
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await background();
  assert.notEqual(light, dark);
  assert.ok(luminance(light) > 180, `light background ${light}`);
  assert.ok(luminance(dark) < 80, `dark background ${dark}`);
});
