import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ScreenText, MAX_INDEX_LINE_CHARS, type ScreenLine } from '../../src/store/screen-text';

type Ev = [number, string, string];

async function render(events: Ev[], options: { mode?: 'index' | 'transcript'; cols?: number; rows?: number; tty?: boolean } = {}) {
  const lines: ScreenLine[] = [];
  const screen = new ScreenText({
    cols: options.cols ?? 40,
    rows: options.rows ?? 5,
    convertEol: options.tty === false,
    mode: options.mode ?? 'index',
    onLines: (batch) => lines.push(...batch),
  });
  for (const [time, code, data] of events) screen.event({ time, code, data });
  await screen.end();
  return { lines, texts: lines.map((l) => l.text), lost: screen.lostLines };
}

describe('ScreenText: what was on screen, with times', () => {
  test('typed commands and their output become lines stamped with the event that completed them', async () => {
    const { lines } = await render([
      [0.1, 'o', '$ '],
      [1.0, 'o', 'e'],
      [1.1, 'o', 'cho hi'],
      [2.0, 'o', '\r\n'],
      [2.5, 'o', 'hi\r\n$ '],
    ]);
    assert.deepEqual(lines, [
      { time: 2.0, text: '$ echo hi' },
      { time: 2.5, text: 'hi' },
      { time: 2.5, text: '$' },
    ]);
  });

  test('escape sequences are resolved, never part of the text', async () => {
    const { texts } = await render([[1, 'o', 'ls --color\r\n\x1b[01;34mdir\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\r\n\x1b]0;title\x07$ ']]);
    assert.deepEqual(texts, ['ls --color', 'dir  run.sh', '$']);
    assert.ok(texts.every((t) => !t.includes('\x1b') && !t.includes('01;34')));
  });

  test('a redrawn line (carriage return, backspace) appears once, as it finally looked', async () => {
    const { texts } = await render([
      [1, 'o', 'progress 10%'],
      [2, 'o', '\rprogress 50%'],
      [3, 'o', '\rprogress 100%\r\n'],
      [4, 'o', 'typo\b\b\b\bfixed\r\n'],
    ]);
    assert.deepEqual(texts, ['progress 100%', 'fixed']);
  });

  test('a wrapped line is one line; long lines are split into index-sized pieces', async () => {
    const long = 'a'.repeat(95);
    const { texts } = await render([[1, 'o', `${long}\r\nnext\r\n`]], { cols: 40 });
    assert.deepEqual(texts, [long, 'next']);
    const huge = 'b'.repeat(MAX_INDEX_LINE_CHARS + 10);
    const split = await render([[1, 'o', `${huge}\r\n`]], { cols: 500, rows: 10 });
    assert.deepEqual(split.texts, ['b'.repeat(MAX_INDEX_LINE_CHARS), 'b'.repeat(10)]);
  });

  test('`clear` (ED 2 + ED 3) does not lose the screen it erases', async () => {
    const { texts } = await render([
      [1, 'o', 'before clear\r\n$ clear\r\n'],
      [2, 'o', '\x1b[H\x1b[2J\x1b[3J$ '],
      [3, 'o', 'after\r\n'],
    ]);
    assert.deepEqual(texts, ['before clear', '$ clear', '$ after']);
  });

  test('full-screen apps: the alternate screen is read when left, in order with the lines around it', async () => {
    const events: Ev[] = [
      [1, 'o', '$ vim notes\r\n'],
      [2, 'o', '\x1b[?1049h\x1b[H\x1b[2Jfirst line of notes\r\n~\r\n~'],
      [3, 'o', '\x1b[1;1Hedited line of notes'],
      [4, 'o', '\x1b[?1049l$ '],
      [5, 'o', 'exit\r\n'],
    ];
    const transcript = await render(events, { mode: 'transcript' });
    assert.deepEqual(transcript.texts, ['$ vim notes', 'edited line of notes', '~', '~', '$ exit']);
    const index = await render(events);
    assert.ok(index.texts.includes('first line of notes'), 'sampled while on the alternate screen');
    assert.ok(index.texts.includes('edited line of notes'));
    assert.equal(index.texts.filter((t) => t === '~').length, 1, 'identical alternate-screen lines are indexed once');
  });

  test('a full reset (RIS) keeps what was on screen before it', async () => {
    const { texts } = await render([[1, 'o', 'one\r\ntwo\x1bcthree\r\n']]);
    assert.deepEqual(texts, ['one', 'two', 'three']);
  });

  test('non-TTY output (LF only) is read as lines, like the viewer saw it', async () => {
    const { texts } = await render([[1, 'o', 'alpha\nbeta\ngamma\n']], { tty: false });
    assert.deepEqual(texts, ['alpha', 'beta', 'gamma']);
  });

  test('transcript mode keeps blank lines; index mode drops them', async () => {
    const events: Ev[] = [[1, 'o', 'a\r\n\r\nb\r\n']];
    assert.deepEqual((await render(events, { mode: 'transcript' })).texts, ['a', '', 'b']);
    assert.deepEqual((await render(events)).texts, ['a', 'b']);
  });

  test('bulk output: every line, in order, none lost, times from their events', async () => {
    const events: Ev[] = [];
    let n = 0;
    for (let e = 0; e < 200; e++) {
      let data = '';
      for (let i = 0; i < 300; i++) data += `line ${n++}\r\n`;
      events.push([e, 'o', data]);
    }
    const { lines, lost } = await render(events, { cols: 80, rows: 24 });
    assert.equal(lost, 0);
    assert.equal(lines.length, n);
    lines.forEach((line, i) => assert.equal(line.text, `line ${i}`));
    assert.equal(lines[12345].time, Math.floor(12345 / 300));
  });

  test('resizes apply in order with the output around them', async () => {
    const { texts } = await render([
      [1, 'o', 'x'.repeat(30) + '\r\n'],
      [2, 'r', '20x5'],
      [3, 'o', 'y'.repeat(30) + '\r\n'],
    ]);
    assert.deepEqual(texts, ['x'.repeat(30), 'y'.repeat(30)]);
  });

  test('a character split into a surrogate pair at a chunk edge is kept whole', async () => {
    const data = 'z'.repeat(2047) + '😀' + '\r\n';
    const { texts } = await render([[1, 'o', data]], { cols: 500, rows: 10 });
    assert.equal(texts.join(''), 'z'.repeat(2047) + '😀');
  });
});
