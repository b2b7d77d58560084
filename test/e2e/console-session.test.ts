// A real kubectl session through `kubecast serve`, seen in the console in Chromium: it appears in
// Live within a second, its output streams into the live terminal, its end and exit code show, it
// is listed, replays to the same screen, is found by search (and a click on the hit seeks into the
// command's output), the activity timeline seeks, and an OSC 52 / title sequence in its output
// reaches neither the clipboard nor the window title.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  assertNothingLeft,
  eventually,
  kubectlFor,
  liveScreen,
  openConsole,
  playerScreen,
  replayTime,
  screenshot,
  startServe,
  tempDir,
  type Child,
  type ConsoleBrowser,
  type ServeUrls,
} from './console-harness';
import { shellQuote } from '../../src/util/shell';

let serve: Child<ServeUrls>;
let ui: ConsoleBrowser;
let dataDir: string;

before(async () => {
  dataDir = tempDir('session');
  serve = await startServe(dataDir);
  ui = await openConsole(serve.info.console);
});

after(async () => {
  await ui?.close();
  await serve?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await assertNothingLeft();
});

interface CastEvent {
  time: number;
  code: string;
  data: string;
}

function castEvents(text: string): CastEvent[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const events: CastEvent[] = [];
  for (const line of lines.slice(1)) {
    const value = JSON.parse(line) as [number, string, string];
    events.push({ time: value[0], code: value[1], data: String(value[2]) });
  }
  return events;
}

test('a kubectl session is followed live, listed, replayed, searched and never touches the clipboard', async () => {
  const { page } = ui;
  const { kubectl, sandbox } = kubectlFor(serve.info);
  const a = 100 + Math.floor(Math.random() * 800);
  const b = 100 + Math.floor(Math.random() * 800);
  // Typed as arithmetic so the word only exists in the command's output, not in what was typed.
  const needle = `kubecast-needle-${a * b}`;

  // Empty state first: the exact kubectl command to start with.
  await page.waitForSelector('.home-view .command-text');
  const shown = (await page.textContent('.home-view .command-text')) ?? '';
  assert.equal(shown.trim(), `kubectl --kubeconfig ${shellQuote(serve.info.kubeconfig)} exec -it shell -- sh`, 'the empty state teaches the exact kubectl command');

  const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
  try {
    term.type('echo ready-$((20+22))\r');
    await term.waitForText('ready-42');
    const sessionUp = Date.now();
    const liveItem = page.locator('.live-section [role="option"]').first();
    await liveItem.waitFor({ state: 'visible', timeout: 1000 });
    const appearedAfter = Date.now() - sessionUp;
    assert.ok(appearedAfter <= 1000, `the session appeared in Live after ${appearedAfter} ms`);

    await liveItem.click();
    await page.waitForSelector('.live-view[data-state="live"]', { timeout: 5000 });
    const sessionId = (await page.getAttribute('.live-view', 'data-session')) ?? '';
    assert.ok(sessionId !== '', 'the live view names its session');
    // Joining after the first command shows the screen so far at once (the snapshot).
    await eventually(async () => (await liveScreen(page)).some((l) => l.includes('ready-42')), 5000, async () => `live screen lacks ready-42:\n${(await liveScreen(page)).join('\n')}`);

    term.type(`echo kubecast-needle-$((${a}*${b}))\r`);
    await term.waitForText(needle);
    await eventually(async () => (await liveScreen(page)).some((l) => l.trim() === needle), 5000, async () => `live screen lacks ${needle}:\n${(await liveScreen(page)).join('\n')}`);

    // Host-affecting sequences in the output: clipboard (OSC 52) and window title (OSC 2).
    term.type("printf '\\033]52;c;a3ViZWNhc3QtcHduZWQ=\\007\\033]2;PWNED-TITLE\\007osc-done-%s\\n' $((3*3))\r");
    await term.waitForText('osc-done-9');
    await eventually(async () => (await liveScreen(page)).some((l) => l.includes('osc-done-9')), 5000, async () => `live screen lacks osc-done-9:\n${(await liveScreen(page)).join('\n')}`);
    await screenshot(page, 'live-view.png');

    term.type('exit\r');
    const { exitCode } = await term.waitForExit();
    assert.equal(exitCode, 0);
    await page.waitForSelector('.live-view[data-state="ended"]', { timeout: 10_000 });
    assert.match((await page.textContent('.end-banner')) ?? '', /exit 0/);
    const finalLive = (await liveScreen(page)).filter((l) => l.trim() !== '');

    // The recording is listed, no longer live.
    const listed = page.locator(`.recordings-section [role="option"][data-id="${sessionId}"]`);
    await listed.waitFor({ state: 'visible', timeout: 10_000 });
    await eventually(async () => !/LIVE/.test((await listed.textContent()) ?? ''), 10_000, () => 'the recording still shows as live');

    // Replay: the end of the recording shows the same screen the live view ended with.
    await listed.click();
    await page.waitForSelector('.replay-view[data-state="ready"]', { timeout: 15_000 });
    await page.focus('.timeline');
    await page.keyboard.press('End');
    await eventually(
      async () => {
        const screen = await playerScreen(page);
        return finalLive.every((line) => screen.includes(line));
      },
      10_000,
      async () => `replay end screen differs from the live one.\nlive:\n${finalLive.join('\n')}\nreplay:\n${(await playerScreen(page)).join('\n')}`,
    );

    // The activity timeline is drawn and seeks.
    const drawn = await page.evaluate(() => {
      const canvas = document.querySelector('.timeline-canvas') as HTMLCanvasElement | null;
      if (!canvas || canvas.width === 0) return 0;
      const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      let painted = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
      return painted;
    });
    assert.ok(drawn > 50, `the timeline canvas has ${drawn} painted pixels`);
    const duration = Number(await page.getAttribute('.replay-view', 'data-duration'));
    assert.ok(duration > 0, `recording duration ${duration}`);
    const box = (await page.locator('.timeline').boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.25, box.y + box.height / 2);
    await eventually(async () => Math.abs((await replayTime(page)) - duration * 0.25) < Math.max(0.6, duration * 0.06), 5000, async () => `after a click at 25 % the time is ${await replayTime(page)} of ${duration}`);
    const at25 = await replayTime(page);
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height / 2);
    await eventually(async () => (await replayTime(page)) > at25 + duration * 0.3, 5000, async () => `after a click at 75 % the time is ${await replayTime(page)} (was ${at25})`);
    await screenshot(page, 'replay.png');

    // Search: the word is found, and its hit seeks into that command's output.
    await page.fill('.search-input', needle);
    const found = page.locator(`.recordings-section [role="option"][data-id="${sessionId}"]`);
    await eventually(async () => /match/.test((await found.textContent().catch(() => '')) ?? ''), 10_000, async () => `the search for ${needle} did not list the recording with a match`);
    await screenshot(page, 'recordings-list.png');
    await found.click();
    await page.waitForSelector('.replay-view[data-state="ready"] .hit-list .hit', { timeout: 15_000 });

    const cast = await page.evaluate(async (id) => (await fetch(`/api/recordings/${id}/cast`)).text(), sessionId);
    const events = castEvents(cast).filter((e) => e.code === 'o');
    const typedAt = events.find((e) => e.data.includes(`$((${a}*${b}))`) || e.data.includes(`${b}))`))?.time ?? 0;
    const outputIndex = events.findIndex((e) => e.time >= typedAt && e.data.includes(needle));
    assert.ok(outputIndex >= 0, `the cast has no output event with ${needle}`);
    const outputStart = events[outputIndex].time;
    // The output lasts until the next prompt is printed.
    let outputEnd = outputStart;
    for (let i = outputIndex; i < events.length; i++) {
      const data = i === outputIndex ? events[i].data.slice(events[i].data.indexOf(needle)) : events[i].data;
      outputEnd = events[i].time;
      if (data.includes('$ ')) break;
    }

    await page.click('.hit-list .hit');
    await eventually(
      async () => {
        const t = await replayTime(page);
        return t >= outputStart - 0.01 && t <= outputEnd + 0.05;
      },
      5000,
      async () => `after the hit the player is at ${await replayTime(page)} s; the output of the command runs ${outputStart}–${outputEnd} s`,
    );
    await eventually(async () => (await playerScreen(page)).some((l) => l.trim() === needle), 5000, async () => `the player screen at the hit lacks ${needle}:\n${(await playerScreen(page)).join('\n')}`);

    // Nothing of the OSC 52 / title sequences reached the host.
    const effects = await ui.effects();
    assert.equal(effects.clipboardWrites, 0, 'clipboard writes');
    assert.equal(effects.execCommandCopies, 0, 'execCommand copies');
    assert.deepEqual(effects.permissionQueries, [], 'permission queries');
    assert.ok(!effects.titles.some((t) => t.includes('PWNED')), `window titles: ${effects.titles.join(' | ')}`);
    assert.deepEqual(effects.cspViolations, [], 'CSP violations');
    assert.deepEqual(ui.problems, [], 'page errors');
  } finally {
    term.dispose();
    sandbox.cleanup();
  }

});
