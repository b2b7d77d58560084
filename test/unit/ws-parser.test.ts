import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import ws from 'ws';
import { WsProtocolError, type WsErrorCode } from '../../src/protocol/errors';
import { Opcode, type WsFrame } from '../../src/protocol/ws/frame';
import { WsFrameParser, type WsFrameParserOptions } from '../../src/protocol/ws/parser';
import { encodeClose, encodeFrame, encodePing, encodePong } from '../../src/protocol/ws/encoder';

// ---------------------------------------------------------------------------------------------
// Helpers: an independent byte-wise reference encoder, so parser tests do not depend on ours.

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

interface RefFrame {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Uint8Array;
  key?: Uint8Array;
  /** Force a length encoding: 7, 16 or 64 bits (non-minimal encodings are legal on the wire). */
  lengthBits?: 7 | 16 | 64;
}

function refFrame({ fin = true, rsv = 0, opcode, payload = new Uint8Array(0), key, lengthBits }: RefFrame): Uint8Array {
  const bytes: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = key ? 0x80 : 0;
  const bits = lengthBits ?? (payload.length < 126 ? 7 : payload.length < 65536 ? 16 : 64);
  if (bits === 7) bytes.push(maskBit | payload.length);
  else if (bits === 16) bytes.push(maskBit | 126, payload.length >> 8, payload.length & 0xff);
  else {
    bytes.push(maskBit | 127);
    const high = Math.floor(payload.length / 2 ** 32);
    const low = payload.length >>> 0;
    for (const word of [high, low]) bytes.push(word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
  }
  if (key) bytes.push(...key);
  const header = Uint8Array.from(bytes);
  const body = new Uint8Array(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = key ? payload[i] ^ key[i % 4] : payload[i];
  return concat([header, body]);
}

function parse(input: Uint8Array, options?: WsFrameParserOptions, cuts: readonly number[] = []): WsFrame[] {
  const parser = new WsFrameParser(options);
  const frames: WsFrame[] = [];
  let previous = 0;
  for (const cut of [...cuts, input.length]) {
    frames.push(...parser.push(input.subarray(previous, cut)));
    previous = cut;
  }
  assert.equal(parser.buffered, 0, 'nothing left over');
  return frames;
}

function assertRawIsInput(frames: readonly WsFrame[], input: Uint8Array): void {
  assert.ok(Buffer.from(concat(frames.map((f) => f.raw))).equals(Buffer.from(input)), 'concatenated raw bytes equal the input');
}

function assertCode(fn: () => unknown, code: WsErrorCode): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof WsProtocolError, `expected WsProtocolError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Plain-object view of a frame for deepEqual (Buffer vs Uint8Array agnostic). */
function summary(frame: WsFrame) {
  return {
    fin: frame.fin,
    rsv: frame.rsv,
    opcode: frame.opcode,
    masked: frame.masked,
    payload: Buffer.from(frame.payload).toString('hex'),
    raw: Buffer.from(frame.raw).toString('hex'),
  };
}

const KEY = hex('37fa213d');

// ---------------------------------------------------------------------------------------------

describe('payload lengths', () => {
  for (const length of [0, 1, 125, 126, 127, 65535, 65536, 70001]) {
    for (const masked of [false, true]) {
      test(`${length}-byte payload, ${masked ? 'masked' : 'unmasked'}`, () => {
        const payload = randomBytes(length, length + 1);
        const input = refFrame({ opcode: Opcode.BINARY, payload, key: masked ? KEY : undefined });
        const expectedHeader = (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
        assert.equal(input.length, expectedHeader + length);
        const frames = parse(input);
        assert.equal(frames.length, 1);
        const [frame] = frames;
        assert.equal(frame.fin, true);
        assert.equal(frame.opcode, Opcode.BINARY);
        assert.equal(frame.masked, masked);
        assert.ok(Buffer.from(frame.payload).equals(Buffer.from(payload)));
        assertRawIsInput(frames, input);
      });
    }
  }

  test('non-minimal length encodings are accepted (RFC says "should" be minimal; ws and gorilla accept them)', () => {
    const small = randomBytes(5, 1);
    const medium = randomBytes(300, 2);
    const input = concat([
      refFrame({ opcode: Opcode.BINARY, payload: small, lengthBits: 16 }),
      refFrame({ opcode: Opcode.BINARY, payload: small, lengthBits: 64, key: KEY }),
      refFrame({ opcode: Opcode.BINARY, payload: medium, lengthBits: 64 }),
    ]);
    const frames = parse(input);
    assert.deepEqual(
      frames.map((f) => Buffer.from(f.payload).toString('hex')),
      [small, small, medium].map((p) => Buffer.from(p).toString('hex')),
    );
    assertRawIsInput(frames, input);
  });

  test('a 64-bit length with the most significant bit set is WS_BAD_LENGTH from the header alone', () => {
    assertCode(() => new WsFrameParser().push(hex('82 7f 80 00 00 00 00 00 00 05')), 'WS_BAD_LENGTH');
    assertCode(() => new WsFrameParser().push(hex('82 7f ff ff ff ff ff ff ff ff')), 'WS_BAD_LENGTH');
  });

  test('a 64-bit length of 2^53 is WS_BAD_LENGTH; 2^53 - 1 is only too large', () => {
    assertCode(() => new WsFrameParser().push(hex('82 7f 00 20 00 00 00 00 00 00')), 'WS_BAD_LENGTH');
    assertCode(() => new WsFrameParser().push(hex('82 7f 00 1f ff ff ff ff ff ff')), 'WS_PAYLOAD_TOO_LARGE');
  });

  test('a payload above the default 32 MiB cap fails as soon as the length is read, before any payload', () => {
    const parser = new WsFrameParser();
    parser.push(hex('82 7f 00 00 00 00'));
    assertCode(() => parser.push(hex('02 00 00 01')), 'WS_PAYLOAD_TOO_LARGE');
    // Exactly 32 MiB is fine: the header is accepted and the parser waits for the payload.
    const atCap = new WsFrameParser();
    assert.deepEqual(atCap.push(hex('82 ff 00 00 00 00 02 00 00 00 01 02 03 04')), []);
    assert.equal(atCap.buffered, 14);
  });

  test('a custom maxPayload applies to 7-, 16- and 64-bit lengths, the masking key need not have arrived', () => {
    assertCode(() => new WsFrameParser({ maxPayload: 10 }).push(hex('82 8b')), 'WS_PAYLOAD_TOO_LARGE');
    assertCode(() => new WsFrameParser({ maxPayload: 1000 }).push(hex('82 fe 03 e9')), 'WS_PAYLOAD_TOO_LARGE');
    assertCode(() => new WsFrameParser({ maxPayload: 70000 }).push(hex('82 ff 00 00 00 00 00 01 11 71')), 'WS_PAYLOAD_TOO_LARGE');
    const atCap = refFrame({ opcode: Opcode.BINARY, payload: randomBytes(1000, 4), key: KEY });
    assert.equal(parse(atCap, { maxPayload: 1000 }).length, 1);
  });

  test('bad options are refused up front', () => {
    assert.throws(() => new WsFrameParser({ maxPayload: -1 }), RangeError);
    assert.throws(() => new WsFrameParser({ maxPayload: 2 ** 53 }), RangeError);
    assert.throws(() => new WsFrameParser({ allowRsv: 8 }), RangeError);
  });
});

describe('masking and direction', () => {
  test('a masked payload is unmasked into a copy; raw and the input stay as on the wire', () => {
    const payload = hex('01 68 65 6c 6c 6f');
    const input = refFrame({ opcode: Opcode.BINARY, payload, key: hex('01 02 03 04') });
    const copy = Uint8Array.from(input);
    const [frame] = new WsFrameParser({ direction: 'client-to-server' }).push(input);
    assert.equal(frame.masked, true);
    assert.deepEqual(Uint8Array.from(frame.payload), payload);
    assert.deepEqual(Uint8Array.from(frame.raw), copy);
    assert.deepEqual(input, copy, 'input not modified');
    assert.notEqual(frame.payload.buffer, input.buffer);
  });

  test('an unmasked frame inside one chunk is returned as views into it (zero copy)', () => {
    const input = concat([refFrame({ opcode: Opcode.BINARY, payload: hex('01 41') }), refFrame({ opcode: Opcode.PING })]);
    const frames = new WsFrameParser({ direction: 'server-to-client' }).push(input);
    for (const frame of frames) {
      assert.equal(frame.raw.buffer, input.buffer);
      assert.equal(frame.payload.buffer, input.buffer);
    }
    assert.equal(frames[0].raw.byteOffset, input.byteOffset);
    assert.equal(frames[1].raw.byteOffset, input.byteOffset + 4);
  });

  test('client-to-server requires masked frames (WS_MASK on an unmasked client frame)', () => {
    assertCode(() => new WsFrameParser({ direction: 'client-to-server' }).push(hex('82 01 00')), 'WS_MASK');
    assertCode(() => new WsFrameParser({ direction: 'client-to-server' }).push(hex('89 00')), 'WS_MASK');
  });

  test('server-to-client requires unmasked frames (WS_MASK on a masked server frame)', () => {
    assertCode(() => new WsFrameParser({ direction: 'server-to-client' }).push(refFrame({ opcode: Opcode.BINARY, payload: hex('01'), key: KEY })), 'WS_MASK');
  });

  test("'any' (the default) accepts both in one stream", () => {
    const input = concat([
      refFrame({ opcode: Opcode.BINARY, payload: hex('01 02'), key: KEY }),
      refFrame({ opcode: Opcode.BINARY, payload: hex('01 03') }),
    ]);
    const frames = parse(input);
    assert.deepEqual(frames.map((f) => f.masked), [true, false]);
    assertRawIsInput(frames, input);
  });
});

describe('split headers and payloads (tailscale TestReadSplitFrameHeader / TestWriteSplitFrameHeader)', () => {
  const sizes = [101, 301, 70001];

  function splitFrames(masked: boolean): { name: string; input: Uint8Array }[] {
    const out = sizes.map((size) => {
      const payload = randomBytes(size, size);
      payload[0] = 0; // channel 0 (stdin) as in the peer's test
      return { name: `${size}-byte binary`, input: refFrame({ opcode: Opcode.BINARY, payload, key: masked ? KEY : undefined }) };
    });
    out.push({ name: '2-byte ping', input: refFrame({ opcode: Opcode.PING, payload: hex('ab cd'), key: masked ? KEY : undefined }) });
    return out;
  }

  for (const [masked, direction, window] of [
    [true, 'client-to-server', 18],
    [false, 'server-to-client', 14],
  ] as const) {
    for (const { name, input } of splitFrames(masked)) {
      test(`${masked ? 'masked' : 'unmasked'} ${name}: whole, 2 segments and 3 segments at every cut in the first ${window} bytes`, () => {
        const expected = parse(input, { direction }).map(summary);
        assert.equal(expected.length, 1);
        for (let a = 1; a < Math.min(window, input.length); a++) {
          const frames = parse(input, { direction }, [a]);
          assert.deepEqual(frames.map(summary), expected, `cut at ${a}`);
          for (let b = a + 1; b <= Math.min(window, input.length - 1); b++) {
            const frames3 = parse(input, { direction }, [a, b]);
            assert.deepEqual(frames3.map(summary), expected, `cuts at ${a}, ${b}`);
            assertRawIsInput(frames3, input);
          }
        }
      });
    }
  }

  test('split at every byte boundary of the 101- and 301-byte frames, masked, followed by a ping', () => {
    for (const size of [101, 301]) {
      const input = concat([refFrame({ opcode: Opcode.BINARY, payload: randomBytes(size, 3), key: KEY }), refFrame({ opcode: Opcode.PING, payload: hex('0102'), key: KEY })]);
      const expected = parse(input).map(summary);
      for (let cut = 0; cut <= input.length; cut++) {
        const frames = parse(input, { direction: 'client-to-server' }, [cut]);
        assert.deepEqual(frames.map(summary), expected, `size ${size} cut ${cut}`);
      }
    }
  });

  test('a 70 001-byte masked frame fed one byte at a time: one frame, buffered grows by one, no quadratic copying', () => {
    const payload = randomBytes(70001, 5);
    const input = refFrame({ opcode: Opcode.BINARY, payload, key: KEY });
    const parser = new WsFrameParser({ direction: 'client-to-server' });
    const frames: WsFrame[] = [];
    const started = performance.now();
    for (let i = 0; i < input.length; i++) {
      parser.push(input.subarray(i, i + 1), frames);
      if (i < input.length - 1) assert.equal(parser.buffered, i + 1);
    }
    const elapsed = performance.now() - started;
    assert.equal(frames.length, 1);
    assert.equal(parser.buffered, 0);
    assert.ok(Buffer.from(frames[0].payload).equals(Buffer.from(payload)));
    assertRawIsInput(frames, input);
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  });

  test('a frame straddling chunks is assembled into its own buffer; frames after it in the same chunk are views', () => {
    const first = refFrame({ opcode: Opcode.BINARY, payload: randomBytes(300, 6) });
    const second = refFrame({ opcode: Opcode.BINARY, payload: hex('01 02 03') });
    const input = concat([first, second]);
    const parser = new WsFrameParser();
    assert.deepEqual(parser.push(input.subarray(0, 100)), []);
    const chunk = input.subarray(100);
    const frames = parser.push(chunk);
    assert.equal(frames.length, 2);
    assert.notEqual(frames[0].raw.buffer, chunk.buffer);
    assert.equal(frames[0].raw.length, first.length);
    assert.equal(frames[1].raw.buffer, chunk.buffer);
    assertRawIsInput(frames, input);
  });

  test('buffered never exceeds one frame and returns to 0 at frame boundaries', () => {
    const input = concat([refFrame({ opcode: Opcode.BINARY, payload: randomBytes(1000, 7) }), refFrame({ opcode: Opcode.PONG })]);
    const parser = new WsFrameParser();
    let offset = 0;
    for (const size of [1, 1, 1, 500, 501, 1, 1]) {
      parser.push(input.subarray(offset, offset + size));
      offset += size;
      assert.ok(parser.buffered <= 1004);
    }
    assert.equal(offset, input.length);
    assert.equal(parser.buffered, 0);
  });
});

describe('several frames per chunk', () => {
  test('a close frame then a resize message in one chunk (tailscale control_then_data_in_one_read)', () => {
    const resize = concat([hex('04'), Buffer.from('{"width":10,"height":20}')]);
    const input = concat([refFrame({ opcode: Opcode.CLOSE, key: KEY }), refFrame({ opcode: Opcode.BINARY, payload: resize, key: KEY })]);
    const frames = parse(input, { direction: 'client-to-server' });
    assert.deepEqual(frames.map((f) => f.opcode), [Opcode.CLOSE, Opcode.BINARY]);
    assert.deepEqual(Uint8Array.from(frames[1].payload), resize);
  });

  test('1000 small frames in one chunk are all returned, in order', () => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) parts.push(refFrame({ opcode: i % 10 === 0 ? Opcode.PING : Opcode.BINARY, payload: Uint8Array.of(1, i & 0xff, i >> 8) }));
    const input = concat(parts);
    const frames = parse(input);
    assert.equal(frames.length, 1000);
    frames.forEach((frame, i) => assert.equal(frame.payload[1] | (frame.payload[2] << 8), i));
    assertRawIsInput(frames, input);
  });

  test('a chunk ending in 2 bytes of the next frame keeps exactly those 2 bytes', () => {
    const input = concat([refFrame({ opcode: Opcode.BINARY, payload: hex('01 02') }), refFrame({ opcode: Opcode.BINARY, payload: randomBytes(200, 8) })]);
    const parser = new WsFrameParser();
    assert.equal(parser.push(input.subarray(0, 6)).length, 1);
    assert.equal(parser.buffered, 2);
    assert.equal(parser.push(input.subarray(6)).length, 1);
  });

  test('empty chunks are no-ops anywhere', () => {
    const input = refFrame({ opcode: Opcode.BINARY, payload: randomBytes(200, 9), key: KEY });
    const parser = new WsFrameParser();
    const frames: WsFrame[] = [];
    const cuts = [0, 1, 3, 3, 8, 50, 208, input.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      parser.push(new Uint8Array(0), frames);
      parser.push(input.subarray(cuts[i], cuts[i + 1]), frames);
    }
    parser.push(new Uint8Array(0), frames);
    assert.equal(frames.length, 1);
    assertRawIsInput(frames, input);
  });
});

describe('control frames, RSV bits, reserved opcodes', () => {
  test('a fragmented control frame (FIN clear) is WS_BAD_CONTROL_FRAME from its first byte', () => {
    assertCode(() => new WsFrameParser().push(hex('09')), 'WS_BAD_CONTROL_FRAME');
    assertCode(() => new WsFrameParser().push(hex('08 00')), 'WS_BAD_CONTROL_FRAME');
    assertCode(() => new WsFrameParser().push(hex('0a 00')), 'WS_BAD_CONTROL_FRAME');
  });

  test('a control payload above 125 bytes is WS_BAD_CONTROL_FRAME from the first two bytes; 125 is fine', () => {
    assertCode(() => new WsFrameParser().push(hex('89 7e')), 'WS_BAD_CONTROL_FRAME');
    assertCode(() => new WsFrameParser().push(hex('88 ff')), 'WS_BAD_CONTROL_FRAME');
    const ok = refFrame({ opcode: Opcode.PING, payload: randomBytes(125, 10), key: KEY });
    assert.equal(parse(ok)[0].payload.length, 125);
  });

  test('a close frame with a 1-byte payload is WS_BAD_CLOSE_FRAME; 0 and 2+ bytes are fine', () => {
    assertCode(() => new WsFrameParser().push(hex('88 01 03')), 'WS_BAD_CLOSE_FRAME');
    assertCode(() => new WsFrameParser().push(hex('88 81')), 'WS_BAD_CLOSE_FRAME');
    assert.equal(parse(hex('88 00')).length, 1);
    assert.equal(parse(hex('88 02 03 e8')).length, 1);
  });

  test('RSV bits without a negotiated extension are WS_RSV_BITS, on data and control frames', () => {
    for (const rsv of [1, 2, 4, 7]) {
      assertCode(() => new WsFrameParser().push(Uint8Array.of(0x80 | (rsv << 4) | Opcode.BINARY)), 'WS_RSV_BITS');
      assertCode(() => new WsFrameParser().push(Uint8Array.of(0x80 | (rsv << 4) | Opcode.PING, 0)), 'WS_RSV_BITS');
    }
  });

  test('allowRsv lets exactly those bits through', () => {
    const input = refFrame({ rsv: 4, opcode: Opcode.BINARY, payload: hex('01') });
    assert.equal(parse(input, { allowRsv: 4 })[0].rsv, 4);
    assertCode(() => new WsFrameParser({ allowRsv: 4 }).push(refFrame({ rsv: 2, opcode: Opcode.BINARY })), 'WS_RSV_BITS');
  });

  test('reserved opcodes 0x3–0x7 and 0xB–0xF are returned as frames, not errors', () => {
    const opcodes = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];
    const input = concat(opcodes.map((opcode) => refFrame({ opcode, payload: Uint8Array.of(opcode), key: KEY })));
    const frames = parse(input);
    assert.deepEqual(frames.map((f) => f.opcode), opcodes);
    assert.deepEqual(frames.map((f) => f.payload[0]), opcodes);
    assertRawIsInput(frames, input);
  });

  test('reserved control opcodes (0xB–0xF) still obey the control-frame rules (RFC 6455 §5.5: high opcode bit = control)', () => {
    assertCode(() => new WsFrameParser().push(hex('0b 00')), 'WS_BAD_CONTROL_FRAME');
    assertCode(() => new WsFrameParser().push(hex('8b 7e')), 'WS_BAD_CONTROL_FRAME');
    // Reserved data opcodes may be fragmented and long like any data frame.
    assert.equal(parse(refFrame({ fin: false, opcode: 0x3, payload: randomBytes(300, 1) }))[0].fin, false);
  });
});

describe('errors and poisoning', () => {
  test('only WsProtocolError escapes; afterwards every push rethrows the same error and nothing is buffered', () => {
    const parser = new WsFrameParser({ direction: 'server-to-client' });
    parser.push(hex('82 05 01 02'));
    let first: unknown;
    try {
      parser.push(hex('03 04 05 c2'));
    } catch (error) {
      first = error;
    }
    assert.ok(first instanceof WsProtocolError);
    assert.equal(first.code, 'WS_RSV_BITS');
    assert.equal(parser.buffered, 0);
    assert.throws(() => parser.push(hex('82 00')), (error: unknown) => error === first);
    assert.throws(() => parser.push(new Uint8Array(0)), (error: unknown) => error === first);
  });

  test('frames completed before the bad bytes are in the caller-provided out array', () => {
    const input = concat([hex('82 02 01 41'), hex('89 00'), hex('82 7f 80')]);
    const out: WsFrame[] = [];
    assertCode(() => new WsFrameParser().push(concat([input, hex('00 00 00 00 00 00 00')]), out), 'WS_BAD_LENGTH');
    assert.deepEqual(out.map((f) => f.opcode), [Opcode.BINARY, Opcode.PING]);
  });

  test('the error carries the websocket protocol name and a readable message', () => {
    try {
      new WsFrameParser({ maxPayload: 100 }).push(hex('82 7e 01 00'));
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof WsProtocolError);
      assert.equal(error.protocol, 'websocket');
      assert.match(error.message, /256-byte payload, above the 100-byte limit/);
    }
  });
});

describe('encoder (checked against the ws package as an independent reference)', () => {
  type WsSenderFrame = (data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; maskBuffer?: Buffer; generateMask?: () => void; readOnly: boolean; rsv1: boolean }) => Buffer[];
  const wsFrame = (ws as unknown as { Sender: { frame: WsSenderFrame } }).Sender.frame;

  for (const length of [0, 1, 125, 126, 65535, 65536, 70001]) {
    for (const masked of [false, true]) {
      test(`encodeFrame, ${length} bytes, ${masked ? 'masked' : 'unmasked'}, equals ws Sender.frame and parses back`, () => {
        const payload = randomBytes(length, 21);
        const ours = encodeFrame({ opcode: Opcode.BINARY, payload, mask: masked ? KEY : undefined });
        const theirs = Buffer.concat(
          wsFrame(Buffer.from(payload), { fin: true, opcode: Opcode.BINARY, mask: masked, maskBuffer: Buffer.from(KEY), generateMask: () => {}, readOnly: true, rsv1: false }),
        );
        assert.ok(ours.equals(theirs));
        assert.ok(ours.equals(Buffer.from(refFrame({ opcode: Opcode.BINARY, payload, key: masked ? KEY : undefined }))));
        const [frame] = parse(ours);
        assert.ok(Buffer.from(frame.payload).equals(Buffer.from(payload)));
      });
    }
  }

  test('mask: true draws a fresh random key per frame', () => {
    const a = encodeFrame({ opcode: Opcode.BINARY, payload: hex('01 02 03'), mask: true });
    const b = encodeFrame({ opcode: Opcode.BINARY, payload: hex('01 02 03'), mask: true });
    assert.equal(a[1], 0x83);
    assert.equal(parse(a)[0].masked, true);
    assert.deepEqual(Uint8Array.from(parse(a)[0].payload), hex('01 02 03'));
    // 2^-32 chance of a false failure.
    assert.ok(!a.subarray(2, 6).equals(b.subarray(2, 6)));
  });

  test('close, ping and pong', () => {
    assert.equal(encodeClose().toString('hex'), '8800');
    assert.equal(encodeClose(1000).toString('hex'), '880203e8');
    assert.equal(encodeClose(1000, 'bye').toString('hex'), '880503e8627965');
    assert.equal(encodePing().toString('hex'), '8900');
    assert.equal(encodePong(hex('0102')).toString('hex'), '8a020102');
    const [close] = parse(encodeClose(1011, 'déjà', { mask: KEY }));
    assert.equal(Buffer.from(close.payload).subarray(2).toString('utf8'), 'déjà');
  });

  test('encoder refuses frames RFC 6455 forbids', () => {
    assert.throws(() => encodeFrame({ opcode: Opcode.PING, payload: new Uint8Array(126) }), RangeError);
    assert.throws(() => encodeFrame({ opcode: Opcode.CLOSE, fin: false }), RangeError);
    assert.throws(() => encodeClose(1000, 'x'.repeat(124)), RangeError);
    assert.throws(() => encodeClose(undefined, 'reason'), RangeError);
    assert.throws(() => encodeFrame({ opcode: 16 }), RangeError);
    assert.throws(() => encodeFrame({ opcode: Opcode.BINARY, mask: new Uint8Array(3) }), RangeError);
  });
});
