// The seek index of long recordings: keyframes reproduce the screen (a keyframe plus the events
// after it renders exactly what the whole cast up to that point renders), segments carry every
// player event once and satisfy asciinema-player's segmented format, and the index is bounded,
// checked against its cast and never left half-written.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCast } from '../../src/cast';
import { buildSeekIndex, MAX_KEYFRAMES, SeekBuildAborted } from '../../src/store/seek-builder';
import { SeekIndexes } from '../../src/store/seek-indexes';
import { silentLogger } from '../../src/util/log';
import { loadSeekIndex, playerIndex, seekPathFor, writeSegment, type LoadedSeekIndex, type PlayerIndex } from '../../src/store/seek-index';
import { castText, type Ev } from '../helpers/recordings';
import { ReferenceTerminal, ttyEvents } from '../helpers/tty-content';

type PlayerEvent = [number, string, string];
interface Segment {
  snapshot: { cols: number; rows: number; init: string };
  events: PlayerEvent[];
}

function tempCast(name: string, text: string): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kubecast-seek-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The same session as asciicast v3: `term` header, event times as intervals. */
function v3Text(events: Ev[], cols: number, rows: number): string {
  let text = JSON.stringify({ version: 3, term: { cols, rows }, timestamp: 1_700_000_000 }) + '\n';
  let previous = 0;
  for (const [time, code, data] of events) {
    text += JSON.stringify([Math.round((time - previous) * 1e6) / 1e6, code, data]) + '\n';
    previous = time;
  }
  return text;
}

async function segments(index: LoadedSeekIndex, path: string): Promise<Segment[]> {
  const out: Segment[] = [];
  for (let n = 0; n < index.meta.keyframes.length; n++) {
    let text = '';
    await writeSegment(index, path, n, (piece) => {
      text += piece;
    });
    out.push(JSON.parse(text) as Segment);
  }
  return out;
}

/** What asciinema-player 3.18 checks when it loads a segmented recording (validateIndex, normalizeSegment). */
function assertPlayerAccepts(index: PlayerIndex, segs: Segment[]): void {
  assert.equal(index.version, 1);
  assert.ok(Number.isFinite(index.duration) && index.duration >= 0);
  assert.ok(Number.isInteger(index.term.cols) && index.term.cols > 0 && Number.isInteger(index.term.rows) && index.term.rows > 0);
  assert.ok(index.segments.length > 0);
  assert.equal(index.segments[0].start, 0, 'first segment starts at 0');
  index.segments.forEach((s, i) => {
    if (i > 0) assert.ok(s.start > index.segments[i - 1].start && s.start < index.duration, `segment ${i} start ${s.start} in order and before ${index.duration}`);
  });
  let previousMarker = -1;
  for (const [time] of index.markers) {
    assert.ok(time >= previousMarker && time <= index.duration, 'markers in order, within the duration');
    previousMarker = time;
  }
  segs.forEach((seg, i) => {
    const start = index.segments[i].start;
    const end = index.segments[i + 1]?.start ?? index.duration;
    assert.ok(Number.isInteger(seg.snapshot.cols) && seg.snapshot.cols > 0 && Number.isInteger(seg.snapshot.rows) && seg.snapshot.rows > 0);
    assert.equal(typeof seg.snapshot.init, 'string');
    assert.ok(seg.events.length > 0, `segment ${i} has events`);
    let previous = -1;
    for (const [time] of seg.events) {
      assert.ok(time >= previous && time >= start && (i + 1 < segs.length ? time < end : time <= end), `segment ${i}: event at ${time} within [${start}, ${end})`);
      previous = time;
    }
    if (i > 0) assert.equal(seg.events[0][0] * 1000, start * 1000, `segment ${i} starts with its first event`);
  });
  const last = segs[segs.length - 1].events;
  assert.equal(last[last.length - 1][0] * 1000, index.duration * 1000, 'the last event is at the duration');
}

/**
 * For every keyframe, and at points inside its segment: a fresh terminal given the keyframe and
 * the segment's events up to that point shows exactly what a terminal fed the whole recording
 * from the start shows.
 */
async function assertKeyframesReproduce(all: PlayerEvent[], segs: Segment[], cols: number, rows: number): Promise<number> {
  const reference = { terminal: new ReferenceTerminal(cols, rows), position: 0 };
  let fed = 0;
  let checked = 0;
  try {
    for (const [k, seg] of segs.entries()) {
      const points = [...new Set([-1, 0, Math.floor(seg.events.length / 2), seg.events.length - 1])].filter((p) => p < seg.events.length);
      for (const point of points) {
        const upTo = fed + point + 1; // events of the whole recording before this point
        const replay = new ReferenceTerminal(seg.snapshot.cols, seg.snapshot.rows);
        try {
          await replay.write(seg.snapshot.init);
          await replay.applyAll(seg.events.slice(0, point + 1));
          await reference.terminal.applyAll(all.slice(reference.position, upTo));
          reference.position = upTo;
          assert.equal(
            replay.screen(),
            reference.terminal.screen(),
            `keyframe ${k} + ${point + 1} events differs from the recording rendered from the start (event ${upTo}):\nkeyframe:\n${replay.lines().join('\n')}\nfrom the start:\n${reference.terminal.lines().join('\n')}`,
          );
          assert.deepEqual([replay.term.cols, replay.term.rows], [reference.terminal.term.cols, reference.terminal.term.rows]);
          checked++;
        } finally {
          replay.dispose();
        }
      }
      fed += seg.events.length;
    }
  } finally {
    reference.terminal.dispose();
  }
  return checked;
}

describe('seek index', () => {
  for (const version of [2, 3] as const) {
    test(`asciicast v${version}: keyframes plus the following events reproduce the screen (colours, alternate screen, scroll regions, resizes)`, async () => {
      const events = ttyEvents({ seed: version, bytes: 160_000, cols: 90, rows: 24 });
      events.push([events[events.length - 1][0] + 1, 'm', 'end of test']);
      events.push([events[events.length - 1][0] + 0.5, 'x', '3']);
      const text = version === 2 ? castText({ events, cols: 90, rows: 24 }) : v3Text(events, 90, 24);
      const file = tempCast('a.cast', text);
      try {
        const meta = await buildSeekIndex(file.path, { keyframeBytes: 4096, share: 1 });
        assert.ok(meta, 'an index was built');
        assert.ok(meta.keyframes.length >= 20, `${meta.keyframes.length} keyframes`);
        const index = await loadSeekIndex(file.path);
        assert.ok(index, 'the index loads');
        assert.equal(index.meta.castVersion, version);
        assert.equal(index.meta.exitCode, 3);
        assert.deepEqual(index.meta.markers.map(([, label]) => label), ['end of test']);
        const segs = await segments(index, file.path);
        const player = playerIndex(index, (n) => `segments/${n}`);
        assertPlayerAccepts(player, segs);

        // Segments carry every output and resize of the cast exactly once, with the reader's times.
        const cast = parseCast(text);
        const all = cast.events.filter((e) => e.code === 'o' || e.code === 'r').map((e): PlayerEvent => [e.time, e.code, e.data]);
        assert.deepEqual(segs.flatMap((s) => s.events), all);
        assert.equal(player.duration, all[all.length - 1][0]);
        assert.equal(index.meta.outputChars, all.filter((e) => e[1] === 'o').reduce((n, e) => n + e[2].length, 0));
        const volume = index.meta.activity.volume.reduce((a, b) => a + b, 0);
        assert.equal(volume, index.meta.outputChars, 'the activity buckets hold all output');

        const checked = await assertKeyframesReproduce(all, segs, 90, 24);
        assert.ok(checked >= segs.length * 3, `${checked} points checked`);
        // The generated session does use what keyframes must carry.
        assert.ok(segs.some((s) => s.snapshot.init.includes('\x1b[?1049h')), 'a keyframe taken on the alternate screen');
        assert.ok(segs.some((s) => s.snapshot.init.includes('\x1b[?25l')), 'a keyframe with the cursor hidden');
        assert.ok(segs.some((s) => /\[\d+;\d+r/.test(s.snapshot.init)), 'a keyframe inside a scroll region (DECSTBM)');
        assert.ok(new Set(segs.map((s) => `${s.snapshot.cols}x${s.snapshot.rows}`)).size > 1, 'keyframes at several sizes');
      } finally {
        file.cleanup();
      }
    });
  }

  test('keyframes come every N bytes, or every M seconds when output is sparse; their number is capped', async () => {
    // Sparse: 10 KiB every 20 s for an hour.
    const sparse: Ev[] = [];
    for (let i = 0; i < 180; i++) sparse.push([i * 20 + 0.5, 'o', `burst ${i} ${'y'.repeat(10_000)}\r\n`]);
    const file = tempCast('sparse.cast', castText({ events: sparse }));
    try {
      const meta = await buildSeekIndex(file.path, { keyframeBytes: 1024 * 1024, keyframeSeconds: 120, share: 1 });
      assert.ok(meta);
      const gaps = meta.keyframes.slice(1).map((k, i) => k.t - meta.keyframes[i].t);
      assert.ok(meta.keyframes.length >= 10, `${meta.keyframes.length} time-based keyframes`);
      assert.ok(gaps.every((g) => g >= 120), `gaps ${gaps.join(', ')}`);
    } finally {
      file.cleanup();
    }

    const dense = ttyEvents({ seed: 9, bytes: 250_000, frames: false });
    const many = tempCast('dense.cast', castText({ events: dense }));
    try {
      const meta = await buildSeekIndex(many.path, { keyframeBytes: 1, share: 1 });
      assert.ok(meta);
      assert.ok(meta.keyframes.length <= MAX_KEYFRAMES && meta.keyframes.length > MAX_KEYFRAMES / 2, `${meta.keyframes.length} keyframes`);
    } finally {
      many.cleanup();
    }
  });

  test('an index is only used for the cast it was built from; no index for casts without output or of v1', async () => {
    const events = ttyEvents({ seed: 4, bytes: 40_000 });
    const file = tempCast('c.cast', castText({ events }));
    try {
      assert.ok(await buildSeekIndex(file.path, { keyframeBytes: 4096, share: 1 }));
      assert.ok(await loadSeekIndex(file.path));
      appendFileSync(file.path, JSON.stringify([999, 'o', 'more']) + '\n');
      assert.equal(await loadSeekIndex(file.path), undefined, 'a grown cast does not use the old index');
      writeFileSync(seekPathFor(file.path), 'garbage');
      assert.equal(await loadSeekIndex(file.path), undefined, 'a damaged index is ignored');
    } finally {
      file.cleanup();
    }
    const silent = tempCast('d.cast', castText({ events: [[1, 'x', '0']] }));
    try {
      assert.equal(await buildSeekIndex(silent.path, { share: 1 }), null);
      assert.deepEqual(readdirSync(join(silent.path, '..')), ['d.cast'], 'nothing left behind');
    } finally {
      silent.cleanup();
    }
    const v1 = tempCast('e.cast', JSON.stringify({ version: 1, width: 80, height: 24, stdout: [[0.5, 'hi']] }));
    try {
      assert.equal(await buildSeekIndex(v1.path, { share: 1 }), null);
    } finally {
      v1.cleanup();
    }
  });

  test('by default a recording of 8 MiB gets a seek index and one a byte shorter does not', () => {
    const indexes = new SeekIndexes({ logger: silentLogger, build: false, track: () => {} });
    assert.equal(indexes.threshold, 8 * 1024 * 1024);
    assert.equal(indexes.wants(8 * 1024 * 1024), true);
    assert.equal(indexes.wants(8 * 1024 * 1024 - 1), false);
    assert.equal(new SeekIndexes({ logger: silentLogger, build: false, track: () => {}, thresholdBytes: 0 }).wants(1e12), false, '0 turns indexing off');
  });

  test('building an index leaves the cast byte-identical (content and modification time)', async () => {
    const file = tempCast('g.cast', castText({ events: ttyEvents({ seed: 6, bytes: 200_000 }) }));
    try {
      const digest = () => createHash('sha256').update(readFileSync(file.path)).digest('hex');
      const before = { sha256: digest(), mtimeMs: statSync(file.path).mtimeMs };
      const meta = await buildSeekIndex(file.path, { keyframeBytes: 4096, share: 1 });
      assert.ok(meta && meta.keyframes.length > 1, 'an index with keyframes was built');
      assert.ok(existsSync(seekPathFor(file.path)));
      assert.deepEqual({ sha256: digest(), mtimeMs: statSync(file.path).mtimeMs }, before);
    } finally {
      file.cleanup();
    }
  });

  test('a build told to stop leaves nothing behind', async () => {
    const file = tempCast('f.cast', castText({ events: ttyEvents({ seed: 5, bytes: 300_000 }) }));
    try {
      let calls = 0;
      await assert.rejects(buildSeekIndex(file.path, { keyframeBytes: 4096, share: 1, shouldStop: () => ++calls > 3 }), SeekBuildAborted);
      assert.equal(existsSync(seekPathFor(file.path)), false);
      assert.deepEqual(readdirSync(join(file.path, '..')), ['f.cast']);
    } finally {
      file.cleanup();
    }
  });
});
