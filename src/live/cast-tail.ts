// The last whole event lines of a cast file: how a session that is resumed after the hub lost it
// (a recorder restart) gets its screen back instead of starting blank.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Up to `maxBytes` of whole event lines from the end of the file, and the file's size; undefined if unreadable. */
export function readCastTail(path: string, maxBytes: number): { lines: Buffer; size: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.allocUnsafe(size - start);
    let got = 0;
    while (got < buf.byteLength) {
      const n = readSync(fd, buf, got, buf.byteLength - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const data = buf.subarray(0, got);
    // From the start, the first line is the header; otherwise it is a line cut by the window.
    const first = data.indexOf(0x0a) + 1;
    const last = data.lastIndexOf(0x0a) + 1;
    return { lines: first > 0 && last > first ? data.subarray(first, last) : Buffer.alloc(0), size };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
