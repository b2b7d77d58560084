// The parts of the live hub below the session: lazily decoded output, the event log, the screens.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog, MAX_OUTPUT_MESSAGE } from '../../src/live/event-log';
import { OutputEvent, outputLineTimeSpan, timeAt } from '../../src/live/output';
import { TerminalBudget, TerminalScreen } from '../../src/live/terminal-screen';
import { TextScreen } from '../../src/live/text-screen';
import type { ScreenSnapshot } from '../../src/live/screen';
import { castLine, newTerminal, reference, screenOf, sleep, write } from './live-fixtures';

function span(line: string): number | undefined {
  const buf = Buffer.from(line);
  const found = outputLineTimeSpan(buf, 0, buf.byteLength);
  return found && timeAt(buf, found);
}

function snapshotOf(screen: TerminalScreen | TextScreen, scrollback = true): Promise<ScreenSnapshot> {
  return new Promise((resolve) => screen.snapshot(resolve, scrollback));
}

async function shown(snapshot: ScreenSnapshot): Promise<string[]> {
  const term = newTerminal(snapshot.cols, snapshot.rows);
  await write(term, snapshot.data);
  return screenOf(term);
}

describe('output lines', () => {
  test('v2 output lines are recognised from their first bytes; anything else goes to the full parser', () => {
    assert.equal(span('[1.5,"o","x"]'), 1.5);
    assert.equal(span('  [ 1e-3 ,  "o" , "x"]'), 0.001);
    assert.equal(span('[0,"o",""]'), 0);
    assert.equal(span('[1,"r","80x24"]'), undefined);
    assert.equal(span('[1,"m","o"]'), undefined);
    assert.equal(span('["1","o","x"]'), undefined);
    assert.equal(span('{"version":2}'), undefined);
    assert.equal(span('[1,"o"'), 1, 'taken as output; decoding finds nothing in it');
    assert.equal(OutputEvent.fromLines(1, 1, Buffer.from('[1,"o"'), 0, 6).text(), '');
    assert.equal(span('[-1,"o","x"]'), undefined, 'a negative time is not used');
    assert.equal(span('[1-2,"o","x"]'), undefined);
    assert.equal(span(`[${'9'.repeat(40)},"o","x"]`), undefined);
  });

  test('a run of lines decodes to their texts in order; malformed lines contribute nothing', () => {
    const lines = Buffer.from(castLine(1, 'o', 'héllo ') + '[2,"o",42]\n' + '[2,"o","unterminated\n' + castLine(3, 'o', '日本\u2028\x1b[0m'));
    const event = OutputEvent.fromLines(1, 3, lines, 0, lines.byteLength - 1);
    assert.equal(event.size, lines.byteLength - 1);
    assert.equal(event.text(), 'héllo 日本\u2028\x1b[0m');
    assert.ok(event.text().length <= event.size);
  });

  test('a small run of a large buffer is copied, so the buffer is not kept alive by it', () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 0x20);
    const line = castLine(1, 'o', 'x');
    big.write(line, 100);
    const event = OutputEvent.fromLines(1, 1, big, 100, 100 + line.length - 1);
    assert.equal(event.text(), 'x');
  });
});

describe('event log', () => {
  test('consecutive outputs merge into one message up to the cap; other events stand alone', () => {
    const log = new EventLog(1024 * 1024);
    for (let i = 0; i < 3; i++) log.append(OutputEvent.fromText(log.next, i, `o${i} `));
    log.append({ type: 'marker', time: 3, label: 'm' });
    log.append(OutputEvent.fromText(log.next, 4, 'after'));
    const first = log.batchAfter(0);
    assert.deepEqual(first?.message, { type: 'output', time: 2, data: 'o0 o1 o2 ' });
    assert.equal(first?.lastSeq, 3);
    assert.equal(first?.json.toString(), JSON.stringify(first?.message));
    assert.equal(log.batchAfter(0), first, 'viewers at the same position share the encoding');
    assert.deepEqual(log.batchAfter(3)?.message, { type: 'marker', time: 3, label: 'm' });
    assert.deepEqual(log.batchAfter(4)?.message, { type: 'output', time: 4, data: 'after' });
    assert.equal(log.batchAfter(5), undefined);

    const big = new EventLog(16 * 1024 * 1024);
    const chunk = 'x'.repeat(40 * 1024);
    for (let i = 0; i < 10; i++) big.append(OutputEvent.fromText(big.next, i, chunk));
    let cursor = 0;
    let messages = 0;
    while (cursor < big.lastSeq) {
      const batch = big.batchAfter(cursor);
      assert.ok(batch?.message?.type === 'output' && batch.message.data.length <= MAX_OUTPUT_MESSAGE);
      cursor = batch.lastSeq;
      messages++;
    }
    assert.equal(messages, 4, '400 KiB in messages of at most 128 KiB');
  });

  test('old events are evicted by size; a viewer behind the log is no longer covered; an oversize event clears it', () => {
    const log = new EventLog(10_000);
    for (let i = 0; i < 100; i++) log.append(OutputEvent.fromText(log.next, i, 'y'.repeat(1000)));
    assert.ok(log.size <= 10_000);
    assert.equal(log.covers(log.lastSeq - 3), true);
    assert.equal(log.covers(1), false);
    assert.equal(log.batchAfter(1), undefined);
    assert.equal(log.sizeAfter(1), Infinity);
    assert.equal(log.sizeAfter(log.lastSeq), 0);
    assert.ok(log.sizeAfter(log.lastSeq - 2) >= 2000);
    const before = log.lastSeq;
    log.append(OutputEvent.fromText(log.next, 200, 'z'.repeat(50_000)));
    assert.equal(log.size, 0);
    assert.equal(log.covers(before), false, 'whoever had not seen it must resynchronise');
    assert.equal(log.covers(log.lastSeq), true);
  });
});

describe('terminal screen', () => {
  test('a flood is bounded: the backlog never passes its cap, and the screen is rebuilt from the tail', async () => {
    const screen = new TerminalScreen(80, 20, { backlogSize: 512 * 1024, tailChars: 64 * 1024 });
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(`line ${i} ${'-'.repeat(i % 60)}\r\n`);
    const text = lines.join('');
    let seq = 0;
    let peak = 0;
    for (let i = 0; i < text.length; i += 16 * 1024) {
      screen.output(OutputEvent.fromText(++seq, seq, text.slice(i, i + 16 * 1024)));
      peak = Math.max(peak, screen.stats().backlog);
    }
    assert.ok(peak <= 512 * 1024 + 16 * 1024 + 128, `backlog peaked at ${peak}`);
    assert.ok(screen.stats().rebuilds > 0);
    const snapshot = await snapshotOf(screen);
    let settled = snapshot;
    for (let waited = 0; settled.seq < seq && waited < 5000; waited += 20) {
      await sleep(20);
      settled = await snapshotOf(screen);
    }
    assert.equal(settled.seq, seq, 'caught up');
    assert.deepEqual(await shown(settled), screenOf(await reference(80, 20, [text])));
    assert.ok(snapshot.seq <= settled.seq);
    screen.dispose();
  });

  test('one event larger than the backlog is cut to its tail', async () => {
    const screen = new TerminalScreen(60, 10, { backlogSize: 256 * 1024, tailChars: 32 * 1024 });
    const lines: string[] = [];
    for (let i = 0; i < 40_000; i++) lines.push(`row ${i}\r\n`);
    const text = lines.join('');
    screen.output(OutputEvent.fromText(1, 1, text));
    assert.ok(screen.stats().backlog <= 33 * 1024, `backlog ${screen.stats().backlog}`);
    const snapshot = await snapshotOf(screen);
    assert.equal(snapshot.seq, 1);
    assert.deepEqual(await shown(snapshot), screenOf(await reference(60, 10, [text])));
    screen.dispose();
  });

  test('snapshots with and without scrollback; resizes land between the outputs around them', async () => {
    const screen = new TerminalScreen(40, 5, { budget: new TerminalBudget(1) });
    const out = Array.from({ length: 30 }, (_, i) => `l${i}\r\n`);
    screen.output(OutputEvent.fromText(1, 1, out.slice(0, 20).join('')));
    screen.resize(2, 2, 50, 8);
    screen.output(OutputEvent.fromText(3, 3, out.slice(20).join('')));
    const full = await snapshotOf(screen);
    const bare = await snapshotOf(screen, false);
    assert.equal(full.seq, 3);
    assert.deepEqual([full.cols, full.rows], [50, 8]);
    assert.ok(full.data.includes('l0') && !bare.data.includes('l0'), 'only the full one carries scrollback');
    const expected = screenOf(await reference(40, 5, [out.slice(0, 20).join(''), [50, 8], out.slice(20).join('')]));
    assert.deepEqual(await shown(full), expected);
    assert.deepEqual(await shown(bare), expected);
    screen.dispose();
  });
});

describe('text screen', () => {
  test('keeps exactly the last N bytes, also of thousands of one-character events', () => {
    const screen = new TextScreen(80, 24, 1000);
    let all = '';
    for (let i = 0; i < 20_000; i++) {
      const ch = i % 10 === 9 ? '\n' : i % 7 === 0 ? 'é' : String.fromCharCode(97 + (i % 26));
      all += ch;
      screen.output(OutputEvent.fromText(i + 1, i, ch));
    }
    const tail = screen.text();
    assert.ok(all.endsWith(tail));
    assert.ok(Buffer.byteLength(tail) <= 1000 && Buffer.byteLength(tail) >= 999);
  });

  test("a flood's screens (no scrollback) carry about a screenful, joins the whole tail", () => {
    const screen = new TextScreen(20, 5, 64 * 1024);
    let all = '';
    for (let i = 0; i < 10_000; i++) {
      const line = `line ${i}\n`;
      all += line;
      screen.output(OutputEvent.fromText(i + 1, i, line));
    }
    const got: ScreenSnapshot[] = [];
    screen.snapshot((s) => got.push(s), false);
    screen.snapshot((s) => got.push(s));
    const [flood, join] = got;
    assert.ok(all.endsWith(flood.data) && all.endsWith(join.data));
    assert.ok(flood.data.length <= 20 * 5 * 4 && flood.data.length >= 20 * 5 * 4 - 3, `${flood.data.length} chars`);
    assert.equal(join.data.length, 64 * 1024);
  });
});
