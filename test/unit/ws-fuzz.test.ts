// Fixed-seed fuzzing of the WebSocket parser and the channel reader: random bytes, mutated valid
// streams and hostile headers, fed whole and in random chunkings, in every direction and mode.
// Invariants: only WsProtocolError escapes; the outcome does not depend on the chunking; raw bytes
// are an exact prefix of the input; `buffered` stays below one maximal frame; the heap does not grow.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WsProtocolError, type WsErrorCode } from '../../src/protocol/errors';
import { Opcode, type WsFrame } from '../../src/protocol/ws/frame';
import { MAX_HEADER_LENGTH, WsFrameParser, type WsDirection } from '../../src/protocol/ws/parser';
import { ChannelReader, type ChannelEncoding, type ChannelEvent } from '../../src/protocol/ws/message';
import { encodeBase64ChannelMessage, encodeChannelMessage, encodeClose, encodeFrame, encodePing, encodePong } from '../../src/protocol/ws/encoder';

const MASTER_SEED = 0x6b756265; // "kube"
const CASES = 100_000;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** Extended lengths worth hitting: boundaries of each encoding, of the caps and of JS numbers. */
const INTERESTING_LENGTHS = [0, 1, 125, 126, 127, 1000, 1001, 65535, 65536, 70000, 70001, 2 ** 25, 2 ** 25 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63];

function hostileHeader(random: Random): Uint8Array {
  const b0 = random.chance(0.5) ? random.next() & 0xff : random.pick([0x80, 0x00, 0x81, 0x82, 0x88, 0x89, 0x8a, 0x83, 0x8b]) | (random.chance(0.1) ? 0x40 : 0);
  const maskBit = random.chance(0.5) ? 0x80 : 0;
  const length = random.pick(INTERESTING_LENGTHS);
  const bytes = [b0];
  const encoding = random.below(3);
  if (encoding === 0 && length < 126) bytes.push(maskBit | length);
  else if (encoding <= 1 && length < 65536) bytes.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    bytes.push(maskBit | 127);
    const high = Math.floor(length / 2 ** 32);
    const low = length % 2 ** 32;
    for (const word of [high, low]) bytes.push((word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
  }
  if (maskBit) bytes.push(...random.bytes(4));
  return Uint8Array.from([...bytes, ...random.bytes(random.below(40))]);
}

function validStream(random: Random, masked: boolean | 'mixed'): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = 1 + random.below(6);
  const maskFor = () => (masked === 'mixed' ? random.chance(0.5) : masked) ? random.bytes(4) : undefined;
  for (let i = 0; i < count; i++) {
    const kind = random.below(10);
    const size = random.chance(0.9) ? random.below(40) : random.below(400);
    if (kind <= 3) {
      parts.push(encodeChannelMessage(random.pick([0, 1, 2, 3, 4, 255]), random.bytes(size), { mask: maskFor(), fragmentSize: random.chance(0.3) ? 1 + random.below(8) : undefined }));
    } else if (kind === 4) {
      parts.push(encodeBase64ChannelMessage(random.below(5), random.bytes(size), { mask: maskFor(), fragmentSize: random.chance(0.3) ? 1 + random.below(8) : undefined }));
    } else if (kind === 5) {
      parts.push(encodePing(random.bytes(random.below(8)), { mask: maskFor() }));
    } else if (kind === 6) {
      parts.push(encodePong(random.bytes(random.below(8)), { mask: maskFor() }));
    } else if (kind === 7) {
      parts.push(random.chance(0.5) ? encodeClose(1000, 'bye', { mask: maskFor() }) : encodeClose(undefined, '', { mask: maskFor() }));
    } else if (kind === 8) {
      // Hand-made fragments, with the occasional empty one and a control frame in between.
      const key = maskFor();
      parts.push(encodeFrame({ fin: false, opcode: random.pick([Opcode.BINARY, Opcode.TEXT]), payload: random.bytes(random.below(4)), mask: key }));
      if (random.chance(0.5)) parts.push(encodePing(new Uint8Array(0), { mask: key }));
      parts.push(encodeFrame({ fin: random.chance(0.8), opcode: Opcode.CONTINUATION, payload: random.bytes(random.below(4)), mask: key }));
    } else {
      parts.push(encodeFrame({ opcode: random.pick([0x3, 0x7, 0xb, 0xf, Opcode.TEXT, Opcode.CONTINUATION]), payload: random.bytes(random.below(10)), mask: maskFor() }));
    }
  }
  return Uint8Array.from(Buffer.concat(parts));
}

function mutate(input: Uint8Array, random: Random): Uint8Array {
  let bytes = Array.from(input);
  const mutations = random.below(4);
  for (let m = 0; m < mutations; m++) {
    const at = bytes.length === 0 ? 0 : random.below(bytes.length);
    switch (random.below(7)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at] ^= 1 << random.below(8);
        break;
      case 1: // overwrite a byte
        if (bytes.length > 0) bytes[at] = random.next() & 0xff;
        break;
      case 2: // truncate
        bytes = bytes.slice(0, at);
        break;
      case 3: // insert random bytes
        bytes.splice(at, 0, ...random.bytes(1 + random.below(8)));
        break;
      case 4: // delete a slice
        bytes.splice(at, 1 + random.below(8));
        break;
      case 5: // duplicate a slice
        bytes.splice(at, 0, ...bytes.slice(at, at + 1 + random.below(16)));
        break;
      default: // splice in a hostile header
        bytes.splice(at, 0, ...hostileHeader(random));
    }
  }
  return Uint8Array.from(bytes);
}

/** An input and the direction that suits it (mutated valid streams mostly get theirs, so they get past the mask rule). */
function makeInput(random: Random): { input: Uint8Array; direction: WsDirection } {
  const anyDirection = random.pick(['client-to-server', 'server-to-client', 'any'] as const);
  const kind = random.below(10);
  if (kind < 3) return { input: random.bytes(random.below(300)), direction: anyDirection };
  if (kind < 4) return { input: hostileHeader(random), direction: anyDirection };
  const masking = random.pick([true, false, 'mixed'] as const);
  const suited = masking === 'mixed' ? 'any' : masking ? 'client-to-server' : 'server-to-client';
  return { input: mutate(validStream(random, masking), random), direction: random.chance(0.7) ? suited : anyDirection };
}

// ---------------------------------------------------------------------------------------------
// Running one case

interface Config {
  direction: WsDirection;
  encoding: ChannelEncoding;
  maxPayload: number | undefined;
  allowRsv: number;
}

interface Outcome {
  frames: string[];
  parserError: WsErrorCode | null;
  buffered: number;
  events: string[];
  readerError: WsErrorCode | null;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function eventKey(event: ChannelEvent): string {
  switch (event.type) {
    case 'data':
      return `d${event.channel}${event.first ? 'F' : ''}${event.last ? 'L' : ''}:${hexOf(event.data)}`;
    case 'text':
    case 'binary':
      return `${event.type}${event.first ? 'F' : ''}${event.last ? 'L' : ''}:${hexOf(event.data)}`;
    case 'control':
      return `c${event.opcode}:${hexOf(event.payload)}:${event.closeCode}:${event.closeReason}`;
    case 'reserved':
      return `r${event.opcode}${event.fin}:${hexOf(event.payload)}`;
    case 'empty-message':
      return 'empty';
  }
}

function protocolCode(error: unknown): WsErrorCode {
  if (!(error instanceof WsProtocolError)) throw error; // anything else is a bug: let it fail the test
  return error.code as WsErrorCode;
}

function runCase(input: Uint8Array, cuts: readonly number[], config: Config): Outcome {
  const parser = new WsFrameParser({ direction: config.direction, maxPayload: config.maxPayload, allowRsv: config.allowRsv });
  const limit = (config.maxPayload ?? 32 * 1024 * 1024) + MAX_HEADER_LENGTH;
  const frames: WsFrame[] = [];
  let parserError: WsErrorCode | null = null;
  let pushed = 0;
  let rawTotal = 0;
  let previous = 0;
  for (const cut of [...cuts, input.length]) {
    const chunk = input.subarray(previous, cut);
    previous = cut;
    const before = frames.length;
    try {
      parser.push(chunk, frames);
      pushed += chunk.length;
      for (let i = before; i < frames.length; i++) rawTotal += frames[i].raw.length;
      assert.equal(rawTotal + parser.buffered, pushed, 'every byte is either in a frame or buffered');
      assert.ok(parser.buffered < limit, `buffered ${parser.buffered} ≥ maxPayload + 14`);
    } catch (error) {
      parserError = protocolCode(error);
      break;
    }
  }
  // Raw bytes are an exact prefix of the input, in order.
  const raw = Buffer.concat(frames.map((f) => f.raw));
  assert.ok(raw.equals(Buffer.from(input.subarray(0, raw.length))), 'raw bytes are a prefix of the input');

  const reader = new ChannelReader({ encoding: config.encoding, maxMessageSize: config.maxPayload === undefined ? undefined : 2 * config.maxPayload });
  const events: string[] = [];
  let readerError: WsErrorCode | null = null;
  for (const frame of frames) {
    try {
      for (const event of reader.push(frame)) events.push(eventKey(event));
    } catch (error) {
      readerError = protocolCode(error);
      break;
    }
  }
  return {
    frames: frames.map((f) => `${f.fin ? 1 : 0}${f.rsv}${f.opcode.toString(16)}${f.masked ? 'm' : ''}:${hexOf(f.payload)}`),
    parserError,
    buffered: parserError === null ? parser.buffered : -1,
    events,
    readerError,
  };
}

function randomCuts(length: number, random: Random): number[] {
  const style = random.below(4);
  const max = style === 0 ? 1 : style === 1 ? 3 : style === 2 ? 16 : 128;
  const cuts: number[] = [];
  for (let at = 1 + random.below(max); at < length; at += 1 + random.below(max)) cuts.push(at);
  return cuts;
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

// ---------------------------------------------------------------------------------------------

describe('fuzz', () => {
  test(`${CASES} fixed-seed cases: only WsProtocolError, chunking-invariant outcome, bounded buffers and heap`, (t) => {
    const gc = exposeGc();
    const random = new Random(MASTER_SEED);
    const counts = { ok: 0, parserErrors: new Map<string, number>(), readerErrors: new Map<string, number>() };
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let n = 0; n < CASES; n++) {
      const { input, direction } = makeInput(random);
      const config: Config = {
        direction,
        encoding: random.chance(0.8) ? 'binary' : 'base64',
        maxPayload: random.pick([undefined, 0, 125, 1000, 70000]),
        allowRsv: random.chance(0.6) ? 0 : random.below(8), // lets random bytes past the RSV rule often
      };
      const cuts = randomCuts(input.length, random);
      let whole: Outcome;
      let chunked: Outcome;
      try {
        whole = runCase(input, [], config);
        chunked = runCase(input, cuts, config);
        assert.deepEqual(chunked, whole, 'the outcome does not depend on the chunking');
      } catch (error) {
        throw new Error(`case ${n}: input ${hexOf(input)}, config ${JSON.stringify(config)}, cuts ${JSON.stringify(cuts)}: ${String(error)}`, { cause: error });
      }
      if (whole.parserError !== null) counts.parserErrors.set(whole.parserError, (counts.parserErrors.get(whole.parserError) ?? 0) + 1);
      else if (whole.readerError !== null) counts.readerErrors.set(whole.readerError, (counts.readerErrors.get(whole.readerError) ?? 0) + 1);
      else counts.ok++;
    }
    const elapsed = performance.now() - started;
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    t.diagnostic(`${CASES} cases in ${Math.round(elapsed)} ms; heap growth ${Math.round(heapGrowth / 1024)} KiB`);
    t.diagnostic(`clean ${counts.ok}; parser errors ${JSON.stringify(Object.fromEntries(counts.parserErrors))}; reader errors ${JSON.stringify(Object.fromEntries(counts.readerErrors))}`);
    assert.ok(heapGrowth < 32 * 1024 * 1024, `heap grew by ${heapGrowth} bytes`);
    assert.ok(elapsed < 60_000, `${CASES} cases took ${Math.round(elapsed)} ms`);
    // The corpus must actually reach every error and plenty of clean streams.
    for (const code of ['WS_PAYLOAD_TOO_LARGE', 'WS_BAD_LENGTH', 'WS_BAD_CONTROL_FRAME', 'WS_BAD_CLOSE_FRAME', 'WS_RSV_BITS', 'WS_MASK']) {
      assert.ok((counts.parserErrors.get(code) ?? 0) > 0, `no case reached ${code}`);
    }
    for (const code of ['WS_UNEXPECTED_CONTINUATION', 'WS_EXPECTED_CONTINUATION']) {
      assert.ok((counts.readerErrors.get(code) ?? 0) > 0, `no case reached ${code}`);
    }
    assert.ok(counts.ok > CASES / 10);
  });

  test('a stalled 32 MiB frame: buffered tracks what arrived, stays below maxPayload + 14, heap stays proportional', () => {
    const parser = new WsFrameParser({ direction: 'server-to-client' });
    assert.deepEqual(parser.push(Uint8Array.from([0x82, 0x7f, 0, 0, 0, 0, 0x02, 0, 0, 0])), []);
    assert.equal(parser.buffered, 10);
    const piece = new Uint8Array(1000);
    for (let i = 0; i < 100; i++) parser.push(piece);
    assert.equal(parser.buffered, 10 + 100_000);
  });
});

describe('named hostile inputs', () => {
  function outcome(input: Uint8Array, config: Partial<Config> = {}): Outcome {
    return runCase(input, [], { direction: 'any', encoding: 'binary', maxPayload: undefined, allowRsv: 0, ...config });
  }

  test('64-bit length with the MSB set → WS_BAD_LENGTH (masked client frame and unmasked server frame)', () => {
    assert.equal(outcome(Uint8Array.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), { direction: 'client-to-server' }).parserError, 'WS_BAD_LENGTH');
    assert.equal(outcome(Uint8Array.from([0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), { direction: 'server-to-client' }).parserError, 'WS_BAD_LENGTH');
  });

  test('64-bit length just above the cap → WS_PAYLOAD_TOO_LARGE before any payload', () => {
    const above = 32 * 1024 * 1024 + 1;
    assert.equal(outcome(Uint8Array.from([0x82, 0x7f, 0, 0, 0, 0, above >>> 24, (above >>> 16) & 0xff, (above >>> 8) & 0xff, above & 0xff])).parserError, 'WS_PAYLOAD_TOO_LARGE');
    assert.equal(outcome(Uint8Array.from([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x03, 0xe9]), { maxPayload: 1000 }).parserError, 'WS_PAYLOAD_TOO_LARGE');
    assert.equal(outcome(Uint8Array.from([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]), { maxPayload: 1000 }).buffered, 10);
  });

  test('text frames → text events in binary mode, data in base64 mode', () => {
    const frame = Uint8Array.from([0x81, 0x05, ...Buffer.from('1QUJD')]);
    const binary = outcome(frame);
    assert.equal(binary.parserError, null);
    assert.deepEqual(binary.events, [`textFL:${Buffer.from('1QUJD').toString('hex')}`]);
    assert.deepEqual(outcome(frame, { encoding: 'base64' }).events, [`d1FL:${Buffer.from('ABC').toString('hex')}`]);
  });

  test('reserved opcodes 0x3 and 0xB → reported frames and reserved events', () => {
    const result = outcome(Uint8Array.from([0x83, 0x01, 0xaa, 0x8b, 0x00]));
    assert.equal(result.parserError, null);
    assert.equal(result.readerError, null);
    assert.deepEqual(result.events, ['r3true:aa', 'r11true:']);
  });

  test('TLS records on a WebSocket stream → WS_RSV_BITS (0x16/0x15/0x17 have RSV3 set)', () => {
    const clientHello = Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, ...new Uint8Array(32)]);
    const alert = Uint8Array.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    const appData = Uint8Array.from([0x17, 0x03, 0x03, 0x00, 0x10, ...new Uint8Array(16)]);
    for (const record of [clientHello, alert, appData]) {
      for (const direction of ['client-to-server', 'server-to-client', 'any'] as const) {
        assert.equal(outcome(record, { direction }).parserError, 'WS_RSV_BITS');
      }
    }
    // With RSV3 allowed, 0x16 is a fragmented "opcode 6" data frame whose byte 1 (0x03) is an
    // unmasked 3-byte payload: a client direction refuses it, a server direction reports it.
    assert.equal(outcome(clientHello, { allowRsv: 1, direction: 'client-to-server' }).parserError, 'WS_MASK');
    const reported = outcome(alert, { allowRsv: 1, direction: 'server-to-client' });
    assert.equal(reported.parserError, null);
    assert.deepEqual(reported.frames[0], '015:030002');
  });

  test('"HTTP/1.1 200 OK\\r\\n\\r\\n" fed as frames → WS_RSV_BITS ("H" = 0x48 sets RSV1); with RSV1 allowed → WS_BAD_CONTROL_FRAME', () => {
    const response = Uint8Array.from(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'));
    assert.equal(outcome(response).parserError, 'WS_RSV_BITS');
    assert.equal(outcome(response, { allowRsv: 4 }).parserError, 'WS_BAD_CONTROL_FRAME');
  });

  test('a flood of zero bytes is a stream of empty non-FIN continuation frames → WS_UNEXPECTED_CONTINUATION in the reader', () => {
    const result = outcome(new Uint8Array(64));
    assert.equal(result.parserError, null);
    assert.equal(result.frames.length, 32);
    assert.equal(result.readerError, 'WS_UNEXPECTED_CONTINUATION');
  });
});
