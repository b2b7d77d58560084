// Replay of a long recording (issue 7, item 6): a 100 MB cast (30 MB with --quick) placed in a
// data folder, indexed by `serve`'s library (its seek index is built in the background), then in
// Chromium: time to first frame after opening it in the console, and time for a seek to 90 % —
// against asciinema-player loading the same file whole (the baseline, measured in the same run,
// same browser, from a plain page that serves the file).
//
// The recording prints a frame counter in every event, so "the frame is shown" is a text check on
// the player's screen: the first event's counter for the first frame, the counter of the last event
// at or before 90 % of the duration for the seek. Times are taken inside the page
// (performance.now() around the action, requestAnimationFrame polling of the screen).
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CastWriter, type CastHeader } from '../src/cast';
import { startServe, type ServeHandle } from '../src/serve/serve';
import { recordingPath } from '../src/store/paths';
import type { Bench, BenchRow } from './harness';

const REPO = resolve(__dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ID = '00000000-0000-4000-8000-00000000beef';
const TARGET_MS = 300;
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Generated {
  path: string;
  bytes: number;
  /** Counter printed by the first event, and [time, counter] of every event (for the 90 % check). */
  first: string;
  events: Float64Array;
  counters: Uint32Array;
}

const label = (n: number) => `frame ${String(n).padStart(7, '0')}`;

/**
 * A long interactive-looking session: coloured log output (every event prints its counter), a
 * prompt redrawn now and then, a full-screen app on the alternate screen every few thousand
 * events, a resize every few hundred thousand. Streamed to the file, never held whole.
 */
async function generate(dataDir: string, bytes: number): Promise<Generated> {
  const rand = random(7);
  const startedAt = new Date(Date.UTC(2026, 5, 1, 9));
  const header: CastHeader = {
    version: 2,
    width: 120,
    height: 36,
    timestamp: startedAt.getTime() / 1000,
    command: 'sh',
    srcNode: '127.0.0.1',
    srcNodeID: '',
    srcNodeUser: 'bench',
    env: null,
    sshUser: '',
    localUser: '',
    connectionID: '',
    kubernetes: { PodName: 'long-runner', Namespace: 'bench', Container: 'main', SessionType: 'exec' },
    kubecast: { id: ID, user: 'bench', cluster: 'bench', protocol: 'websocket', tty: true, command: ['sh'], startedAt: startedAt.toISOString() },
  };
  const path = recordingPath(dataDir, ID, startedAt);
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const writer = new CastWriter(header);
  let written = 0;
  const times: number[] = [];
  const counters: number[] = [];
  const write = async (line: string) => {
    written += Buffer.byteLength(line);
    if (!out.write(line)) await once(out, 'drain');
  };
  await write(writer.header());
  let t = 0.01;
  let n = 0;
  let app = 0;
  while (written < bytes) {
    let text = '';
    if (app > 0) {
      // A full-screen app redrawing by position, its counter in the title row.
      text += `\x1b[H\x1b[7m ${label(n)} top \x1b[0m\x1b[K`;
      for (let row = 2; row < 30; row++) text += `\x1b[${row};1H\x1b[3${row % 8}m${WORDS[Math.floor(rand() * WORDS.length)]} ${Math.floor(rand() * 1e6)}\x1b[0m\x1b[K`;
      if (--app === 0) text += '\x1b[?1049l';
    } else if (n % 5000 === 4000) {
      text += '\x1b[?1049h\x1b[2J';
      app = 40;
    } else {
      const lines = 6 + Math.floor(rand() * 8);
      for (let i = 0; i < lines; i++) {
        const colour = i % 3 === 0 ? `\x1b[1;38;5;${Math.floor(rand() * 256)}m` : `\x1b[3${Math.floor(rand() * 8)}m`;
        const words = Array.from({ length: 4 + Math.floor(rand() * 8) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ');
        text += `${label(n)} ${colour}${words}\x1b[0m ${Math.floor(rand() * 1e9)}\r\n`;
      }
      if (n % 7 === 0) text += `\x1b[2K\r\x1b[32m$\x1b[0m tail -f /var/log/${WORDS[n % WORDS.length]}.log`;
    }
    times.push(t);
    counters.push(n);
    await write(writer.output(t, 'stdout', Buffer.from(text)));
    n++;
    t = Math.round((t + 0.02 + rand() * 0.06) * 1e6) / 1e6;
    if (n % 300_000 === 0) await write(writer.resize(t, 100 + (n % 40), 30 + (n % 8)));
  }
  out.end();
  await once(out, 'close');
  return { path, bytes: statSync(path).size, first: label(0), events: Float64Array.from(times), counters: Uint32Array.from(counters) };
}

/** The counter on screen after a seek to `percent` %: the player's own arithmetic (ms, events at or before). */
function expectedAt(gen: Generated, percent: number): string {
  const duration = gen.events[gen.events.length - 1];
  const target = (percent / 100) * (duration * 1000);
  let lo = 0;
  let hi = gen.events.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (gen.events[mid] * 1000 <= target) lo = mid;
    else hi = mid - 1;
  }
  return label(gen.counters[lo]);
}

// Page-side code is plain JavaScript in strings: the page has no tsx helpers, and bench/ is
// type-checked without the DOM.
const WAIT_FOR_TEXT = `(selector, text, timeoutMs) => new Promise((resolve, reject) => {
  const started = performance.now();
  const tick = () => {
    const el = document.querySelector(selector);
    if (el && el.innerText.includes(text)) return resolve(performance.now());
    if (performance.now() - started > timeoutMs) return reject(new Error('no "' + text + '" on screen after ' + timeoutMs + ' ms'));
    requestAnimationFrame(tick);
  };
  tick();
})`;

const CONSOLE_FIRST_FRAME = `async ({ id, text }) => {
  const waitFor = ${WAIT_FOR_TEXT};
  const item = document.querySelector('.recordings-section [role="option"][data-id="' + id + '"]');
  if (!item) throw new Error('the recording is not listed');
  const started = performance.now();
  item.click();
  const shown = await waitFor('.replay-view .ap-term-text', text, 120000);
  const view = document.querySelector('.replay-view');
  return { ms: shown - started, source: view ? view.dataset.source : null };
}`;

const CONSOLE_SEEK = `async ({ text }) => {
  const waitFor = ${WAIT_FOR_TEXT};
  const wrapper = document.querySelector('.replay-view .ap-wrapper');
  const key = (k) => wrapper.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }));
  key(' ');
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  key('9');
  return (await waitFor('.replay-view .ap-term-text', text, 120000)) - started;
}`;

const WHOLE_FIRST_FRAME = `async ({ text }) => {
  const waitFor = ${WAIT_FOR_TEXT};
  const started = performance.now();
  window.player = AsciinemaPlayer.create({ url: '/recording.cast' }, document.getElementById('host'), { preload: true, autoPlay: true, fit: 'width' });
  return (await waitFor('#host .ap-term-text', text, 300000)) - started;
}`;

const WHOLE_SEEK = `async ({ text }) => {
  const waitFor = ${WAIT_FOR_TEXT};
  await window.player.pause();
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  window.player.seek('90%');
  return (await waitFor('#host .ap-term-text', text, 300000)) - started;
}`;

function run<T>(page: Page, source: string, arg: unknown): Promise<T> {
  return page.evaluate(`(${source})(${JSON.stringify(arg)})`) as Promise<T>;
}

/** A plain page with asciinema-player and the cast, as a site embedding the player would serve them. */
async function baselineServer(castPath: string): Promise<{ server: Server; url: string }> {
  const bundle = join(REPO, 'node_modules', 'asciinema-player', 'dist', 'bundle');
  const page = '<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="/player.css"><div id="host" style="width: 1100px"></div><script src="/player.js"></script>';
  const server = createServer((req, res) => {
    const headers = { 'cache-control': 'no-store' };
    if (req.url === '/') res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end(page);
    else if (req.url === '/player.js') res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(readFileSync(join(bundle, 'asciinema-player.min.js')));
    else if (req.url === '/player.css') res.writeHead(200, { ...headers, 'content-type': 'text/css' }).end(readFileSync(join(bundle, 'asciinema-player.css')));
    else if (req.url === '/recording.cast') {
      res.writeHead(200, { ...headers, 'content-type': 'application/x-asciicast', 'content-length': statSync(castPath).size });
      createReadStream(castPath).pipe(res);
    } else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export const playerBench: Bench = async (ctx) => {
  const rendererDir = join(REPO, 'dist', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) throw new Error('dist/renderer is missing: run `npm run build` first');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: this benchmark drives Debian's chromium`);
  const size = (ctx.quick ? 30 : 100) * 1000 * 1000;
  const runs = ctx.quick ? 1 : 3;
  const dataDir = await mkdtemp(join(tmpdir(), 'kubecast-bench-player-'));
  let serve: ServeHandle | undefined;
  let browser: Browser | undefined;
  let baseline: Server | undefined;
  try {
    ctx.log(`generating a ${(size / 1e6).toFixed(0)} MB recording…`);
    const gen = await generate(dataDir, size);
    const at90 = expectedAt(gen, 90);
    ctx.log(`${(gen.bytes / 1e6).toFixed(1)} MB, ${gen.events.length} events, ${(gen.events[gen.events.length - 1] / 60).toFixed(0)} min; at 90 %: "${at90}"`);

    const started = performance.now();
    serve = await startServe({ dataDir, upstream: 'local', rendererDir, consoleListen: { host: '127.0.0.1', port: 0 }, retainDays: null });
    const library = serve.library;
    for (;;) {
      const state = await library.seekIndex(ID);
      if (state.state === 'ready') {
        ctx.log(`seek index: ${state.index.meta.keyframes.length} keyframes, ${(statSync(state.index.path).size / 1e6).toFixed(2)} MB`);
        break;
      }
      if (state.state === 'none') throw new Error(`no seek index: ${state.reason}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const buildSeconds = (performance.now() - started) / 1000;
    ctx.log(`seek index ready ${buildSeconds.toFixed(1)} s after serve started; waiting for search indexing to finish…`);
    await library.settled(); // nothing in the background while measuring

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 880 } });
    const page = await context.newPage();
    const consoleUrl = serve.urls.console;
    if (!consoleUrl) throw new Error('serve started no console');
    const consoleFirst: number[] = [];
    const consoleSeek: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto(consoleUrl); // the token URL signs in, then the page reloads without it
      await page.waitForSelector(`.recordings-section [role="option"][data-id="${ID}"]`, { timeout: 30_000 });
      const first = await run<{ ms: number; source: string | null }>(page, CONSOLE_FIRST_FRAME, { id: ID, text: gen.first });
      if (first.source !== 'segments') throw new Error(`the console did not play from the seek index (source: ${first.source})`);
      consoleFirst.push(first.ms);
      consoleSeek.push(await run<number>(page, CONSOLE_SEEK, { text: at90 }));
      ctx.log(`console run ${i + 1}: first frame ${first.ms.toFixed(0)} ms, seek to 90 % ${consoleSeek[i].toFixed(0)} ms`);
    }

    const plain = await baselineServer(gen.path);
    baseline = plain.server;
    const wholeFirst: number[] = [];
    const wholeSeek: number[] = [];
    for (let i = 0; i < runs; i++) {
      await page.goto(plain.url);
      await page.waitForFunction('typeof AsciinemaPlayer !== "undefined"');
      wholeFirst.push(await run<number>(page, WHOLE_FIRST_FRAME, { text: gen.first }));
      wholeSeek.push(await run<number>(page, WHOLE_SEEK, { text: at90 }));
      ctx.log(`whole-file run ${i + 1}: first frame ${wholeFirst[i].toFixed(0)} ms, seek to 90 % ${wholeSeek[i].toFixed(0)} ms`);
    }
    await page.goto('about:blank');

    const group = `replay of a ${(gen.bytes / 1e6).toFixed(0)} MB recording`;
    const row = (name: string, value: number, baselineName: string, base: number): BenchRow => ({
      group,
      name,
      value,
      unit: 'ms',
      baseline: { name: baselineName, value: base },
      ratio: value / base,
      target: `<= ${TARGET_MS}`,
      met: value <= TARGET_MS,
    });
    return [
      row('first frame, console (seek index)', median(consoleFirst), 'asciinema-player, whole file', median(wholeFirst)),
      row('seek to 90 %, console (seek index)', median(consoleSeek), 'asciinema-player, whole file', median(wholeSeek)),
      { group, name: 'seek index build (background, with search indexing)', value: gen.bytes / 1e6 / buildSeconds, unit: 'MB/s' },
    ];
  } finally {
    await browser?.close();
    baseline?.close();
    await serve?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
};
