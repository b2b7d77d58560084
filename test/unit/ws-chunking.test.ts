// Chunking invariance: however a byte stream is cut into socket reads, the parser yields the same
// frames, the reader the same channel events, and the frames' raw bytes are exactly the input.
// A fixed fast-check seed, so every run checks the same cases; FC_SEED=<n> tries (or replays) another.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Opcode, type WsFrame } from '../../src/protocol/ws/frame';
import { WsFrameParser } from '../../src/protocol/ws/parser';
import { ChannelReader, type ChannelEvent } from '../../src/protocol/ws/message';
import { encodeChannelMessage, encodeClose, encodeFrame, encodePing } from '../../src/protocol/ws/encoder';
import { WsTap } from '../../src/tap/ws-tap';
import { harness } from '../helpers/tap-harness';

const fcSeed = { seed: process.env.FC_SEED === undefined ? 20261202 : Number(process.env.FC_SEED) };

// ---------------------------------------------------------------------------------------------
// Deterministic bytes

function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

function randomBytes(length: number, next: () => number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return new Uint8Array(words.buffer, 0, length);
}

function maskKey(next: () => number): Uint8Array {
  return randomBytes(4, next).slice();
}

// ---------------------------------------------------------------------------------------------
// The model: a stream is a list of items; each becomes one or more frames.

interface ControlItem {
  kind: 'ping' | 'pong' | 'close';
  size: number;
  masked: boolean;
  seed: number;
}

interface MessageItem {
  kind: 'message';
  channel: number;
  /** Message size including the channel byte; 0 = an empty message (no channel at all). */
  size: number;
  masked: boolean;
  seed: number;
  /** Fragment boundaries (taken mod size + 1, sorted; duplicates give empty fragments). */
  cuts: number[];
  /** Control frames sent between fragments: [after fragment index (mod count), control]. */
  interleaved: [number, ControlItem][];
}

type Item = ControlItem | MessageItem;

interface ExpectedFrame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

const controlArb: fc.Arbitrary<ControlItem> = fc.record({
  kind: fc.constantFrom('ping' as const, 'pong' as const, 'close' as const),
  size: fc.integer({ min: 0, max: 125 }),
  masked: fc.boolean(),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
});

function messageArb(maxSize: number): fc.Arbitrary<MessageItem> {
  const size = fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 12 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: Math.min(400, maxSize) }), weight: 3 },
    { arbitrary: fc.integer({ min: Math.min(65530, maxSize), max: maxSize }), weight: maxSize > 400 ? 1 : 0 },
  );
  return fc.record({
    kind: fc.constant('message' as const),
    channel: fc.constantFrom(0, 1, 2, 3, 4, 255),
    size,
    masked: fc.boolean(),
    seed: fc.integer({ min: 1, max: 0x7fffffff }),
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    interleaved: fc.array(fc.tuple(fc.nat(), controlArb), { maxLength: 3 }),
  });
}

function streamArb(maxSize: number, maxItems: number): fc.Arbitrary<Item[]> {
  return fc.array(fc.oneof({ arbitrary: messageArb(maxSize), weight: 4 }, { arbitrary: controlArb, weight: 1 }), { minLength: 1, maxLength: maxItems });
}

function controlFrame(item: ControlItem): { bytes: Uint8Array; frame: ExpectedFrame } {
  const next = rng(item.seed);
  const key = item.masked ? maskKey(next) : undefined;
  if (item.kind === 'close') {
    const size = item.size < 2 ? 0 : item.size;
    const code = 1000 + (next() % 4000);
    const bytes = size === 0 ? encodeClose(undefined, '', { mask: key }) : encodeClose(code, 'r'.repeat(size - 2), { mask: key });
    const payload = size === 0 ? new Uint8Array(0) : Uint8Array.from([code >> 8, code & 0xff, ...Buffer.from('r'.repeat(size - 2))]);
    return { bytes, frame: { fin: true, opcode: Opcode.CLOSE, masked: item.masked, payload } };
  }
  const payload = randomBytes(item.size, next);
  const opcode = item.kind === 'ping' ? Opcode.PING : Opcode.PONG;
  return { bytes: encodeFrame({ opcode, payload, mask: key }), frame: { fin: true, opcode, masked: item.masked, payload } };
}

/** Expected channel events for a control frame (what the reader must say about it). */
function controlEvent(frame: ExpectedFrame): ChannelEvent {
  const event: ChannelEvent = { type: 'control', opcode: frame.opcode, payload: frame.payload };
  if (frame.opcode === Opcode.CLOSE && frame.payload.length >= 2) {
    event.closeCode = (frame.payload[0] << 8) | frame.payload[1];
    event.closeReason = Buffer.from(frame.payload.subarray(2)).toString('utf8');
  }
  return event;
}

interface Built {
  input: Uint8Array;
  frames: ExpectedFrame[];
  events: ChannelEvent[];
}

/** Encodes the items and derives, independently of the reader, the frames and events they must produce. */
function build(items: readonly Item[]): Built {
  const parts: Uint8Array[] = [];
  const frames: ExpectedFrame[] = [];
  const events: ChannelEvent[] = [];
  const addControl = (item: ControlItem) => {
    const { bytes, frame } = controlFrame(item);
    parts.push(bytes);
    frames.push(frame);
    events.push(controlEvent(frame));
  };

  for (const item of items) {
    if (item.kind !== 'message') {
      addControl(item);
      continue;
    }
    const next = rng(item.seed);
    const content = randomBytes(item.size, next);
    if (item.size > 0) content[0] = item.channel;
    const bounds = [...new Set([0, ...item.cuts.map((c) => c % (item.size + 1)), item.size])].sort((a, b) => a - b);
    // Duplicate cuts collapse above; add an explicit empty fragment when asked for by a repeated cut.
    if (item.cuts.length > 0 && item.cuts[0] % 3 === 0) bounds.splice(1, 0, bounds[0]);
    const pieces = bounds.slice(1).map((end, i) => content.subarray(bounds[i], end));
    const key = item.masked ? maskKey(next) : undefined;

    let channelSeen = false;
    pieces.forEach((piece, index) => {
      const fin = index === pieces.length - 1;
      const opcode = index === 0 ? Opcode.BINARY : Opcode.CONTINUATION;
      parts.push(encodeFrame({ fin, opcode, payload: piece, mask: key }));
      frames.push({ fin, opcode, masked: item.masked, payload: piece });
      // The channel byte is the first byte of the message, whichever fragment carries it.
      if (!channelSeen) {
        if (piece.length > 0) {
          channelSeen = true;
          events.push({ type: 'data', channel: item.channel, data: piece.subarray(1), first: true, last: fin });
        } else if (fin) {
          events.push({ type: 'empty-message' });
        }
      } else if (piece.length > 0 || fin) {
        events.push({ type: 'data', channel: item.channel, data: piece, first: false, last: fin });
      }
      if (!fin) {
        for (const [after, control] of item.interleaved) if (after % pieces.length === index) addControl(control);
      }
    });
  }
  return { input: Uint8Array.from(Buffer.concat(parts)), frames, events };
}

// ---------------------------------------------------------------------------------------------
// Running and comparing

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function frameKey(frame: WsFrame | ExpectedFrame): string {
  return `${frame.opcode}/${frame.fin}/${frame.masked}/${hexOf(frame.payload)}`;
}

function eventKey(event: ChannelEvent): string {
  switch (event.type) {
    case 'data':
      return `data/${event.channel}/${event.first}/${event.last}/${hexOf(event.data)}`;
    case 'control':
      return `control/${event.opcode}/${hexOf(event.payload)}/${event.closeCode}/${event.closeReason}`;
    case 'empty-message':
      return 'empty';
    default:
      return `${event.type}/${JSON.stringify(event)}`;
  }
}

function feed(input: Uint8Array, cuts: Iterable<number>): { frames: WsFrame[]; events: ChannelEvent[] } {
  const parser = new WsFrameParser();
  const reader = new ChannelReader();
  const frames: WsFrame[] = [];
  let previous = 0;
  for (const cut of [...cuts, input.length]) {
    parser.push(input.subarray(previous, cut), frames);
    previous = cut;
  }
  assert.equal(parser.buffered, 0);
  const events = frames.flatMap((frame) => reader.push(frame));
  const raw = Buffer.concat(frames.map((f) => f.raw));
  assert.ok(raw.equals(Buffer.from(input)), 'concatenated raw bytes are byte-identical to the input');
  return { frames, events };
}

/** Random cut points: each chunk 1..maxChunk bytes. */
function randomCuts(length: number, maxChunk: number, seed: number): number[] {
  const next = rng(seed);
  const cuts: number[] = [];
  for (let at = 1 + (next() % maxChunk); at < length; at += 1 + (next() % maxChunk)) cuts.push(at);
  return cuts;
}

function check(built: Built, result: { frames: WsFrame[]; events: ChannelEvent[] }, label: string): void {
  assert.deepEqual(result.frames.map(frameKey), built.frames.map(frameKey), `${label}: frames`);
  assert.deepEqual(result.events.map(eventKey), built.events.map(eventKey), `${label}: events`);
}

// ---------------------------------------------------------------------------------------------

describe('chunking invariance (fast-check)', () => {
  test('random streams (messages up to 70 000 bytes, fragments, pings/pongs/close between them) in random chunkings', () => {
    fc.assert(
      fc.property(streamArb(70000, 8), fc.integer({ min: 1, max: 0x7fffffff }), (items, chunkSeed) => {
        const built = build(items);
        check(built, feed(built.input, []), 'whole');
        for (const maxChunk of [1, 7, 200, 1460, 16384]) {
          if (maxChunk === 1 && built.input.length > 20000) continue; // byte-at-a-time only for moderate inputs
          check(built, feed(built.input, randomCuts(built.input.length, maxChunk, chunkSeed + maxChunk)), `chunks ≤${maxChunk}`);
        }
      }),
      { numRuns: 150, ...fcSeed },
    );
  });

  test('moderate streams split in two at every byte boundary', () => {
    fc.assert(
      fc.property(streamArb(400, 6), (items) => {
        const built = build(items);
        for (let cut = 0; cut <= built.input.length; cut++) check(built, feed(built.input, [cut]), `cut at ${cut}`);
      }),
      { numRuns: 60, ...fcSeed },
    );
  });

  test('arbitrary chunk size lists (fast-check shrinks the chunking too)', () => {
    fc.assert(
      fc.property(streamArb(3000, 5), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 200 }), (items, sizes) => {
        const built = build(items);
        const cuts: number[] = [];
        let at = 0;
        for (let i = 0; at < built.input.length; i++) {
          at += sizes[i % sizes.length];
          if (at < built.input.length) cuts.push(at);
        }
        check(built, feed(built.input, cuts), 'sized chunks');
      }),
      { numRuns: 150, ...fcSeed },
    );
  });
});

describe('bulk stdin passthrough (tailscale TestBulkStdinPassthrough)', () => {
  const STDIN_BYTES = 8 * 1024 * 1024;

  function bulkInput(frameSize: number, stdin?: Uint8Array): { input: Uint8Array; stdin: Uint8Array; pings: number } {
    const next = rng(frameSize);
    stdin ??= randomBytes(STDIN_BYTES, next);
    const parts: Uint8Array[] = [];
    const perFrame = frameSize - 1; // the channel byte fills the frame to frameSize
    let frames = 0;
    let pings = 0;
    for (let at = 0; at < stdin.length; at += perFrame) {
      parts.push(encodeChannelMessage(0, stdin.subarray(at, at + perFrame), { mask: maskKey(next) }));
      if (++frames % 100 === 0) {
        parts.push(encodePing(Uint8Array.of(frames & 0xff), { mask: maskKey(next) }));
        pings++;
      }
    }
    parts.push(encodeChannelMessage(255, Uint8Array.of(0), { mask: maskKey(next) }));
    parts.push(encodeClose(1000, '', { mask: maskKey(next) }));
    return { input: Uint8Array.from(Buffer.concat(parts)), stdin, pings };
  }

  for (const frameSize of [4096, 32768]) {
    const built = bulkInput(frameSize);
    for (const maxSegment of [1460, 16384]) {
      for (const seed of [1, 2, 3]) {
        test(`8 MiB stdin in ${frameSize}-byte frames, segments ≤${maxSegment}, seed ${seed}`, () => {
          const { input, stdin, pings } = built;
          const parser = new WsFrameParser({ direction: 'client-to-server' });
          const reader = new ChannelReader();
          const next = rng(seed * 7919 + maxSegment);
          let rawOffset = 0;
          let stdinOffset = 0;
          let seenPings = 0;
          let stdinClosed = false;
          let closeCode: number | undefined;
          let maxBuffered = 0;
          for (let at = 0; at < input.length; ) {
            const end = Math.min(input.length, at + 1 + (next() % maxSegment));
            for (const frame of parser.push(input.subarray(at, end))) {
              // Passthrough: each frame's raw bytes are the next bytes of the input.
              assert.ok(Buffer.from(frame.raw).equals(Buffer.from(input.subarray(rawOffset, rawOffset + frame.raw.length))));
              rawOffset += frame.raw.length;
              for (const event of reader.push(frame)) {
                if (event.type === 'data' && event.channel === 0) {
                  assert.ok(Buffer.from(event.data).equals(Buffer.from(stdin.subarray(stdinOffset, stdinOffset + event.data.length))), `stdin at ${stdinOffset}`);
                  stdinOffset += event.data.length;
                } else if (event.type === 'data' && event.channel === 255) {
                  assert.deepEqual([...event.data], [0]);
                  stdinClosed = true;
                } else if (event.type === 'control' && event.opcode === Opcode.PING) {
                  seenPings++;
                } else if (event.type === 'control' && event.opcode === Opcode.CLOSE) {
                  closeCode = event.closeCode;
                } else {
                  assert.fail(`unexpected event ${event.type}`);
                }
              }
            }
            maxBuffered = Math.max(maxBuffered, parser.buffered);
            at = end;
          }
          assert.equal(rawOffset, input.length);
          assert.equal(stdinOffset, stdin.length, 'the reassembled stdin equals the input');
          assert.equal(seenPings, pings);
          assert.ok(stdinClosed, 'saw [255, 0]');
          assert.equal(closeCode, 1000);
          assert.ok(maxBuffered < frameSize + 14);
        });
      }
    }
  }

  // TestBulkStdinPassthroughFile: the same with stdin read from a file, BULK_STDIN_FILE as in the
  // peer; without it a generated file, so the test always runs. Through WsTap (the peer's conn).
  const file = process.env.BULK_STDIN_FILE;
  test(`stdin from ${file ?? 'a generated 2 MiB file'} through WsTap in 32768-byte frames, segments ≤1460: forwarded byte for byte, recorded as input`, () => {
    const dir = file ? undefined : mkdtempSync(join(tmpdir(), 'kubecast-bulk-'));
    try {
      const path = file ?? join(dir!, 'stdin.bin');
      if (!file) writeFileSync(path, randomBytes(2 * 1024 * 1024, rng(0xb01c)));
      const { input, stdin } = bulkInput(32768, readFileSync(path));
      const h = harness((o) => new WsTap(o), { protocol: 'v5.channel.k8s.io', recordStdin: true });
      const next = rng(1460);
      for (let at = 0; at < input.length; ) {
        const end = Math.min(input.length, at + 1 + (next() % 1460));
        h.tap.fromClient(input.subarray(at, end));
        at = end;
      }
      assert.ok(h.serverBytes().equals(input), 'to the server: the input, unchanged');
      const recorded = Buffer.from(h.sink.events.map((e) => (e.type === 'input' ? e.data : '')).join(''), 'latin1');
      assert.ok(recorded.equals(stdin), 'recorded stdin is the file');
      assert.deepEqual(h.sink.events.filter((e) => e.type !== 'input'), [], 'no warning, no end');
      assert.equal(h.tap.ended, false);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});
