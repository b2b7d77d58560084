import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CastWriter, type CastHeader } from '../../src/cast';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

function baseHeader(overrides: Partial<CastHeader> = {}): CastHeader {
  return {
    version: 2,
    width: 80,
    height: 24,
    timestamp: 1700000000,
    srcNode: '10.0.0.7',
    srcNodeID: '',
    env: null,
    sshUser: '',
    localUser: '',
    connectionID: '',
    ...overrides,
  };
}

/** Parses one writer line, checking it is exactly one JSON value followed by one newline. */
function parseLine(line: string): unknown {
  assert.ok(line.endsWith('\n'), `line must end with a newline: ${JSON.stringify(line)}`);
  assert.equal(line.indexOf('\n'), line.length - 1, 'a line holds exactly one newline');
  return JSON.parse(line);
}

/** Splits a writer's return value (zero or more lines) into parsed events. */
function parseLines(text: string): Array<[number, string, string]> {
  if (text === '') return [];
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => parseLine(line + '\n') as [number, string, string]);
}

function outputText(lines: string[]): string {
  return lines.flatMap(parseLines).filter(([, code]) => code === 'o').map(([, , data]) => data).join('');
}

describe('CastWriter header', () => {
  test('keys come in the peer order, then the asciicast extras, then kubecast', () => {
    // Properties deliberately given out of order: the writer pins the order itself.
    const writer = new CastWriter({
      kubecast: {
        id: 'rec-1',
        user: 'alice',
        cluster: 'local',
        protocol: 'websocket',
        tty: true,
        startedAt: '2026-01-02T03:04:05.000Z',
        command: ['sh', '-c', 'echo hi'],
      },
      title: 'demo',
      idle_time_limit: 2,
      kubernetes: { SessionType: 'exec', Container: 'app', Namespace: 'default', PodName: 'web-0' },
      connectionID: 'conn-1',
      localUser: '',
      sshUser: '',
      env: { TERM: 'xterm-256color' },
      srcNodeUser: 'alice',
      srcNodeUserID: 42,
      srcNodeTags: ['tag:ci'],
      srcNodeID: 'node-1',
      srcNode: 'laptop',
      command: "sh -c 'echo hi'",
      timestamp: 1700000000,
      height: 24,
      width: 80,
      version: 2,
    });
    const line = writer.header();
    const header = parseLine(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(header), [
      'version', 'width', 'height', 'timestamp', 'command',
      'srcNode', 'srcNodeID', 'srcNodeTags', 'srcNodeUserID', 'srcNodeUser',
      'env', 'sshUser', 'localUser', 'connectionID', 'kubernetes',
      'idle_time_limit', 'title', 'kubecast',
    ]);
    assert.deepEqual(Object.keys(header.kubernetes as object), ['PodName', 'Namespace', 'Container', 'SessionType']);
    assert.equal(header.version, 2);
    assert.deepEqual(header.env, { TERM: 'xterm-256color' });
    assert.deepEqual((header.kubecast as { command: string[] }).command, ['sh', '-c', 'echo hi']);
    assert.equal(writer.header(), line, 'header() is stable');
  });

  test('empty optional peer fields are omitted and env is null, as the peer writes them', () => {
    const header = parseLine(new CastWriter(baseHeader({ width: 0, height: 0, command: '', srcNodeTags: [], srcNodeUserID: 0, srcNodeUser: '' })).header());
    assert.equal(
      JSON.stringify(header),
      '{"version":2,"width":0,"height":0,"timestamp":1700000000,"srcNode":"10.0.0.7","srcNodeID":"","env":null,"sshUser":"","localUser":"","connectionID":""}',
    );
  });

  test('a header matching the peer example serialises byte for byte like the peer', () => {
    const line = new CastWriter(
      baseHeader({
        command: '/bin/sh',
        srcNode: 'laptop.tail-net.ts.net',
        srcNodeID: 'nABC123CNTRL',
        srcNodeUserID: 12345,
        srcNodeUser: 'alice@example.com',
        kubernetes: { PodName: 'web-0', Namespace: 'default', Container: 'app', SessionType: 'exec' },
      }),
    ).header();
    assert.equal(
      line,
      '{"version":2,"width":80,"height":24,"timestamp":1700000000,"command":"/bin/sh","srcNode":"laptop.tail-net.ts.net","srcNodeID":"nABC123CNTRL","srcNodeUserID":12345,"srcNodeUser":"alice@example.com","env":null,"sshUser":"","localUser":"","connectionID":"","kubernetes":{"PodName":"web-0","Namespace":"default","Container":"app","SessionType":"exec"}}\n',
    );
  });

  test('keys the type does not know are not written', () => {
    const header = { ...baseHeader(), secret: 'x' } as CastHeader;
    assert.ok(!('secret' in (parseLine(new CastWriter(header).header()) as object)));
  });

  test('invalid sizes are refused', () => {
    assert.throws(() => new CastWriter(baseHeader({ width: -1 })), RangeError);
    assert.throws(() => new CastWriter(baseHeader({ height: 1.5 })), RangeError);
    assert.throws(() => new CastWriter(baseHeader({ timestamp: Number.NaN })), RangeError);
  });
});

describe('CastWriter output decoding', () => {
  for (const sample of ['日本語', '😀 emoji 🇯🇵 and é', 'a\u2028b€']) {
    test(`${JSON.stringify(sample)} split at every byte offset decodes intact`, () => {
      const bytes = encode(sample);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const writer = new CastWriter(baseHeader());
        const lines = [writer.output(1, 'stdout', bytes.subarray(0, cut)), writer.output(2, 'stdout', bytes.subarray(cut)), writer.end(3)];
        assert.equal(outputText(lines), sample, `cut at byte ${cut}`);
        assert.ok(!outputText(lines).includes('\uFFFD'));
      }
    });
  }

  test('a character split into single bytes, one frame each, comes out once complete', () => {
    const writer = new CastWriter(baseHeader());
    const bytes = encode('😀');
    const lines = Array.from(bytes, (byte, i) => writer.output(i, 'stdout', Uint8Array.of(byte)));
    assert.deepEqual(lines.slice(0, 3), ['', '', '']);
    assert.deepEqual(parseLines(lines[3]), [[3, 'o', '😀']]);
  });

  test('stdout and stderr characters split and interleaved do not corrupt each other', () => {
    const out = encode('日本');
    const err = encode('€😀');
    const writer = new CastWriter(baseHeader());
    const lines = [
      writer.output(0.1, 'stdout', out.subarray(0, 2)), // half of 日
      writer.output(0.2, 'stderr', err.subarray(0, 1)), // first byte of €
      writer.output(0.3, 'stdout', out.subarray(2, 4)), // rest of 日, first byte of 本
      writer.output(0.4, 'stderr', err.subarray(1, 5)), // rest of €, 2 bytes of 😀
      writer.output(0.5, 'stdout', out.subarray(4)),
      writer.output(0.6, 'stderr', err.subarray(5)),
    ];
    assert.deepEqual(lines.map(parseLines), [
      [],
      [],
      [[0.3, 'o', '日']],
      [[0.4, 'o', '€']],
      [[0.5, 'o', '本']],
      [[0.6, 'o', '😀']],
    ]);
    assert.equal(writer.end(1), '');
  });

  test('stdin has its own decoder and writes i events', () => {
    const writer = new CastWriter(baseHeader());
    const pw = encode('pässword\r');
    assert.equal(writer.output(0.1, 'stdout', encode('é').subarray(0, 1)), '');
    assert.deepEqual(parseLines(writer.input(0.2, pw.subarray(0, 2))), [[0.2, 'i', 'p']]);
    assert.deepEqual(parseLines(writer.input(0.3, pw.subarray(2))), [[0.3, 'i', 'ässword\r']]);
    assert.deepEqual(parseLines(writer.output(0.4, 'stdout', encode('é').subarray(1))), [[0.4, 'o', 'é']]);
  });

  test('invalid bytes become U+FFFD', () => {
    const writer = new CastWriter(baseHeader());
    const [[, , text]] = parseLines(writer.output(1, 'stdout', Uint8Array.of(0x61, 0xff, 0x62, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x63)));
    // 0xff, a lead byte followed by a non-continuation, and an encoded surrogate are all invalid.
    assert.equal(text, 'a\uFFFDb\uFFFD(\uFFFD\uFFFD\uFFFDc');
  });

  test('a leading byte order mark is recorded, not swallowed', () => {
    const writer = new CastWriter(baseHeader());
    assert.deepEqual(parseLines(writer.output(0, 'stdout', Uint8Array.of(0xef, 0xbb, 0xbf, 0x41))), [[0, 'o', '\uFEFFA']]);
  });

  test('end() flushes a dangling partial sequence as U+FFFD, per stream', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.output(1, 'stdout', Uint8Array.of(0x41, 0xe6, 0x97)), parseLinesText([[1, 'o', 'A']]));
    assert.equal(writer.output(2, 'stderr', Uint8Array.of(0xf0, 0x9f)), '');
    assert.equal(writer.input(3, Uint8Array.of(0xc3)), '');
    assert.deepEqual(parseLines(writer.end(4)), [
      [4, 'o', '\uFFFD'],
      [4, 'o', '\uFFFD'],
      [4, 'i', '\uFFFD'],
    ]);
    assert.equal(writer.end(5), '', 'nothing left after a flush');
  });

  test('empty frames write nothing', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.output(1, 'stdout', new Uint8Array(0)), '');
    assert.equal(writer.input(1, new Uint8Array(0)), '');
  });

  test('control characters, escapes, quotes and line separators survive JSON.parse', () => {
    const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
    const sample = `${controls}\x7f\x1b[1;31mred\x1b[0m "quoted" back\\slash \u2028 \u2029 \u0085 </script> & é`;
    const writer = new CastWriter(baseHeader());
    const line = writer.output(0, 'stdout', encode(sample));
    assert.deepEqual(parseLines(line), [[0, 'o', sample]]);
    // Line-break look-alikes are escaped so line readers that honour them cannot split a line.
    assert.ok(!/[\u2028\u2029\u0085\r]/.test(line), line);
    assert.match(line, /\\u2028 \\u2029 \\u0085/);
  });

  test('marker labels with line separators are escaped too, and the header as well', () => {
    const writer = new CastWriter(baseHeader({ title: 'a\u2028b' }));
    assert.ok(!writer.header().includes('\u2028'));
    assert.equal((parseLine(writer.header()) as { title: string }).title, 'a\u2028b');
    assert.deepEqual(parseLines(writer.marker(1, 'x\u2029y')), [[1, 'm', 'x\u2029y']]);
  });
});

describe('CastWriter times and events', () => {
  test('times keep microsecond precision and never use exponent notation', () => {
    const writer = new CastWriter(baseHeader());
    const prefix = (line: string) => line.slice(0, line.indexOf(','));
    assert.equal(prefix(writer.marker(0, '')), '[0');
    assert.equal(prefix(writer.marker(0.000001, '')), '[0.000001');
    assert.equal(prefix(writer.marker(0.0000014, '')), '[0.000001', 'rounded to the microsecond');
    assert.equal(prefix(writer.marker(0.0000026, '')), '[0.000003');
    assert.equal(prefix(writer.marker(12.123456789, '')), '[12.123457');
    assert.equal(prefix(writer.marker(12.5, '')), '[12.5');
    assert.equal(prefix(writer.marker(86400 * 30 + 0.000007, '')), '[2592000.000007', 'a month in, still microseconds');
    assert.equal(prefix(writer.marker(1e9 + 0.5, '')), '[1000000000.5');
  });

  test('times never decrease: earlier, negative and non-finite times are clamped to the last one', () => {
    const writer = new CastWriter(baseHeader());
    const times = [-1, 0.5, 0.25, 2, Number.NaN, Number.POSITIVE_INFINITY, 1.9999999, 3].map(
      (time) => (parseLine(writer.marker(time, '')) as [number])[0],
    );
    assert.deepEqual(times, [0, 0.5, 0.5, 2, 2, 2, 2, 3]);
    assert.equal(writer.lastTime, 3);
  });

  test('a frame that only starts a character does not move the clock', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.output(5, 'stdout', Uint8Array.of(0xe6)), '');
    assert.equal(writer.lastTime, 0);
    assert.deepEqual(parseLines(writer.marker(1, '')), [[1, 'm', '']]);
  });

  test('resize is COLSxROWS (the asciicast order), and bad sizes are refused', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.resize(1.5, 132, 50), '[1.5,"r","132x50"]\n');
    assert.throws(() => writer.resize(2, -1, 10), RangeError);
    assert.throws(() => writer.resize(2, 80, 70000), RangeError);
    assert.throws(() => writer.resize(2, 80.5, 24), RangeError);
  });

  test('exit writes an x event with the status as a string', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.exit(9.25, 7), '[9.25,"x","7"]\n');
    assert.equal(writer.exit(9.5, 'signal: killed'), '[9.5,"x","signal: killed"]\n');
  });

  test('marker writes an m event; the label defaults to empty', () => {
    const writer = new CastWriter(baseHeader());
    assert.equal(writer.marker(1), '[1,"m",""]\n');
    assert.equal(writer.marker(2, 'deploy "v2"'), '[2,"m","deploy \\"v2\\""]\n');
  });

  test('every line of a whole session is valid JSON', () => {
    const writer = new CastWriter(baseHeader());
    const text = [
      writer.header(),
      writer.output(0.1, 'stdout', encode('\x1b[?1049h$ ')),
      writer.input(0.2, encode('ls\r')),
      writer.output(0.3, 'stderr', encode('warn\n')),
      writer.resize(0.4, 100, 40),
      writer.marker(0.5, 'm'),
      writer.output(0.6, 'stdout', Uint8Array.of(0xe2, 0x82)),
      writer.exit(0.7, 0),
      writer.end(0.8),
    ].join('');
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', 'the text ends with a newline');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    // The partial € wrote nothing at 0.6; end() flushed it after the exit event.
    assert.equal(lines.length, 8);
    assert.deepEqual(JSON.parse(lines[7]), [0.8, 'o', '\uFFFD']);
  });
});

function parseLinesText(events: Array<[number, string, string]>): string {
  return events.map((event) => JSON.stringify(event) + '\n').join('');
}

describe('CastWriter.outputLine (the byte path)', () => {
  test('gives exactly the UTF-8 bytes of output() for any bytes and framing (fast-check)', async () => {
    const fc = (await import('fast-check')).default;
    const header: CastHeader = { version: 2, width: 80, height: 24, timestamp: 0, srcNode: '', srcNodeID: '', env: null, sshUser: '', localUser: '', connectionID: '' };
    const interesting = fc.constantFrom(
      ...[0x1b, 0x22, 0x5c, 0x0a, 0x0d, 0x09, 0x00, 0x7f, 0xc2, 0x85, 0xe2, 0x80, 0xa8, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x41],
    );
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(interesting, fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), { maxLength: 12 }), (frames) => {
        const text = new CastWriter(header);
        const bytes = new CastWriter(header);
        frames.forEach((frame, i) => {
          const data = Uint8Array.from(frame);
          const stream = i % 3 === 2 ? 'stderr' : 'stdout';
          const expected = text.output(i, stream, data);
          const got = bytes.outputLine(i, stream, data);
          assert.deepEqual(got ?? Buffer.alloc(0), Buffer.from(expected));
        });
        assert.equal(bytes.end(99), text.end(99));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

describe('CastWriter.outputLine on repeated patterns', () => {
  const header: CastHeader = { version: 2, width: 80, height: 24, timestamp: 0, srcNode: '', srcNodeID: '', env: null, sshUser: '', localUser: '', connectionID: '' };
  for (const [name, unit] of [
    ['NUL bytes (/dev/zero)', Buffer.from([0])],
    ['yes', Buffer.from('y\n')],
    ['a multibyte pattern', Buffer.from('日本\u2028')],
    ['quotes and backslashes', Buffer.from('"\\\x1b[0m')],
  ] as const) {
    test(`${name}: same line as the general path, any length`, () => {
      for (const length of [63, 64, 65, 1000, 32 * 1024 + 3]) {
        const data = Buffer.alloc(Math.ceil(length / unit.byteLength) * unit.byteLength);
        for (let i = 0; i < data.byteLength; i += unit.byteLength) unit.copy(data, i);
        // Cut on a character boundary so both writers see whole characters.
        let end = Math.min(length, data.byteLength);
        while (end < data.byteLength && (data[end] & 0xc0) === 0x80) end++;
        const frame = data.subarray(0, end);
        const expected = new CastWriter(header).output(1, 'stdout', frame);
        assert.equal(new CastWriter(header).outputLine(1, 'stdout', frame)?.toString(), expected, `length ${length}`);
      }
    });
  }
});
