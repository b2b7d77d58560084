import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { WsProtocolError, type WsErrorCode } from '../../src/protocol/errors';
import { Opcode, type WsFrame } from '../../src/protocol/ws/frame';
import { WsFrameParser, type WsDirection } from '../../src/protocol/ws/parser';
import { ChannelReader, type ChannelEvent, type ChannelReaderOptions } from '../../src/protocol/ws/message';
import { encodeBase64ChannelMessage, encodeChannelMessage, encodeFrame } from '../../src/protocol/ws/encoder';

// ---------------------------------------------------------------------------------------------
// Helpers

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

function ascii(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

/** Masks an unmasked frame written in hex (7-bit lengths only): what kubectl would send. */
function masked(frameHex: string, key = hex('01 02 03 04')): Uint8Array {
  const frame = hex(frameHex);
  assert.ok((frame[1] & 0x7f) < 126, 'helper handles 7-bit lengths only');
  const payload = frame.subarray(2).map((byte, i) => byte ^ key[i % 4]);
  return concat([Uint8Array.of(frame[0], frame[1] | 0x80), key, payload]);
}

type Normalized =
  | { type: 'data'; channel: number; data: string; first: boolean; last: boolean }
  | { type: 'empty-message' }
  | { type: 'control'; opcode: number; payload: string; closeCode?: number; closeReason?: string }
  | { type: 'text' | 'binary'; data: string; first: boolean; last: boolean }
  | { type: 'reserved'; opcode: number; fin: boolean; payload: string };

function normalize(event: ChannelEvent): Normalized {
  switch (event.type) {
    case 'data':
      return { ...event, data: toHex(event.data) };
    case 'text':
    case 'binary':
      return { ...event, data: toHex(event.data) };
    case 'control':
    case 'reserved':
      return { ...event, payload: toHex(event.payload) };
    case 'empty-message':
      return event;
  }
}

const data = (channel: number, bytes: string, first = true, last = true): Normalized => ({ type: 'data', channel, data: bytes.replace(/\s+/g, ''), first, last });

/**
 * Feeds `reads` (each one socket read) through a parser and a reader, checks that the frames'
 * raw bytes are exactly the input, and returns the events.
 */
function run(reads: readonly Uint8Array[], direction: WsDirection = 'any', readerOptions?: ChannelReaderOptions): Normalized[] {
  const parser = new WsFrameParser({ direction });
  const reader = new ChannelReader(readerOptions);
  const events: Normalized[] = [];
  const raws: Uint8Array[] = [];
  for (const read of reads) {
    for (const frame of parser.push(read)) {
      raws.push(frame.raw);
      for (const event of reader.push(frame)) events.push(normalize(event));
    }
  }
  assert.equal(toHex(concat(raws)), toHex(concat(reads)), 'bytes pass through unchanged');
  assert.equal(parser.buffered, 0);
  return events;
}

function assertCode(fn: () => unknown, code: WsErrorCode): WsProtocolError {
  let caught: unknown;
  assert.throws(fn, (error: unknown) => {
    caught = error;
    return error instanceof WsProtocolError && error.code === code;
  });
  return caught as WsProtocolError;
}

function frameOf(opcode: number, payload: Uint8Array, fin = true): WsFrame {
  return { fin, rsv: 0, opcode, masked: false, payload, raw: payload };
}

/** The 7-bit length byte (as 2 hex digits) of a payload written in hex. */
function lengthByte(payloadHex: string): string {
  return (payloadHex.length / 2).toString(16).padStart(2, '0');
}

const RESIZE = '04' + Buffer.from('{"width":10,"height":20}').toString('hex');
const RESIZE_JSON = RESIZE.slice(2);

// ---------------------------------------------------------------------------------------------

describe('tailscale Test_msg_Parse cases, re-expressed', () => {
  test('single_fragment_stdout_stream_no_payload_no_mask: 82 01 01 → stdout, empty data, first and last', () => {
    assert.deepEqual(run([hex('82 01 01')]), [data(1, '')]);
  });

  test('single_fragment_stderr_stream_no_payload_has_mask', () => {
    assert.deepEqual(run([masked('82 01 02')], 'client-to-server'), [data(2, '')]);
  });

  test('single_fragment_stdout_stream_no_mask_has_payload', () => {
    assert.deepEqual(run([hex('82 06 01 01 02 03 04 05')]), [data(1, '01 02 03 04 05')]);
  });

  test('single_fragment_stdout_stream_has_mask_has_payload (mask 01 02 03 04)', () => {
    assert.deepEqual(run([masked('82 06 01 01 02 03 04 05', hex('01 02 03 04'))], 'client-to-server'), [data(1, '01 02 03 04 05')]);
  });

  test('initial_fragment_stdout_stream_no_mask_has_payload: not final → first, not last', () => {
    assert.deepEqual(run([hex('02 03 01 07 08')]), [data(1, '07 08', true, false)]);
  });

  test('initial_fragment_stdout_stream_has_mask_has_payload', () => {
    assert.deepEqual(run([masked('02 03 01 07 08')], 'client-to-server'), [data(1, '07 08', true, false)]);
  });

  test('subsequent_fragment: the continuation payload 01 01 02 03 04 05 is ALL data (the peer wrongly strips its first byte as a channel byte)', () => {
    assert.deepEqual(run([hex('02 03 01 07 08'), hex('00 06 01 01 02 03 04 05')]), [
      data(1, '07 08', true, false),
      data(1, '01 01 02 03 04 05', false, false),
    ]);
  });

  test('subsequent_fragment, masked: same, the continuation keeps its leading 01', () => {
    assert.deepEqual(run([masked('02 03 01 07 08'), masked('00 06 01 01 02 03 04 05', hex('a1 b2 c3 d4'))], 'client-to-server'), [
      data(1, '07 08', true, false),
      data(1, '01 01 02 03 04 05', false, false),
    ]);
  });

  test('final_fragment: continuation 80 06 01 01 02 03 04 05 contributes 01 01 02 03 04 05, not the peer\'s 01 02 03 04 05', () => {
    const events = run([hex('02 03 01 07 08'), hex('00 02 01 09'), hex('80 06 01 01 02 03 04 05')]);
    assert.deepEqual(events, [data(1, '07 08', true, false), data(1, '01 09', false, false), data(1, '01 01 02 03 04 05', false, true)]);
  });

  test('final_fragment with a different first byte is not a "mismatched stream id" error: it is data', () => {
    assert.deepEqual(run([hex('02 02 01 07'), hex('80 02 02 08')]), [data(1, '07', true, false), data(1, '02 08', false, true)]);
  });

  for (const [name, sizes] of [
    ['single_large_fragment_no_mask_length_hint_126', [126, 127, 1000, 65535]],
    ['single_large_fragment_no_mask_length_hint_127', [65536, 70001, 1 << 20, 32 * 1024 * 1024]],
  ] as const) {
    test(`${name}: sizes ${sizes.join(', ')}`, () => {
      for (const size of sizes) {
        const payload = new Uint8Array(size);
        payload[0] = 1;
        payload[size - 1] = 0xee;
        const input = encodeFrame({ opcode: Opcode.BINARY, payload });
        assert.equal(input[1], size < 65536 ? 126 : 127);
        const reader = new ChannelReader();
        const frames = new WsFrameParser().push(input);
        const events = frames.flatMap((frame) => reader.push(frame));
        assert.equal(events.length, 1);
        const [event] = events;
        assert.ok(event.type === 'data' && event.channel === 1 && event.first && event.last);
        assert.equal(event.data.length, size - 1);
        assert.equal(event.data[size - 2], 0xee);
      }
    });
  }

  test('zero_length_bytes: no input gives no frames; a zero-length message is reported as empty-message (the peer errors)', () => {
    assert.deepEqual(run([new Uint8Array(0)]), []);
    assert.deepEqual(run([hex('82 00')]), [{ type: 'empty-message' }]);
  });
});

describe('tailscale Test_conn_Read cases (client → server, masked, resize on channel 4)', () => {
  test('continuation_frame_with_empty_payload: non-FIN resize + empty FIN continuation', () => {
    assert.deepEqual(run([masked(`02 ${lengthByte(RESIZE)} ${RESIZE}`), masked('80 00')], 'client-to-server'), [
      data(4, RESIZE_JSON, true, false),
      data(4, '', false, true),
    ]);
  });

  test('single_read_control_message: 88 00 → a close event without code', () => {
    assert.deepEqual(run([masked('88 00')], 'client-to-server'), [{ type: 'control', opcode: Opcode.CLOSE, payload: '' }]);
  });

  test('single_read_resize_message', () => {
    assert.deepEqual(run([masked(`82 ${lengthByte(RESIZE)} ${RESIZE}`)], 'client-to-server'), [data(4, RESIZE_JSON)]);
  });

  test('resize_data_frame_many: two reads, two resize messages', () => {
    const frame = masked(`82 ${lengthByte(RESIZE)} ${RESIZE}`);
    assert.deepEqual(run([frame, frame], 'client-to-server'), [data(4, RESIZE_JSON), data(4, RESIZE_JSON)]);
  });

  test('control_then_data_in_one_read', () => {
    const input = concat([masked('88 00'), masked(`82 ${lengthByte(RESIZE)} ${RESIZE}`)]);
    assert.deepEqual(run([input], 'client-to-server'), [{ type: 'control', opcode: Opcode.CLOSE, payload: '' }, data(4, RESIZE_JSON)]);
  });

  test('resize_data_frame_two_in_one_read', () => {
    const frame = masked(`82 ${lengthByte(RESIZE)} ${RESIZE}`);
    assert.deepEqual(run([concat([frame, frame])], 'client-to-server'), [data(4, RESIZE_JSON), data(4, RESIZE_JSON)]);
  });

  test('two_reads_resize_message: the final continuation\'s leading 04 is data (the peer strips it as a channel byte)', () => {
    const part1 = '04' + Buffer.from('{"width":10,').toString('hex');
    const part2 = '04' + Buffer.from('"height":20}').toString('hex');
    const events = run([masked(`02 ${lengthByte(part1)} ${part1}`), masked(`80 ${lengthByte(part2)} ${part2}`)], 'client-to-server');
    assert.deepEqual(events, [data(4, part1.slice(2), true, false), data(4, part2, false, true)]);
  });

  test('three_reads_resize_message_with_split_fragment: the middle fragment arrives in two reads', () => {
    const part1 = '04' + Buffer.from('{"width":').toString('hex');
    const part2 = Buffer.from('10,"heig').toString('hex');
    const part3 = Buffer.from('ht":20}').toString('hex');
    const middle = masked(`00 ${lengthByte(part2)} ${part2}`);
    const events = run(
      [masked(`02 ${lengthByte(part1)} ${part1}`), middle.subarray(0, 5), middle.subarray(5), masked(`80 ${lengthByte(part3)} ${part3}`)],
      'client-to-server',
    );
    assert.deepEqual(events, [data(4, part1.slice(2), true, false), data(4, part2, false, false), data(4, part3, false, true)]);
    const json = Buffer.from(events.map((e) => (e.type === 'data' ? e.data : '')).join(''), 'hex').toString();
    assert.deepEqual(JSON.parse(json), { width: 10, height: 20 });
  });
});

describe('tailscale Test_conn_Write cases (server → client, unmasked)', () => {
  test('continuation_frame_with_empty_payload: two writes', () => {
    assert.deepEqual(run([hex('02 03 01 07 08'), hex('80 00')], 'server-to-client'), [data(1, '07 08', true, false), data(1, '', false, true)]);
  });

  test('continuation_frame_with_empty_payload_single_write', () => {
    assert.deepEqual(run([hex('02 03 01 07 08 80 00')], 'server-to-client'), [data(1, '07 08', true, false), data(1, '', false, true)]);
  });

  test('single_write_control_frame', () => {
    assert.deepEqual(run([hex('88 02 03 e8')], 'server-to-client'), [{ type: 'control', opcode: Opcode.CLOSE, payload: '03e8', closeCode: 1000, closeReason: '' }]);
  });

  test('single_write_stdout / stderr / stdin data messages', () => {
    assert.deepEqual(run([hex('82 03 01 07 08')], 'server-to-client'), [data(1, '07 08')]);
    assert.deepEqual(run([hex('82 03 02 07 08')], 'server-to-client'), [data(2, '07 08')]);
    assert.deepEqual(run([hex('82 03 00 07 08')], 'server-to-client'), [data(0, '07 08')]);
  });

  test('two_writes_stdout_data_message: reassembles to 07 08 01 01 02 03 04 05 (peer: 07 08 01 02 03 04 05, its channel-byte bug)', () => {
    const events = run([hex('02 03 01 07 08'), hex('80 06 01 01 02 03 04 05')], 'server-to-client');
    assert.deepEqual(events.map((e) => (e.type === 'data' ? e.data : '?')).join(''), '07080101020304' + '05');
    assert.deepEqual(events, [data(1, '07 08', true, false), data(1, '01 01 02 03 04 05', false, true)]);
  });

  test('three_writes_stdout_data_message_with_split_fragment', () => {
    const final = hex('80 06 01 01 02 03 04 05');
    const events = run([hex('02 03 01 07 08'), final.subarray(0, 3), final.subarray(3)], 'server-to-client');
    assert.deepEqual(events, [data(1, '07 08', true, false), data(1, '01 01 02 03 04 05', false, true)]);
  });

  test('two_frames_in_one_write_data_then_close', () => {
    assert.deepEqual(run([hex('82 03 01 07 08 88 02 03 e8')], 'server-to-client'), [
      data(1, '07 08'),
      { type: 'control', opcode: Opcode.CLOSE, payload: '03e8', closeCode: 1000, closeReason: '' },
    ]);
  });

  test('two_data_frames_in_one_write', () => {
    assert.deepEqual(run([hex('82 03 01 07 08 82 03 02 09 0a')], 'server-to-client'), [data(1, '07 08'), data(2, '09 0a')]);
  });
});

describe('fragmentation and control frames', () => {
  test('ping, pong and close between fragments are reported and do not disturb the message', () => {
    const events = run([hex('02 02 01 41'), hex('89 02 aa bb'), hex('00 01 42'), hex('8a 00'), hex('88 06 03 e9 62 79 65 21'), hex('80 01 43')]);
    assert.deepEqual(events, [
      data(1, '41', true, false),
      { type: 'control', opcode: Opcode.PING, payload: 'aabb' },
      data(1, '42', false, false),
      { type: 'control', opcode: Opcode.PONG, payload: '' },
      { type: 'control', opcode: Opcode.CLOSE, payload: '03e962796521', closeCode: 1001, closeReason: 'bye!' },
      data(1, '43', false, true),
    ]);
  });

  test('an empty first fragment takes its channel from the next non-empty fragment', () => {
    assert.deepEqual(run([hex('02 00 00 00 00 03 02 41 42 80 01 43')]), [data(2, '41 42', true, false), data(2, '43', false, true)]);
    assert.deepEqual(run([hex('02 00 80 01 01')]), [data(1, '')]);
    assert.deepEqual(run([hex('02 00 80 03 01 41 42')]), [data(1, '41 42')]);
  });

  test('empty middle fragments yield nothing; an empty final fragment still yields the last event', () => {
    assert.deepEqual(run([hex('02 02 01 41 00 00 00 00 80 00')]), [data(1, '41', true, false), data(1, '', false, true)]);
  });

  test('a message with zero bytes in total is one empty-message, fragmented or not', () => {
    assert.deepEqual(run([hex('82 00')]), [{ type: 'empty-message' }]);
    assert.deepEqual(run([hex('02 00 00 00 89 00 80 00')]), [{ type: 'control', opcode: Opcode.PING, payload: '' }, { type: 'empty-message' }]);
  });

  test('channel-only messages (the apiserver\'s "ready" marker [0x01]) are channel events with empty data', () => {
    assert.deepEqual(run([hex('82 01 01 82 01 02 82 01 03')]), [data(1, ''), data(2, ''), data(3, '')]);
  });

  test('v5 close signal [255, 0] is a channel-255 data event with data [0]', () => {
    assert.deepEqual(run([masked('82 02 ff 00')], 'client-to-server'), [data(255, '00')]);
  });

  test('close frames: code and UTF-8 reason parsed, invalid UTF-8 replaced, empty close has no code', () => {
    assert.deepEqual(run([hex('88 00')]), [{ type: 'control', opcode: Opcode.CLOSE, payload: '' }]);
    const [withReason] = run([concat([hex('88 08 03 e8'), Buffer.from('déjà')])]);
    assert.ok(withReason.type === 'control');
    assert.equal(withReason.closeCode, 1000);
    assert.equal(withReason.closeReason, 'déjà');
    const [invalid] = run([hex('88 04 0f a0 ff fe')]);
    assert.ok(invalid.type === 'control');
    assert.equal(invalid.closeCode, 4000);
    assert.equal(invalid.closeReason, '\ufffd\ufffd');
  });

  test('a 1-byte close payload handed to the reader directly is WS_BAD_CLOSE_FRAME', () => {
    assertCode(() => new ChannelReader().push(frameOf(Opcode.CLOSE, hex('03'))), 'WS_BAD_CLOSE_FRAME');
  });

  test('text messages in binary mode are reported as text events, fragment by fragment, bytes as they are', () => {
    const events = run([hex('81 05 68 65 6c 6c 6f'), hex('01 02 01 61 00 00 80 01 62'), hex('82 02 01 41')]);
    assert.deepEqual(events, [
      { type: 'text', data: '68656c6c6f', first: true, last: true },
      { type: 'text', data: '0161', first: true, last: false },
      { type: 'text', data: '62', first: false, last: true },
      data(1, '41'),
    ]);
    assert.deepEqual(run([hex('81 00')]), [{ type: 'text', data: '', first: true, last: true }]);
  });

  test('reserved opcodes are reported and do not start, continue or end a message', () => {
    const events = run([hex('02 02 01 41 83 01 aa 8b 00 80 01 42')]);
    assert.deepEqual(events, [
      data(1, '41', true, false),
      { type: 'reserved', opcode: 0x3, fin: true, payload: 'aa' },
      { type: 'reserved', opcode: 0xb, fin: true, payload: '' },
      data(1, '42', false, true),
    ]);
  });

  test('orphan continuation is WS_UNEXPECTED_CONTINUATION, and the reader is poisoned afterwards', () => {
    const reader = new ChannelReader();
    const error = assertCode(() => reader.push(frameOf(Opcode.CONTINUATION, hex('01 41'))), 'WS_UNEXPECTED_CONTINUATION');
    assert.throws(() => reader.push(frameOf(Opcode.BINARY, hex('01 41'))), (e: unknown) => e === error);
    // After a complete message, a continuation is an orphan too.
    const after = new ChannelReader();
    after.push(frameOf(Opcode.BINARY, hex('01 41')));
    assertCode(() => after.push(frameOf(Opcode.CONTINUATION, hex('42'))), 'WS_UNEXPECTED_CONTINUATION');
  });

  test('a new binary or text frame while a message is in progress is WS_EXPECTED_CONTINUATION', () => {
    const binary = new ChannelReader();
    binary.push(frameOf(Opcode.BINARY, hex('01 41'), false));
    assertCode(() => binary.push(frameOf(Opcode.BINARY, hex('01 42'))), 'WS_EXPECTED_CONTINUATION');
    const text = new ChannelReader();
    text.push(frameOf(Opcode.BINARY, hex('01 41'), false));
    assertCode(() => text.push(frameOf(Opcode.TEXT, hex('41'))), 'WS_EXPECTED_CONTINUATION');
  });

  test('inMessage tracks a fragmented message in progress', () => {
    const reader = new ChannelReader();
    assert.equal(reader.inMessage, false);
    reader.push(frameOf(Opcode.BINARY, hex('01'), false));
    assert.equal(reader.inMessage, true);
    reader.push(frameOf(Opcode.PING, hex('')));
    assert.equal(reader.inMessage, true);
    reader.push(frameOf(Opcode.CONTINUATION, hex('41')));
    assert.equal(reader.inMessage, false);
  });
});

describe('reassembled message cap', () => {
  test('many small fragments crossing maxMessageSize fail with WS_PAYLOAD_TOO_LARGE at the frame that crosses it', () => {
    const reader = new ChannelReader({ maxMessageSize: 1000 });
    reader.push(frameOf(Opcode.BINARY, new Uint8Array(10).fill(1), false));
    for (let i = 1; i < 100; i++) reader.push(frameOf(Opcode.CONTINUATION, new Uint8Array(10), false)); // exactly 1000
    assertCode(() => reader.push(frameOf(Opcode.CONTINUATION, new Uint8Array(1))), 'WS_PAYLOAD_TOO_LARGE');
  });

  test('the cap is per message: many messages of exactly maxMessageSize are fine', () => {
    const reader = new ChannelReader({ maxMessageSize: 100 });
    for (let i = 0; i < 50; i++) {
      reader.push(frameOf(Opcode.BINARY, new Uint8Array(60).fill(1), false));
      reader.push(frameOf(Opcode.CONTINUATION, new Uint8Array(40)));
    }
  });

  test('default cap is 32 MiB across 1 MiB frames (no frame is too large on its own)', () => {
    const reader = new ChannelReader();
    const MiB = new Uint8Array(1 << 20);
    reader.push(frameOf(Opcode.BINARY, MiB, false));
    for (let i = 1; i < 32; i++) reader.push(frameOf(Opcode.CONTINUATION, MiB, false));
    assertCode(() => reader.push(frameOf(Opcode.CONTINUATION, new Uint8Array(1))), 'WS_PAYLOAD_TOO_LARGE');
  });

  test('text messages in binary mode count against the cap too', () => {
    const reader = new ChannelReader({ maxMessageSize: 5 });
    reader.push(frameOf(Opcode.TEXT, ascii('abc'), false));
    assertCode(() => reader.push(frameOf(Opcode.CONTINUATION, ascii('def'))), 'WS_PAYLOAD_TOO_LARGE');
  });
});

describe('base64 subprotocols (base64.channel.k8s.io, v4.base64.channel.k8s.io)', () => {
  const b64 = { encoding: 'base64' } as const;

  test('a text message "1QUJD" is stdout "ABC"', () => {
    assert.deepEqual(run([concat([hex('81 05'), ascii('1QUJD')])], 'any', b64), [data(1, Buffer.from('ABC').toString('hex'))]);
  });

  test('channel-only and padded messages; channels 0–4', () => {
    assert.deepEqual(run([concat([hex('81 01'), ascii('3')])], 'any', b64), [data(3, '')]);
    for (let channel = 0; channel <= 4; channel++) {
      const text = `${channel}${Buffer.from('hi!?').toString('base64')}`; // "aGkhPw==" is padded
      assert.deepEqual(run([concat([Uint8Array.of(0x81, text.length), ascii(text)])], 'any', b64), [data(channel, Buffer.from('hi!?').toString('hex'))]);
    }
  });

  test('a base64 payload split across two fragments at every offset, and three fragments, decodes to the same bytes', () => {
    const original = Buffer.from(Array.from({ length: 50 }, (_, i) => (i * 37 + 11) & 0xff));
    const text = ascii(`2${original.toString('base64')}`); // 1 + 68 characters, ends in "=="
    for (let cut = 0; cut <= text.length; cut++) {
      for (const cut2 of [cut, Math.min(text.length, cut + 1), Math.min(text.length, cut + 5)]) {
        const frames = [
          encodeFrame({ fin: false, opcode: Opcode.TEXT, payload: text.subarray(0, cut) }),
          encodeFrame({ fin: false, opcode: Opcode.CONTINUATION, payload: text.subarray(cut, cut2) }),
          encodeFrame({ opcode: Opcode.CONTINUATION, payload: text.subarray(cut2) }),
        ];
        const events = run(frames, 'any', b64);
        const decoded = events.map((e) => (e.type === 'data' ? e.data : 'not-data')).join('');
        assert.equal(decoded, original.toString('hex'), `cuts ${cut}, ${cut2}`);
        assert.ok(events.every((e) => e.type === 'data' && e.channel === 2));
        assert.equal(events.filter((e) => e.type === 'data' && e.first).length, 1);
        assert.equal(events.filter((e) => e.type === 'data' && e.last).length, 1);
        const lastEvent = events.at(-1);
        assert.ok(lastEvent?.type === 'data' && lastEvent.last, 'the message ends with its last event');
      }
    }
  });

  test('binary frames in base64 mode are reported as binary events', () => {
    assert.deepEqual(run([hex('82 02 01 41')], 'any', b64), [{ type: 'binary', data: '0141', first: true, last: true }]);
  });

  test('an empty text message is an empty-message; orphan continuation is still an error', () => {
    assert.deepEqual(run([hex('81 00')], 'any', b64), [{ type: 'empty-message' }]);
    assertCode(() => run([hex('80 01 41')], 'any', b64), 'WS_UNEXPECTED_CONTINUATION');
  });
});

describe('encoder: channel messages round-trip through parser and reader', () => {
  const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);

  for (const fragmentSize of [undefined, 1, 2, 7, 126, 4096, 5001, 10000]) {
    for (const mask of [false, true]) {
      test(`binary, fragmentSize ${fragmentSize ?? 'none'}, ${mask ? 'masked' : 'unmasked'}`, () => {
        const input = encodeChannelMessage(1, payload, { fragmentSize, mask });
        const frames = new WsFrameParser({ direction: mask ? 'client-to-server' : 'server-to-client' }).push(input);
        const expectedFrames = Math.ceil(5001 / (fragmentSize ?? 5001));
        assert.equal(frames.length, expectedFrames);
        assert.deepEqual(frames.map((f) => f.opcode), [Opcode.BINARY, ...Array<number>(expectedFrames - 1).fill(Opcode.CONTINUATION)]);
        assert.deepEqual(frames.map((f) => f.fin), [...Array<boolean>(expectedFrames - 1).fill(false), true]);
        if (expectedFrames > 1) assert.equal(frames[1].payload[0], payload[(fragmentSize ?? 0) - 1], 'no channel byte on continuations');
        const reader = new ChannelReader();
        const events = frames.flatMap((frame) => reader.push(frame));
        const bytes = concat(events.map((e) => (e.type === 'data' && e.channel === 1 ? e.data : new Uint8Array(0))));
        assert.equal(toHex(bytes), toHex(payload));
      });

      test(`base64, fragmentSize ${fragmentSize ?? 'none'}, ${mask ? 'masked' : 'unmasked'}`, () => {
        const input = encodeBase64ChannelMessage(2, payload, { fragmentSize, mask });
        const frames = new WsFrameParser().push(input);
        assert.equal(frames[0].opcode, Opcode.TEXT);
        const reader = new ChannelReader({ encoding: 'base64' });
        const events = frames.flatMap((frame) => reader.push(frame));
        const bytes = concat(events.map((e) => (e.type === 'data' && e.channel === 2 ? e.data : new Uint8Array(0))));
        assert.equal(toHex(bytes), toHex(payload));
      });
    }
  }

  test('channel-only and v5 close messages encode as expected', () => {
    assert.equal(encodeChannelMessage(1, new Uint8Array(0)).toString('hex'), '820101');
    assert.equal(encodeChannelMessage(255, Uint8Array.of(0)).toString('hex'), '8202ff00');
    assert.equal(encodeBase64ChannelMessage(1, ascii('ABC')).toString('hex'), '8105' + Buffer.from('1QUJD').toString('hex'));
    assert.throws(() => encodeChannelMessage(256, new Uint8Array(0)), RangeError);
    assert.throws(() => encodeBase64ChannelMessage(10, new Uint8Array(0)), RangeError);
    assert.throws(() => encodeChannelMessage(1, new Uint8Array(0), { fragmentSize: 0 }), RangeError);
  });
});
