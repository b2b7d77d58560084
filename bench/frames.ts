// Benchmark payload: terminal-like output (colours, UTF-8) in 32 KiB data frames, as a session's
// server→client bytes, plus the client's opening bytes that tell a tap which stream is stdout.
import { SpdyEncoder } from '../src/protocol/spdy/encoder';
import { encodeChannelMessage } from '../src/protocol/ws/encoder';

export const FRAME_PAYLOAD = 32 * 1024;

/**
 * `ls -l --color`-like output: most lines plain (regular files carry no colour in the default
 * LS_COLORS), directories and executables coloured, some non-ASCII names.
 */
export function terminalText(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const size6 = String((i * 7919) % 999999).padStart(6);
    const name =
      i % 7 === 0 ? `\x1b[0m\x1b[01;34mdir-${i}\x1b[0m` : i % 11 === 0 ? `\x1b[01;32mrun-${i}.sh\x1b[0m` : i % 13 === 0 ? `données-${i}.csv` : `file-${i}.log`;
    const line = `-rw-r--r-- 1 alice staff ${size6} Nov 23 08:${String(i % 60).padStart(2, '0')} ${name}\r\n`;
    lines.push(line);
    size += Buffer.byteLength(line);
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

/** `opening`: client bytes (stream setup); `frames`: a block of output frames repeated by the sender. */
export function benchFrames(kind: 'spdy' | 'ws'): { opening: Buffer; frames: Buffer; payloadPerBlock: number } {
  const text = terminalText(FRAME_PAYLOAD * 8);
  const chunks: Buffer[] = [];
  for (let i = 0; i < text.byteLength; i += FRAME_PAYLOAD) chunks.push(text.subarray(i, i + FRAME_PAYLOAD));
  if (kind === 'spdy') {
    const client = new SpdyEncoder();
    const opening = Buffer.concat(['error', 'stdout', 'stderr'].map((role, i) => client.synStream({ streamId: 1 + 2 * i, headers: { streamtype: role } })));
    const server = new SpdyEncoder();
    return { opening, frames: Buffer.concat(chunks.map((c) => server.data(3, c))), payloadPerBlock: text.byteLength };
  }
  const opening = encodeChannelMessage(0, Buffer.from('x'), { mask: true });
  return { opening, frames: Buffer.concat(chunks.map((c) => encodeChannelMessage(1, c))), payloadPerBlock: text.byteLength };
}
