// Our casts against the real asciinema 2.2 CLI (Debian package `asciinema`); see test/helpers/asciinema.ts.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CastWriter, parseCast, type CastHeader } from '../../src/cast';
import { asciinemaCat, requireAsciinema as requireTools } from '../helpers/asciinema';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

const header: CastHeader = {
  version: 2,
  width: 100,
  height: 30,
  timestamp: 1700000000,
  command: 'sh -c demo',
  srcNode: '127.0.0.1',
  srcNodeID: '',
  srcNodeUser: 'alice',
  env: null,
  sshUser: '',
  localUser: '',
  connectionID: '',
  kubernetes: { PodName: 'web-0', Namespace: 'default', Container: 'app', SessionType: 'exec' },
  title: 'asciinema compatibility',
  kubecast: {
    id: 'rec-asciinema',
    user: 'alice',
    cluster: 'local',
    protocol: 'websocket',
    tty: true,
    stdinRecorded: true,
    command: ['sh', '-c', 'demo'],
    startedAt: '2026-01-01T00:00:00.000Z',
  },
};

describe('asciinema 2.2 reads what CastWriter writes', () => {
  test('cat prints exactly the output text, with split characters, stderr, r/m/i/x events in between', () => {
    requireTools();
    const writer = new CastWriter(header);
    let cast = writer.header();
    let expected = '';
    let time = 0;
    const out = (stream: 'stdout' | 'stderr', bytes: Uint8Array) => (cast += writer.output((time += 0.01), stream, bytes));

    const prompt = '\x1b[1;32malice@web-0\x1b[0m:\x1b[34m~\x1b[0m$ ';
    out('stdout', encode(prompt));
    expected += prompt;
    cast += writer.input((time += 0.1), encode('cat 日本語.txt\r'));

    // "日本語 😀" cut inside every character, frames interleaved with a stderr character cut too.
    const text = encode('日本語 😀\r\n');
    const warning = encode('警告: € \u2028 line separator\r\n');
    out('stdout', text.subarray(0, 1)); // nothing yet
    out('stderr', warning.subarray(0, 2)); // nothing yet
    out('stdout', text.subarray(1, 4)); // 日
    out('stdout', text.subarray(4, 8)); // 本
    out('stdout', text.subarray(8, 12)); // "語 ", then it ends inside 😀
    out('stderr', warning.subarray(2)); // the whole warning; the pending stdout bytes are untouched
    out('stdout', text.subarray(12)); // 😀\r\n
    expected += '日本語 ' + '警告: € \u2028 line separator\r\n' + '😀\r\n';

    cast += writer.resize((time += 0.2), 132, 50);
    cast += writer.marker((time += 0.1), 'checkpoint "one"');
    const controls = 'tab\there\x07 bell, \x1b]0;title\x07, NUL\x00, DEL\x7f, quote " backslash \\ </script>\r\n';
    out('stdout', encode(controls));
    expected += controls;
    cast += writer.resize((time += 0.2), 80, 24);

    // A frame ending in a cut character that the session never completes: end() flushes U+FFFD.
    out('stdout', Uint8Array.of(0x62, 0x79, 0x65, 0xe2, 0x82));
    expected += 'bye';
    cast += writer.exit((time += 0.1), 7);
    cast += writer.end((time += 0.1));
    expected += '\uFFFD';

    // Check the file first with our own reader, then with asciinema.
    const parsed = parseCast(cast);
    assert.deepEqual(
      parsed.events.map((event) => event.code),
      ['o', 'i', 'o', 'o', 'o', 'o', 'o', 'r', 'm', 'o', 'r', 'o', 'x', 'o'],
    );
    assert.equal(asciinemaCat(cast), expected);
  });

  test('cat prints a bulk output of 32 KiB frames byte for byte', () => {
    requireTools();
    const writer = new CastWriter(header);
    let line = 0;
    let text = '';
    while (text.length < 300_000) {
      text += `\x1b[0m\x1b[01;34mdir-${line}\x1b[0m  файл-${line}.txt  日本語-${line}.log  \x1b[01;32mrun.sh\x1b[0m 🚀\r\n`;
      line++;
    }
    const bytes = encode(text);
    let cast = writer.header();
    // Frames of about 32 KiB, each boundary moved inside a multibyte character; markers in between.
    let frames = 0;
    for (let offset = 0; offset < bytes.length; frames++) {
      let end = Math.min(bytes.length, offset + 32 * 1024);
      while (end < bytes.length && (bytes[end] & 0xc0) !== 0x80) end++;
      cast += writer.output(frames * 0.001, 'stdout', bytes.subarray(offset, end));
      cast += writer.marker(frames * 0.001, `frame ${frames}`);
      offset = end;
    }
    assert.ok(frames > 5);
    cast += writer.end(1);
    assert.equal(asciinemaCat(cast), text);
  });
});
