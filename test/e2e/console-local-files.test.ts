// Recordings opened from disk in the console (file input and drag and drop): asciicast v1, v2 and
// v3 play; a broken file or something that is not a cast gets a message naming the failing line
// and the window keeps working; a cast carrying OSC 52 and title sequences changes neither the
// clipboard nor the window title when played.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertNothingLeft,
  eventually,
  FIXTURES,
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

let serve: Child<ServeUrls>;
let ui: ConsoleBrowser;
let dataDir: string;

before(async () => {
  dataDir = tempDir('files');
  serve = await startServe(dataDir);
  ui = await openConsole(serve.info.console, { colorScheme: 'light' });
});

after(async () => {
  await ui?.close();
  await serve?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await assertNothingLeft();
});

const FILE_INPUT = 'input[type="file"]';

async function openFixture(name: string, contents?: string): Promise<void> {
  const buffer = Buffer.from(contents ?? readFileSync(join(FIXTURES, name), 'utf8'));
  await ui.page.setInputFiles(FILE_INPUT, { name, mimeType: 'application/octet-stream', buffer });
}

/** Seeks to the end with the timeline's End key and waits for `text` on the player's screen. */
async function playsTo(text: string): Promise<void> {
  const { page } = ui;
  await page.waitForSelector('.replay-view[data-state="ready"]', { timeout: 10_000 });
  await page.focus('.timeline');
  await page.keyboard.press('End');
  await eventually(async () => (await playerScreen(page)).some((l) => l.includes(text)), 10_000, async () => `the player never showed ${JSON.stringify(text)}:\n${(await playerScreen(page)).join('\n')}`);
}

for (const [file, lastWords, title] of [
  ['v1.cast', 'bye', 'v1.cast'],
  ['v2.cast', 'Bye!', 'v2.cast'],
  ['v3.cast', 'Bye!', 'v3.cast'],
] as const) {
  test(`${file} opens from the file input and plays`, async () => {
    const { page } = ui;
    await openFixture(file);
    await page.waitForSelector('.replay-view[data-state="ready"]', { timeout: 10_000 });
    assert.equal((await page.textContent('#replay-title'))?.trim(), title);
    // It plays on its own: the position moves.
    const start = await replayTime(page);
    await eventually(async () => (await replayTime(page)) > start + 0.2, 5000, async () => `the player did not advance from ${start} (now ${await replayTime(page)})`);
    await playsTo(lastWords);
    assert.match((await page.textContent('.details')) ?? '', new RegExp(`asciicast v${file[1]}`));
  });
}

test('a cut-short last line plays what came before and says so', async () => {
  await openFixture('truncated.cast');
  await playsTo('kept');
  assert.match((await ui.page.textContent('.notices')) ?? '', /cut short/);
});

test('a broken file gets a message naming the failing line, and the window keeps working', async () => {
  const { page } = ui;
  await openFixture('broken.cast');
  const alert = page.locator('[data-kind="file-error"]');
  await alert.waitFor({ state: 'visible', timeout: 5000 });
  const message = (await alert.textContent()) ?? '';
  assert.match(message, /broken\.cast/);
  assert.match(message, /line 3/i, message);

  await openFixture('notes.txt', 'these are my notes, not a recording\n');
  await eventually(async () => /notes\.txt/.test((await alert.textContent()) ?? ''), 5000, () => 'no message for notes.txt');
  assert.match((await alert.textContent()) ?? '', /line 1/i);

  await openFixture('empty.cast', '');
  await eventually(async () => /empty\.cast/.test((await alert.textContent()) ?? ''), 5000, () => 'no message for empty.cast');
  await screenshot(page, 'broken-file.png');

  // Still alive: a good file plays after the bad ones.
  await openFixture('v2.cast');
  await playsTo('Bye!');
  assert.deepEqual(ui.problems, [], 'page errors');
});

test('a file dropped on the window plays', async () => {
  const { page } = ui;
  const text = readFileSync(join(FIXTURES, 'v3.cast'), 'utf8');
  await page.evaluate((contents) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([contents], 'dropped.cast', { type: 'application/octet-stream' }));
    window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: transfer, bubbles: true }));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, text);
  await eventually(async () => (await page.textContent('#replay-title').catch(() => ''))?.trim() === 'dropped.cast', 5000, () => 'the dropped file did not open');
  await playsTo('Bye!');
});

test('OSC 52 and title sequences in a recording reach neither the clipboard nor the window title', async () => {
  const { page } = ui;
  const osc52 = '\u001b]52;c;' + Buffer.from('kubecast-pwned').toString('base64') + '\u0007';
  const cast = [
    JSON.stringify({ version: 2, width: 80, height: 24 }),
    JSON.stringify([0.1, 'o', '$ cat secret\r\n']),
    JSON.stringify([0.2, 'o', osc52]),
    JSON.stringify([0.3, 'o', '\u001b]0;PWNED-TITLE\u0007\u001b]2;PWNED-TITLE\u0007']),
    JSON.stringify([0.4, 'o', '\u001b]8;;https://example.invalid/\u0007click me\u001b]8;;\u0007\r\n']),
    JSON.stringify([0.5, 'o', 'osc-played\r\n']),
  ].join('\n');
  await openFixture('osc52.cast', cast + '\n');
  // Seeking to the end feeds every event through the player's terminal.
  await playsTo('osc-played');
  const effects = await ui.effects();
  assert.equal(effects.clipboardWrites, 0, 'clipboard writes');
  assert.equal(effects.execCommandCopies, 0, 'execCommand copies');
  assert.deepEqual(effects.permissionQueries, [], 'permission queries');
  assert.ok(!effects.titles.some((t) => t.includes('PWNED')), `window titles: ${effects.titles.join(' | ')}`);
  assert.ok(!(await page.title()).includes('PWNED'));
  assert.equal(await page.locator('.replay-view a[href*="example.invalid"]').count(), 0, 'a link from the recording became clickable');
  assert.deepEqual(effects.cspViolations, [], 'CSP violations');

  // The counter works: the page's own Copy button (a person's click) is seen as a clipboard write.
  await page.evaluate(() => {
    location.hash = '#/';
  });
  await page.getByRole('button', { name: 'Copy the kubectl command' }).first().click();
  await eventually(async () => (await ui.effects()).clipboardWrites === 1, 5000, () => 'the Copy button was not counted as a clipboard write');
});
