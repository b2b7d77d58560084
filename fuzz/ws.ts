// WebSocket target: WsFrameParser then ChannelReader, in every direction and channel encoding,
// whole and in random chunkings. Seeds: performance-reliability.md §7 (WebSocket cases) and
// tailscale-sessionrecording.md §7.4–7.6.
import fc from 'fast-check';
import { WsProtocolError } from '../src/protocol/errors';
import { Opcode, isControlOpcode, type WsFrame } from '../src/protocol/ws/frame';
import { WsFrameParser, type WsDirection } from '../src/protocol/ws/parser';
import { ChannelReader, type ChannelEvent } from '../src/protocol/ws/message';
import { encodeBase64ChannelMessage, encodeChannelMessage, encodeClose, encodeFrame, encodePing, encodePong } from '../src/protocol/ws/encoder';
import { bits, chunksOf, type FuzzCase } from './lib/case';
import { mutatedArb, repeatedArb, type LengthField } from './lib/mutate';
import { bytesEqual, chunkingArb, invariant, optionBits, optionsArb, typedOnly, type FuzzTarget, type NamedSeed } from './lib/target';

const DIRECTIONS: readonly WsDirection[] = ['client-to-server', 'server-to-client', 'any', 'any'];
const MAX_PAYLOADS: readonly (number | undefined)[] = [undefined, 125, 1000, 70_000];
const MAX_MESSAGES: readonly (number | undefined)[] = [undefined, 0, 100, 5000];

/** Option bits: 0–1 direction, 2 base64, 3–4 maxPayload, 5–7 allowed RSV bits, 8–9 maxMessageSize. */
interface WsConfig {
  direction: WsDirection;
  encoding: 'binary' | 'base64';
  maxPayload: number | undefined;
  allowRsv: number;
  maxMessageSize: number | undefined;
}

function configOf(options: number): WsConfig {
  return {
    direction: DIRECTIONS[bits(options, 0, 2)],
    encoding: bits(options, 2, 1) ? 'base64' : 'binary',
    maxPayload: MAX_PAYLOADS[bits(options, 3, 2)],
    allowRsv: bits(options, 5, 3),
    maxMessageSize: MAX_MESSAGES[bits(options, 8, 2)],
  };
}

const C2S = 0;
const S2C = 1;
const BASE64 = 1 << 2;
const MASK = Uint8Array.from([1, 2, 3, 4]);

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));
}

const text = (s: string) => Uint8Array.from(Buffer.from(s));

/** Length fields of each frame in a (mostly) valid stream. */
function wsFields(bytes: Uint8Array): LengthField[] {
  const fields: LengthField[] = [];
  for (let offset = 0; offset + 2 <= bytes.length && fields.length < 256; ) {
    const length7 = bytes[offset + 1] & 0x7f;
    fields.push({ offset: offset + 1, size: 1, mask: 0x7f });
    let length = length7;
    let header = 2;
    if (length7 === 126 && offset + 4 <= bytes.length) {
      fields.push({ offset: offset + 2, size: 2 });
      length = (bytes[offset + 2] << 8) | bytes[offset + 3];
      header = 4;
    } else if (length7 === 127 && offset + 10 <= bytes.length) {
      fields.push({ offset: offset + 2, size: 8 });
      length = Buffer.from(bytes.buffer, bytes.byteOffset + offset + 6, 4).readUInt32BE(0);
      header = 10;
    }
    if (bytes[offset + 1] & 0x80) header += 4;
    offset += header + length;
  }
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Seeds

function wsSeeds(): NamedSeed[] {
  const seed = (name: string, bytes: Uint8Array, options = 2, chunking = 0): NamedSeed => ({ name, fuzzCase: { options, chunking, parts: [bytes] } });
  const above = 32 * 1024 * 1024 + 1;
  const resize = encodeChannelMessage(4, text('{"width":10,"height":20}'), { mask: MASK });
  return [
    seed('64-bit length with the MSB set (client)', hex('82 ff 80 00 00 00 00 00 00 01 01 02 03 04'), C2S),
    seed('64-bit length with the MSB set (server)', hex('82 7f ff ff ff ff ff ff ff ff'), S2C),
    seed('64-bit length just above the 32 MiB cap', Uint8Array.from([0x82, 0x7f, 0, 0, 0, 0, above >>> 24, (above >>> 16) & 0xff, (above >>> 8) & 0xff, above & 0xff]), S2C),
    seed('64-bit length 1001 against a 1000 cap', hex('82 7f 00 00 00 00 00 00 03 e9'), S2C | (2 << 3)),
    seed('64-bit length 2^53', hex('82 7f 00 20 00 00 00 00 00 00'), S2C),
    seed('unmasked client frame', hex('82 01 01'), C2S),
    seed('masked server frame', hex('82 81 01 02 03 04 00'), S2C),
    seed('RSV1 without an extension', hex('c2 00'), S2C),
    seed('RSV bits allowed by an extension', hex('f2 01 01'), S2C | (7 << 5)),
    seed('control frame with FIN clear', hex('09 00'), S2C),
    seed('control payload above 125 bytes', Uint8Array.from([0x89, 0x7e, 0x00, 0x7e, ...new Uint8Array(126)]), S2C),
    seed('close frame with a 1-byte payload', hex('88 01 03'), S2C),
    seed('continuation without a start', hex('80 01 aa'), S2C),
    seed('text frames on a binary protocol', encodeFrame({ opcode: Opcode.TEXT, payload: text('1hi') }), S2C),
    seed('reserved opcodes 0x3 and 0xB', hex('83 01 aa 8b 00'), S2C),
    seed('base64 subprotocol message', encodeBase64ChannelMessage(1, text('hello'), { fragmentSize: 3 }), S2C | BASE64),
    seed('base64 message with junk characters', encodeFrame({ opcode: Opcode.TEXT, payload: text('1%%==QUJD') }), S2C | BASE64),
    seed('v5 CLOSE (255 + stream id)', encodeChannelMessage(255, Uint8Array.of(0), { mask: MASK }), C2S),
    seed('zero-length messages (the kubelet sends them first)', hex('82 00 82 00 82 01 01'), S2C),
    seed('a flood of zero bytes', new Uint8Array(64), 2),
    seed('TLS ClientHello record', hex('16 03 01 00 a5 01 00 00 a1 03 03'), 2),
    seed('TLS records with RSV allowed', hex('15 03 03 00 02 02 28'), S2C | (1 << 5)),
    seed('HTTP/1.1 200 OK on the upgraded stream', text('HTTP/1.1 200 OK\r\n\r\n'), 2),
    seed('HTTP/1.1 200 OK with RSV1 allowed', text('HTTP/1.1 200 OK\r\n\r\n'), 2 | (4 << 5)),
    seed('tailscale 82 01 01: stdout, no payload', hex('82 01 01'), S2C),
    seed('tailscale masked stderr, no payload', hex('82 81 01 02 03 04 03'), C2S),
    seed('tailscale close frame then resize in one read', Uint8Array.from(Buffer.concat([encodeClose(undefined, '', { mask: MASK }), resize])), C2S),
    seed('tailscale two resizes in one read', Uint8Array.from(Buffer.concat([resize, resize])), C2S),
    seed(
      'tailscale non-FIN resize then an empty final continuation',
      Uint8Array.from(Buffer.concat([encodeFrame({ fin: false, opcode: Opcode.BINARY, payload: text('\x04{"width":10,"height":20}'), mask: MASK }), encodeFrame({ opcode: 0, mask: MASK })])),
      C2S,
    ),
    seed('tailscale initial + middle + final fragments', encodeChannelMessage(1, text('0102030405'), { fragmentSize: 3 }), S2C),
    seed('ping between fragments', Uint8Array.from(Buffer.concat([encodeFrame({ fin: false, opcode: 2, payload: hex('01 07') }), encodePing(hex('aa')), encodeFrame({ opcode: 0, payload: hex('08') })])), S2C),
    seed('a 70 001-byte masked frame, header split at every byte', encodeChannelMessage(0, new Uint8Array(70_000), { mask: MASK }), C2S, 1),
    seed('a 301-byte frame in 3-byte chunks', encodeChannelMessage(0, new Uint8Array(300), { mask: MASK }), C2S, 5),
    seed('fragments adding up past the message cap', encodeChannelMessage(1, new Uint8Array(200), { fragmentSize: 20 }), S2C | (2 << 8)),
    seed('close with code and reason', encodeClose(1000, 'bye'), S2C),
  ];
}

// ---------------------------------------------------------------------------------------------
// Generators

let corpusCache: Uint8Array[] | undefined;

const messageSpec = fc.record({
  kind: fc.nat({ max: 9 }),
  channel: fc.constantFrom(0, 1, 2, 3, 4, 255),
  data: fc.uint8Array({ maxLength: 48 }),
  fragment: fc.option(fc.integer({ min: 1, max: 8 }), { freq: 3 }),
  masked: fc.boolean(),
});

type MessageSpec = typeof messageSpec extends fc.Arbitrary<infer T> ? T : never;

function encodeSpec(spec: MessageSpec): Uint8Array {
  const mask = spec.masked ? MASK : undefined;
  const options = { mask, fragmentSize: spec.fragment ?? undefined };
  switch (spec.kind) {
    case 0:
    case 1:
    case 2:
    case 3:
      return encodeChannelMessage(spec.channel, spec.data, options);
    case 4:
      return encodeBase64ChannelMessage(spec.channel % 10, spec.data, options);
    case 5:
      return encodePing(spec.data.subarray(0, 8), { mask });
    case 6:
      return encodePong(spec.data.subarray(0, 8), { mask });
    case 7:
      return encodeClose(spec.data.length > 0 ? 1000 : undefined, spec.data.length > 0 ? 'bye' : '', { mask });
    case 8:
      return Buffer.concat([
        encodeFrame({ fin: false, opcode: spec.channel & 1 ? Opcode.TEXT : Opcode.BINARY, payload: spec.data.subarray(0, 4), mask }),
        encodePing(new Uint8Array(0), { mask }),
        encodeFrame({ opcode: Opcode.CONTINUATION, payload: spec.data.subarray(4, 8), mask }),
      ]);
    default:
      return encodeFrame({ opcode: [0x3, 0x7, 0xb, 0xf, Opcode.TEXT, Opcode.CONTINUATION][spec.channel % 6], payload: spec.data.subarray(0, 10), mask });
  }
}

function wsCorpus(): Uint8Array[] {
  if (corpusCache) return corpusCache;
  const corpus: Uint8Array[] = fc
    .sample(fc.array(messageSpec, { minLength: 1, maxLength: 6 }), { seed: 0x6b756265, numRuns: 80 })
    .map((specs) => Uint8Array.from(Buffer.concat(specs.map(encodeSpec))));
  for (const seed of wsSeeds()) if (seed.fuzzCase.parts[0].length <= 4096) corpus.push(seed.fuzzCase.parts[0]);
  corpusCache = corpus;
  return corpus;
}

/** A header built from the interesting lengths of each encoding, then some random bytes. */
const hostileHeader = fc
  .record({
    b0: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0x80, 0x00, 0x81, 0x82, 0x88, 0x89, 0x8a, 0x83, 0x8b, 0xc2)),
    masked: fc.boolean(),
    length: fc.constantFrom(0, 1, 125, 126, 127, 1000, 1001, 65535, 65536, 70000, 2 ** 25, 2 ** 25 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63),
    encoding: fc.nat({ max: 2 }),
    tail: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ b0, masked, length, encoding, tail }) => {
    const maskBit = masked ? 0x80 : 0;
    const head = [b0];
    if (encoding === 0 && length < 126) head.push(maskBit | length);
    else if (encoding <= 1 && length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
    else {
      head.push(maskBit | 127);
      const big = BigInt(length);
      for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((big >> shift) & 0xffn));
    }
    if (masked) head.push(1, 2, 3, 4);
    return Uint8Array.from([...head, ...tail]);
  });

// Weights: the long repeated inputs cost ~1000 small cases each, so they come about 1 time in 100.
const wsStreamArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 20, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 10, arbitrary: hostileHeader },
  { weight: 30, arbitrary: fc.array(messageSpec, { minLength: 1, maxLength: 6 }).map((specs) => Uint8Array.from(Buffer.concat(specs.map(encodeSpec)))) },
  { weight: 60, arbitrary: mutatedArb(wsCorpus, { lengthFields: wsFields, maxLength: 256 * 1024 }) },
  { weight: 1, arbitrary: repeatedArb(fc.constantFrom(hex('82 00'), hex('80 00'), hex('02 01 01'), hex('89 00'), hex('82 81 01 02 03 04 05')), 64 * 1024) },
);

/** Options weighted so most cases get past the RSV and mask rules (else they would all end at byte 0). */
const wsOptionsArb = optionsArb(
  optionBits(0, 2),
  optionBits(2, 1, fc.nat({ max: 3 }).map((n) => (n === 0 ? 1 : 0))),
  optionBits(3, 2),
  optionBits(5, 3, fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 7 }) })),
  optionBits(8, 2),
);

// ---------------------------------------------------------------------------------------------
// Check

interface WsRun {
  frames: WsFrame[];
  parserError?: string;
  events: string[];
  readerError?: string;
}

function key(event: ChannelEvent): string {
  const h = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  switch (event.type) {
    case 'data':
      return `d${event.channel}${event.first ? 'F' : ''}${event.last ? 'L' : ''}:${h(event.data)}`;
    case 'text':
    case 'binary':
      return `${event.type}${event.first ? 'F' : ''}${event.last ? 'L' : ''}:${h(event.data)}`;
    case 'control':
      return `c${event.opcode}:${h(event.payload)}:${event.closeCode}:${event.closeReason}`;
    case 'reserved':
      return `r${event.opcode}${event.fin}:${h(event.payload)}`;
    case 'empty-message':
      return 'empty';
  }
}

/** RFC 6455 §5.3 unmasking, written out independently of src/protocol/ws/mask.ts. */
function naiveUnmask(bytes: Uint8Array, maskKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] ^ maskKey[i % 4];
  return out;
}

function checkFrame(frame: WsFrame, config: WsConfig): void {
  const raw = frame.raw;
  invariant(frame.fin === ((raw[0] & 0x80) !== 0) && frame.opcode === (raw[0] & 0x0f) && frame.rsv === ((raw[0] >> 4) & 7), 'frame fields differ from its first byte');
  invariant((frame.rsv & ~config.allowRsv) === 0, 'a frame with forbidden RSV bits was returned');
  invariant(frame.masked === ((raw[1] & 0x80) !== 0), 'mask flag differs from the wire');
  if (config.direction === 'client-to-server') invariant(frame.masked, 'unmasked client frame returned');
  if (config.direction === 'server-to-client') invariant(!frame.masked, 'masked server frame returned');
  invariant(frame.payload.length <= (config.maxPayload ?? 32 * 1024 * 1024), 'payload above maxPayload');
  if (isControlOpcode(frame.opcode)) invariant(frame.fin && frame.payload.length <= 125, 'fragmented or oversized control frame returned');
  const headerLength = raw.length - frame.payload.length;
  const wire = raw.subarray(headerLength);
  const expected = frame.masked ? naiveUnmask(wire, raw.subarray(headerLength - 4, headerLength)) : wire;
  invariant(bytesEqual(frame.payload, expected), 'payload is not the (un)masked frame tail');
}

function runWs(input: Uint8Array, chunks: readonly Uint8Array[], config: WsConfig): WsRun {
  const parser = new WsFrameParser({ direction: config.direction, maxPayload: config.maxPayload, allowRsv: config.allowRsv });
  const reader = new ChannelReader({ encoding: config.encoding, maxMessageSize: config.maxMessageSize });
  const run: WsRun = { frames: [], events: [] };
  const limit = (config.maxPayload ?? 32 * 1024 * 1024) + 14;
  // Message bookkeeping: every message yields exactly one first and one last event.
  let open = false;
  for (const chunk of chunks) {
    const out: WsFrame[] = [];
    const parsed = typedOnly('WsFrameParser.push', [WsProtocolError], () => parser.push(chunk, out));
    // Frames completed before a bad one are still handed over (a proxy forwards them).
    for (const frame of out) {
      checkFrame(frame, config);
      run.frames.push(frame);
      if (run.readerError) continue;
      const events = typedOnly('ChannelReader.push', [WsProtocolError], () => reader.push(frame));
      if (events.error) {
        run.readerError = (events.error as WsProtocolError).code;
        const again = typedOnly('ChannelReader.push after an error', [WsProtocolError], () => reader.push(frame));
        invariant(again.error === events.error, 'a failed reader does not rethrow its first error');
        continue;
      }
      for (const event of events.value) {
        run.events.push(key(event));
        if (event.type === 'data' || event.type === 'text' || event.type === 'binary') {
          invariant(event.first ? !open : open, () => `event ${key(event)} ${event.first ? 'starts a message inside another' : 'continues no message'}`);
          open = !event.last;
        } else if (event.type === 'empty-message') {
          invariant(!open, 'empty-message inside a message');
        }
      }
    }
    if (parsed.error) {
      run.parserError = (parsed.error as WsProtocolError).code;
      const again = typedOnly('WsFrameParser.push after an error', [WsProtocolError], () => parser.push(new Uint8Array(1)));
      invariant(again.error === parsed.error, 'a failed parser does not rethrow its first error');
      break;
    }
    invariant(parser.buffered < limit, () => `buffered ${parser.buffered} ≥ one maximal frame`);
  }
  // A message whose fragments so far were all empty has produced no event yet, so only one way holds.
  invariant(!open || reader.inMessage || run.readerError !== undefined, 'events left a message open that the reader closed');
  const consumed = run.frames.reduce((sum, f) => sum + f.raw.length, 0);
  invariant(bytesEqual(Buffer.concat(run.frames.map((f) => f.raw)), input.subarray(0, consumed)), 'frames are not the input, byte for byte');
  if (!run.parserError) invariant(consumed + parser.buffered === input.length, 'bytes lost between frames and the buffer');
  return run;
}

function checkWs(fuzzCase: FuzzCase): void {
  const input = fuzzCase.parts[0] ?? new Uint8Array(0);
  const config = configOf(fuzzCase.options);
  const chunked = runWs(input, chunksOf(input, fuzzCase.chunking), config);
  const whole = runWs(input, chunksOf(input, 0), config);
  invariant(chunked.parserError === whole.parserError && chunked.readerError === whole.readerError, () => `errors depend on the chunking: whole ${whole.parserError}/${whole.readerError}, chunked ${chunked.parserError}/${chunked.readerError}`);
  invariant(chunked.frames.length === whole.frames.length, 'frame count depends on the chunking');
  invariant(JSON.stringify(chunked.events) === JSON.stringify(whole.events), 'channel events depend on the chunking');
}

export const wsTarget: FuzzTarget = {
  name: 'ws-frames',
  about: 'WsFrameParser + ChannelReader, all directions/encodings/limits, whole vs chunked: typed errors only, byte-faithful frames, correct unmasking, one first/last per message',
  arbitrary: () => fc.record({ options: wsOptionsArb, chunking: chunkingArb, parts: fc.tuple(wsStreamArb) }),
  seeds: wsSeeds,
  check: checkWs,
  quickRuns: 1000,
};
