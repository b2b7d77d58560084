// The two ends of a benchmark connection, run in a child process so they do not share a core
// with the relay being measured: an "upstream" that streams pre-encoded frames once the client
// has spoken, and a "client" that sends its opening bytes and counts what comes back.
// Usage: node --import tsx bench/ends.ts RELAY_PORT UPSTREAM_PORT_FILE TOTAL_BYTES KIND
import { connect, createServer, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { benchFrames } from './frames';

const [relayPortText, portFile, totalText, kind] = process.argv.slice(2);
const total = Number(totalText);
const { opening, frames } = benchFrames(kind === 'ws' ? 'ws' : 'spdy');

const upstream = createServer((socket) => {
  socket.setNoDelay(true);
  socket.once('data', () => {
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += frames.byteLength;
        if (!socket.write(frames)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  socket.on('error', () => {});
});

upstream.listen(0, '127.0.0.1', () => {
  writeFileSync(portFile, String((upstream.address() as AddressInfo).port));
  process.stdin.once('data', () => {
    const client = connect(Number(relayPortText), '127.0.0.1', () => {
      client.setNoDelay(true);
      const started = process.hrtime.bigint();
      let received = 0;
      client.on('data', (chunk: Buffer) => (received += chunk.byteLength));
      client.on('end', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        process.stdout.write(JSON.stringify({ bytes: received, seconds }) + '\n');
        upstream.close();
        process.exit(0);
      });
      client.write(opening);
    });
  });
});
