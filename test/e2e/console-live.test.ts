// A real kubectl session through `kubecast serve`, in the console's Live list and live view: its
// item names the user, pod/container and command, its duration ticks and its activity pulse follows
// the output; the live view carries a LIVE badge and is read-only (keys typed into it never reach
// the session); and an OSC 8 hyperlink printed in the session, when clicked, opens nothing.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { consoleRequest } from '../helpers/console-client';
import { eventually, kubectlFor, liveScreen, openConsole, startServe, tearDown, tempDir, type Child, type ConsoleBrowser, type ServeUrls } from './console-harness';

let serve: Child<ServeUrls>;
let ui: ConsoleBrowser;
let dataDir: string;

before(async () => {
  dataDir = tempDir('live');
  serve = await startServe(dataDir);
  ui = await openConsole(serve.info.console);
});

after(() => tearDown(ui, [serve], [dataDir]));

interface LiveSession {
  id: string;
  user: string;
  pod: string;
  container: string;
  command: string;
}

/** "m:ss" (or "h:mm:ss") as seconds. */
function seconds(clock: string): number {
  return clock.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}

test('a live session: its item, a ticking duration, the activity pulse, the LIVE badge, a read-only terminal, and an OSC 8 link that opens nothing', async () => {
  const { page, context } = ui;
  const { kubectl, sandbox } = kubectlFor(serve.info);

  // What the page sends on the live socket, and anything a link could open.
  const sent: string[] = [];
  let liveSockets = 0;
  page.on('websocket', (socket) => {
    if (!socket.url().includes('/api/live/')) return;
    liveSockets++;
    socket.on('framesent', (frame) => sent.push(String(frame.payload)));
  });
  const opened: string[] = [];
  context.on('page', (popup) => opened.push(`popup ${popup.url()}`));
  page.on('dialog', (dialog) => {
    opened.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  context.on('request', (request) => {
    if (request.url().includes('example.invalid')) opened.push(`request ${request.url()}`);
  });
  const navigations: string[] = [];
  page.on('framenavigated', (frame) => navigations.push(frame.url()));

  const term = kubectl.terminal(['exec', '-it', 'shell', '--', 'sh'], { cols: 100, rows: 30 });
  try {
    term.type('echo ready-$((20+22))\r');
    await term.waitForText('ready-42');

    // The item: who, where, what — as the API reports the session.
    const item = page.locator('.live-section [role="option"]');
    await item.first().waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await item.count(), 1);
    const { items } = (await consoleRequest(serve.info.console, '/api/live')).json<{ items: LiveSession[] }>();
    assert.equal(items.length, 1);
    const session = items[0];
    assert.equal(session.pod, 'shell');
    assert.match(session.command, /\bsh\b/);
    assert.ok(session.user !== '', 'the session has a user');
    const where = session.container && session.container !== session.pod ? `${session.pod}/${session.container}` : session.pod;
    assert.equal((await item.locator('.who').textContent())?.trim(), session.user);
    assert.ok(((await item.locator('.row2').textContent()) ?? '').startsWith(where), `row2: ${await item.locator('.row2').textContent()}, expected ${where}`);
    assert.equal((await item.locator('.row3').textContent())?.trim(), session.command);
    assert.equal(await item.getAttribute('data-id'), session.id);
    assert.equal(await page.getByRole('listbox', { name: 'Live sessions' }).getByRole('option').count(), 1);

    // The pulse is on right after output, and goes off when the session is quiet.
    const pulse = item.locator('.pulse');
    term.type('echo pulse-$((1+1))\r');
    await term.waitForText('pulse-2');
    await eventually(async () => (await pulse.getAttribute('class'))?.includes('active') ?? false, 2500, () => 'no activity pulse right after output');
    const ticking = item.locator('.ticking');
    const clock1 = (await ticking.textContent()) ?? '';
    const at1 = Date.now();
    assert.match(clock1, /^\d+:\d\d$/);
    await eventually(async () => !((await pulse.getAttribute('class')) ?? '').includes('active'), 6000, () => 'the pulse stayed on while the session was quiet');
    // The duration ticks (at least 1.2 s later).
    await page.waitForTimeout(Math.max(0, 1200 - (Date.now() - at1)));
    const clock2 = (await ticking.textContent()) ?? '';
    assert.ok(seconds(clock2) > seconds(clock1), `the duration did not tick: ${clock1} → ${clock2}`);
    term.type('echo again-$((2+3))\r');
    await term.waitForText('again-5');
    await eventually(async () => (await pulse.getAttribute('class'))?.includes('active') ?? false, 2500, () => 'no pulse after new output');

    // The live view: LIVE badge, following the output.
    await item.first().click();
    await page.waitForSelector('.live-view[data-state="live"]', { timeout: 5000 });
    assert.equal((await page.textContent('.live-view .view-header .badge-live'))?.trim(), 'LIVE');
    await eventually(async () => (await liveScreen(page)).some((l) => l.includes('again-5')), 5000, async () => `live screen lacks again-5:\n${(await liveScreen(page)).join('\n')}`);
    assert.equal(liveSockets, 1, 'the live view has its socket');

    // Read-only: keys typed into the live terminal go nowhere.
    await page.click('.live-view .terminal-host');
    await page.keyboard.type('echo typed-$((6*7))');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    const mark = term.mark();
    term.type('echo after-$((1+1))\r');
    await term.waitForText('after-2', { from: mark });
    await eventually(async () => (await liveScreen(page)).some((l) => l.includes('after-2')), 5000, async () => `live screen lacks after-2:\n${(await liveScreen(page)).join('\n')}`);
    assert.ok(!term.text.includes('typed-'), `the session received keys typed in the browser:\n${term.text}`);
    assert.ok(!(await liveScreen(page)).some((l) => l.includes('typed-')), 'the typed text shows in the live view');
    assert.deepEqual(sent, [], 'the page sent nothing on the live socket');

    // An OSC 8 hyperlink in the output: its text shows, and a click on it opens nothing.
    term.type("printf '\\033]8;;https://example.invalid/kubecast-osc8\\007osc8-link-%s\\033]8;;\\007\\n' $((6*7))\r");
    await term.waitForText('osc8-link-42');
    await eventually(async () => (await liveScreen(page)).some((l) => l.trim() === 'osc8-link-42'), 5000, async () => `live screen lacks the link text:\n${(await liveScreen(page)).join('\n')}`);
    const box = await page.evaluate(() => {
      for (const row of Array.from(document.querySelectorAll('.live-view .xterm-rows > div'))) {
        if ((row.textContent ?? '').replace(/\u00a0/g, ' ').trim() !== 'osc8-link-42') continue;
        const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        let started = false;
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
          const text = (node.textContent ?? '').replace(/\u00a0/g, ' ');
          const at = text.indexOf('osc8');
          if (!started && at >= 0) {
            range.setStart(node, at);
            started = true;
          }
          if (started) range.setEnd(node, text.trimEnd().length);
        }
        const rect = range.getBoundingClientRect();
        return { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
      }
      return null;
    });
    assert.ok(box && box.width > 20, `the link text's box: ${JSON.stringify(box)}`);
    const url = page.url();
    navigations.length = 0;
    const target = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await page.mouse.move(target.x - 5, target.y);
    await page.mouse.move(target.x, target.y, { steps: 3 });
    await page.waitForTimeout(200);
    await page.mouse.click(target.x, target.y);
    await page.keyboard.down('Control');
    await page.mouse.click(target.x, target.y);
    await page.keyboard.up('Control');
    await page.waitForTimeout(700);
    assert.deepEqual(opened, [], 'a click on the link opened something');
    assert.deepEqual(navigations, [], 'a click on the link navigated');
    assert.equal(page.url(), url);
    assert.equal(context.pages().length, 1);

    term.type('exit\r');
    assert.equal((await term.waitForExit()).exitCode, 0);
    await page.waitForSelector('.live-view[data-state="ended"]', { timeout: 10_000 });
    assert.deepEqual(sent, [], 'the page sent nothing on the live socket');
    assert.deepEqual(ui.problems, [], 'page errors');
  } finally {
    term.dispose();
    sandbox.cleanup();
  }
});
