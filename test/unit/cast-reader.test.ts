import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CastLineParser, CastParseError, CastWriter, parseCast, type CastHeader, type OutputStream } from '../../src/cast';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'casts');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');

const header = (extra = ''): string => `{"version": 2, "width": 80, "height": 24${extra}}\n`;

function parseError(text: string): CastParseError {
  try {
    parseCast(text);
  } catch (error) {
    assert.ok(error instanceof CastParseError, `expected CastParseError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a CastParseError');
}

describe('parseCast fixtures', () => {
  test('v1: one JSON document, relative delays become absolute times', () => {
    const cast = parseCast(fixture('v1.cast'));
    assert.equal(cast.version, 1);
    assert.equal(cast.header.cols, 100);
    assert.equal(cast.header.rows, 30);
    assert.equal(cast.header.command, '/bin/zsh');
    assert.equal(cast.header.title, 'v1 demo');
    assert.deepEqual(cast.header.env, { TERM: 'xterm-256color', SHELL: '/bin/zsh' });
    assert.deepEqual(cast.events, [
      { time: 0.25, code: 'o', data: '\x1b[1;31mHello \x1b[32mWorld!\x1b[0m\r\n' },
      { time: 1.25, code: 'o', data: '日本語\r\n' },
      { time: 1.75, code: 'o', data: 'bye' },
    ]);
    assert.equal(cast.duration, 1.75);
    assert.equal(cast.truncated, false);
  });

  test('v1 written on a single line is read too', () => {
    const cast = parseCast('{"version":1,"width":80,"height":24,"stdout":[[0.5,"a"],[0.25,"b"]]}\n');
    assert.deepEqual(cast.events, [
      { time: 0.5, code: 'o', data: 'a' },
      { time: 0.75, code: 'o', data: 'b' },
    ]);
  });

  test('v2: absolute times, blank lines skipped, unknown codes skipped, header fields normalised', () => {
    const cast = parseCast(fixture('v2.cast'));
    assert.equal(cast.version, 2);
    const { raw, ...info } = cast.header;
    assert.deepEqual(info, {
      cols: 120,
      rows: 40,
      timestamp: 1504467315,
      command: '/bin/bash',
      title: 'v2 demo',
      idleTimeLimit: 2.5,
      env: { TERM: 'xterm-256color', SHELL: '/bin/bash' },
      theme: { fg: '#d0d0d0', bg: '#212121', palette: '#151515:#ac4142:#7e8e50:#e5b567:#6c99bb:#9f4e85:#7dd6cf:#d0d0d0' },
    });
    assert.equal(raw.width, 120);
    assert.deepEqual(cast.events, [
      { time: 0.248848, code: 'o', data: '\x1b[1;31mHello \x1b[32mWorld!\x1b[0m\n' },
      { time: 1.001376, code: 'o', data: 'That was ok\rThis is better.' },
      { time: 1.5, code: 'm', data: 'checkpoint' },
      { time: 2.143733, code: 'i', data: 'ls\r' },
      { time: 4.05, code: 'r', data: '90x30' },
      { time: 6.541828, code: 'o', data: 'Bye!' },
    ]);
    assert.equal(cast.duration, 6.541828);
    assert.equal(cast.truncated, false);
  });

  test('v3: intervals become absolute times, comments skipped, unknown codes still advance the clock', () => {
    const cast = parseCast(fixture('v3.cast'));
    assert.equal(cast.version, 3);
    // Not 80×24: that is also the default, so only these show `term` was read.
    assert.equal(cast.header.cols, 100);
    assert.equal(cast.header.rows, 31);
    assert.equal(cast.header.idleTimeLimit, 1.5);
    assert.equal(cast.header.title, 'v3 demo');
    assert.equal(cast.header.theme?.bg, '#212121');
    assert.deepEqual(cast.events, [
      { time: 0.248, code: 'o', data: 'Hello\n' },
      { time: 1.249, code: 'o', data: 'That was ok\rThis is better.' },
      { time: 1.749, code: 'm', data: '' },
      // the skipped "q" line took 0.1 s
      { time: 1.992, code: 'o', data: 'Now... ' },
      { time: 4.042, code: 'r', data: '90x30' },
      { time: 5.583, code: 'o', data: 'Bye!' },
      { time: 6.47, code: 'x', data: '0' },
    ]);
    assert.equal(cast.duration, 6.47);
  });

  test("the peer's casts: 0×0 means 80×24, rows-first resizes are swapped to COLSxROWS, identity kept", () => {
    const cast = parseCast(fixture('peer.cast'));
    assert.equal(cast.header.cols, 80);
    assert.equal(cast.header.rows, 24);
    assert.equal(cast.header.raw.width, 0);
    assert.equal(cast.header.env, undefined, 'env: null is no env');
    assert.equal(cast.header.command, '/bin/sh');
    assert.deepEqual(cast.header.kubernetes, { PodName: 'web-0', Namespace: 'default', Container: 'app', SessionType: 'exec' });
    assert.equal(cast.header.raw.srcNodeUser, 'alice@example.com');
    assert.deepEqual(
      cast.events.filter((event) => event.code === 'r').map((event) => event.data),
      ['80x24', '132x50'],
    );
    // The peer can write events slightly out of order; the model never goes back in time.
    assert.deepEqual(
      cast.events.map((event) => event.time),
      [0.001, 0.5, 0.5, 1.25, 2],
    );
  });

  test('our own casts (with a kubecast key) are not swapped', () => {
    const text =
      '{"version":2,"width":80,"height":24,"timestamp":1,"srcNode":"x","srcNodeID":"","env":null,"sshUser":"","localUser":"","connectionID":"","kubecast":{"id":"r1","user":"u","cluster":"c","protocol":"spdy","tty":true,"startedAt":"2026-01-01T00:00:00Z","later":{"field":1}}}\n' +
      '[1,"r","132x50"]\n';
    const cast = parseCast(text);
    assert.deepEqual(cast.events, [{ time: 1, code: 'r', data: '132x50' }]);
    assert.equal(cast.header.kubecast?.protocol, 'spdy');
    assert.equal(cast.header.kubecast?.tty, true);
    assert.deepEqual(cast.header.kubecast?.later, { field: 1 }, 'fields from newer writers are kept');
  });

  test('known kubecast and kubernetes fields of the wrong type are dropped; __proto__ is ignored', () => {
    const cast = parseCast(
      header(',"kubecast":{"id":5,"protocol":"carrier-pigeon","tty":"yes","command":["sh",1],"__proto__":{"user":"mallory"}},"kubernetes":{"PodName":"p","SessionType":"ssh"}'),
    );
    assert.deepEqual({ ...cast.header.kubecast }, {});
    assert.equal(cast.header.kubecast?.user, undefined);
    assert.deepEqual(cast.header.kubernetes, { PodName: 'p' });
  });

  test('a broken line fails with its line number', () => {
    const error = parseError(fixture('broken.cast'));
    assert.equal(error.line, 3);
    assert.equal(error.message, 'line 3: not a JSON array');
  });

  test('a truncated last line (crash) is reported, everything before it kept', () => {
    const cast = parseCast(fixture('truncated.cast'));
    assert.equal(cast.truncated, true);
    assert.deepEqual(cast.events, [{ time: 0.1, code: 'o', data: 'kept' }]);
    assert.equal(cast.duration, 0.1);
  });
});

describe('parseCast edge cases and errors', () => {
  test('a complete last line without a newline is an ordinary event', () => {
    const cast = parseCast(header() + '[1, "o", "x"]');
    assert.equal(cast.truncated, false);
    assert.deepEqual(cast.events, [{ time: 1, code: 'o', data: 'x' }]);
  });

  test('CRLF line ends, whitespace-only lines and a BOM are tolerated', () => {
    const cast = parseCast('\uFEFF{"version": 2, "width": 80, "height": 24}\r\n  \r\n[1, "o", "x"]\r\n\t\n');
    assert.deepEqual(cast.events, [{ time: 1, code: 'o', data: 'x' }]);
  });

  test('an empty file and a file with only a cut header are errors', () => {
    assert.equal(parseError('').message, 'line 1: no asciicast header (empty file)');
    assert.equal(parseError('\n\n').line, 2);
    assert.match(parseError('{"version": 2, "wid').message, /^line 1: not an asciicast header/);
  });

  const errorCases: Array<[string, string, string]> = [
    ['not JSON header', 'hello\n', 'line 1: not an asciicast header (not valid JSON)'],
    ['array header', '[1, "o", "x"]\n', 'line 1: not an asciicast header (expected a JSON object with version 1, 2 or 3)'],
    ['version 4', '{"version": 4}\n', 'line 1: not an asciicast header (expected a JSON object with version 1, 2 or 3)'],
    ['comment first in v3', '# hi\n{"version": 3, "term": {"cols": 80, "rows": 24}}\n', 'line 1: not an asciicast header (not valid JSON)'],
    ['comment in v2', header() + '# hi\n', 'line 2: invalid JSON'],
    ['invalid JSON mid-file', header() + '[1, "o", "x"\n[2, "o", "y"]\n', 'line 2: invalid JSON'],
    ['object event', header() + '[1, "o", "x"]\n{"a": 1}\n', 'line 3: not a JSON array'],
    ['short event', header() + '[1, "o"]\n', 'line 2: event must be [time, code, data], got 2 elements'],
    ['long event', header() + '[1, "o", "x", 4]\n', 'line 2: event must be [time, code, data], got 4 elements'],
    ['string time', header() + '["1", "o", "x"]\n', 'line 2: event time must be a non-negative number, got "1"'],
    ['negative time', header() + '[-1, "o", "x"]\n', 'line 2: event time must be a non-negative number, got -1'],
    ['numeric code', header() + '[1, 5, "x"]\n', 'line 2: event code must be a string'],
    ['non-string output', header() + '[1, "o", 5]\n', 'line 2: data of a "o" event must be a string'],
    ['width too large', '{"version": 2, "width": 10001, "height": 24}\n', 'line 1: width must be an integer in 1..10000, got 10001'],
    ['negative height', '{"version": 2, "width": 80, "height": -3}\n', 'line 1: height must be an integer in 1..10000, got -3'],
    ['fractional cols', '{"version": 3, "term": {"cols": 80.5, "rows": 24}}\n', 'line 1: term.cols must be an integer in 1..10000, got 80.5'],
    ['string width', '{"version": 2, "width": "80", "height": 24}\n', 'line 1: width must be an integer in 1..10000, got "80"'],
    ['bad v1 frame', '{"version": 1, "width": 80, "height": 24, "stdout": [[0.1, "a"], [0.2]]}', 'line 1: stdout[1] must be [delay, text]'],
    ['v1 without stdout', '{"version": 1, "width": 80, "height": 24}', 'line 1: asciicast v1 without a "stdout" array'],
  ];
  for (const [name, text, message] of errorCases) {
    test(`error: ${name}`, () => {
      assert.equal(parseError(text).message, message);
    });
  }

  test('the line number counts blank and comment lines', () => {
    const text = '{"version": 3, "term": {"cols": 80, "rows": 24}}\n# c\n\n[0.1, "o", "a"]\n[0.1, "o"]\n';
    assert.equal(parseError(text).message, 'line 5: event must be [time, code, data], got 2 elements');
  });

  test('a header line over 1 MiB is refused', () => {
    const big = `{"version": 2, "width": 80, "height": 24, "title": "${'x'.repeat(1024 * 1024)}"}\n`;
    assert.equal(parseError(big).message, 'line 1: header line longer than 1048576 characters');
  });

  test('missing sizes mean 80×24; v3 without term too', () => {
    assert.deepEqual(
      [parseCast('{"version": 2}\n').header.cols, parseCast('{"version": 2}\n').header.rows],
      [80, 24],
    );
    const v3 = parseCast('{"version": 3, "term": {"cols": 0, "rows": 0}}\n');
    assert.deepEqual([v3.header.cols, v3.header.rows], [80, 24]);
  });

  test('unknown codes with any data are skipped; an x event with a numeric status is read as a string', () => {
    const cast = parseCast(header() + '[1, "zz", null]\n[2, "x", 3]\n');
    assert.deepEqual(cast.events, [{ time: 2, code: 'x', data: '3' }]);
    assert.equal(cast.duration, 2);
  });
});

describe('CastLineParser (streaming)', () => {
  test('reads a file line by line and exposes the header after the first line', () => {
    const parser = new CastLineParser();
    const headerBefore = parser.header; // a local, so the assertion does not narrow parser.header for good
    assert.equal(headerBefore, undefined);
    assert.equal(parser.line('{"version": 3, "term": {"cols": 90, "rows": 30}}\n'), null);
    assert.equal(parser.header?.cols, 90);
    assert.equal(parser.version, 3);
    assert.deepEqual(parser.line('[0.5, "o", "a"]'), { time: 0.5, code: 'o', data: 'a' });
    assert.equal(parser.line('# comment'), null);
    assert.deepEqual(parser.line('[0.25, "r", "100x40"]\n'), { time: 0.75, code: 'r', data: '100x40' });
    assert.equal(parser.lineNumber, 4);
    assert.equal(parser.duration, 0.75);
  });

  test('an unterminated last line that is not JSON marks the parse truncated; nothing may follow it', () => {
    const parser = new CastLineParser();
    parser.line(header());
    assert.equal(parser.line('[0.5, "o", "ab', { unterminated: true }), null);
    assert.equal(parser.truncated, true);
    assert.throws(() => parser.line('[1, "o", "c"]'), /^CastParseError: line 3: data after a truncated last line$/);
  });

  test('an unterminated line that is JSON but not an event is still an error', () => {
    const parser = new CastLineParser();
    parser.line(header());
    assert.throws(() => parser.line('{"a": 1}', { unterminated: true }), { message: 'line 2: not a JSON array' });
  });

  test('v1 is refused with a pointer to parseCast', () => {
    assert.throws(() => new CastLineParser().line('{"version": 1, "width": 80, "height": 24, "stdout": []}'), {
      message: 'line 1: asciicast v1 is a single JSON document, not lines (use parseCast)',
    });
  });
});

describe('CastWriter → parseCast round trip', () => {
  const castHeader: CastHeader = {
    version: 2,
    width: 80,
    height: 24,
    timestamp: 1700000000,
    srcNode: '127.0.0.1',
    srcNodeID: '',
    env: null,
    sshUser: '',
    localUser: '',
    connectionID: '',
    kubernetes: { PodName: 'p', Namespace: 'n', Container: 'c', SessionType: 'exec' },
    kubecast: { id: 'r', user: 'u', cluster: 'local', protocol: 'spdy', tty: true, startedAt: '2026-01-01T00:00:00Z' },
  };

  // Byte payloads: mostly UTF-8 text (so characters really get split), sometimes raw garbage.
  const payload = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }).map((text) => new TextEncoder().encode(text)),
    fc.uint8Array({ maxLength: 40 }),
  );
  const step = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom('stdout', 'stderr', 'stdin'), bytes: payload, cuts: fc.array(fc.nat(), { maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('resize'), cols: fc.integer({ min: 1, max: 500 }), rows: fc.integer({ min: 1, max: 200 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('marker'), label: fc.string({ unit: 'binary', maxLength: 10 }) }) },
  );

  test('every stream decodes to the same text as a one-shot decode of its bytes, whatever the framing', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.array(fc.double({ min: -0.1, max: 2, noNaN: true }), { minLength: 1 }), (steps, gaps) => {
        const writer = new CastWriter(castHeader);
        let text = writer.header();
        let clock = 0;
        let gapIndex = 0;
        const tick = () => (clock += gaps[gapIndex++ % gaps.length]);
        const sent: Record<'stdout' | 'stderr' | 'stdin', number[]> = { stdout: [], stderr: [], stdin: [] };
        // Which stream each written o/i line came from: the cast does not say (stdout and stderr are both "o").
        const lineStreams: string[] = [];
        const expectedOther: Array<{ code: string; data: string }> = [];

        for (const s of steps) {
          if (s.kind === 'resize') {
            text += writer.resize(tick(), s.cols, s.rows);
            expectedOther.push({ code: 'r', data: `${s.cols}x${s.rows}` });
          } else if (s.kind === 'marker') {
            text += writer.marker(tick(), s.label);
            expectedOther.push({ code: 'm', data: s.label });
          } else {
            sent[s.kind].push(...s.bytes);
            // Split the payload into frames at the random cut points.
            const cuts = [...new Set(s.cuts.map((cut) => cut % (s.bytes.length + 1)))].sort((a, b) => a - b);
            let from = 0;
            for (const to of [...cuts, s.bytes.length]) {
              const frame = s.bytes.subarray(from, to);
              from = to;
              const line = s.kind === 'stdin' ? writer.input(tick(), frame) : writer.output(tick(), s.kind as OutputStream, frame);
              text += line;
              if (line !== '') lineStreams.push(s.kind);
            }
          }
        }
        const tail = writer.end(tick());
        text += tail;
        // end() writes one line per stream still holding an incomplete character: stdout, stderr, stdin.
        for (const kind of ['stdout', 'stderr', 'stdin'] as const) {
          if (holdsIncompleteCharacter(Uint8Array.from(sent[kind]))) lineStreams.push(kind);
        }

        const cast = parseCast(text);
        assert.equal(cast.truncated, false);
        const times = cast.events.map((event) => event.time);
        assert.deepEqual(times, [...times].sort((a, b) => a - b), 'times never decrease');

        const ioEvents = cast.events.filter((event) => event.code === 'o' || event.code === 'i');
        assert.equal(ioEvents.length, lineStreams.length);
        const got: Record<string, string> = { stdout: '', stderr: '', stdin: '' };
        ioEvents.forEach((event, i) => {
          assert.equal(event.code, lineStreams[i] === 'stdin' ? 'i' : 'o');
          got[lineStreams[i]] += event.data;
        });
        for (const kind of ['stdout', 'stderr', 'stdin'] as const) {
          const expected = new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(sent[kind]));
          assert.equal(got[kind], expected, kind);
        }
        assert.deepEqual(
          cast.events.filter((event) => event.code === 'r' || event.code === 'm').map(({ code, data }) => ({ code, data })),
          expectedOther,
        );
      }),
      { numRuns: 300 },
    );
  });
});

/** Whether a stream ending with these bytes leaves a decoder holding an unfinished character. */
function holdsIncompleteCharacter(bytes: Uint8Array): boolean {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  decoder.decode(bytes, { stream: true });
  return decoder.decode() !== '';
}
