// Decodes the resize stream: a sequence of JSON TerminalSize objects, `{"Width":W,"Height":H}` each
// followed by "\n" (Go's encoder; keys matched case-insensitively like Go's decoder). Bounded: one
// message may be at most 1 KiB, sizes are uint16 like client-go's TerminalSize.
// Local until src/protocol/channel.ts lands.

export interface TerminalSize {
  width: number;
  height: number;
}

export const MAX_RESIZE_MESSAGE = 1024;
const MAX_DIMENSION = 0xffff;

export class ResizeDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResizeDecodeError';
  }
}

export class ResizeDecoder {
  private pending = '';

  /** Returns every complete size in `chunk` (plus what was pending); throws ResizeDecodeError. */
  push(chunk: Uint8Array): TerminalSize[] {
    this.pending += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
    const sizes: TerminalSize[] = [];
    for (;;) {
      const end = objectEnd(this.pending);
      if (end < 0) break;
      const text = this.pending.slice(0, end).trim();
      this.pending = this.pending.slice(end);
      if (text.length > 0) sizes.push(parseSize(text));
    }
    if (this.pending.trim().length === 0) this.pending = '';
    if (this.pending.length > MAX_RESIZE_MESSAGE) {
      throw new ResizeDecodeError(`resize message longer than ${MAX_RESIZE_MESSAGE} bytes`);
    }
    return sizes;
  }
}

/** Index just past the first complete top-level JSON object in `text`, or -1 if none is complete. */
function objectEnd(text: string): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      depth++;
      started = true;
    } else if (c === '}') {
      depth--;
      if (depth < 0) throw new ResizeDecodeError('resize message is not a JSON object');
      if (depth === 0 && started) return i + 1;
    } else if (!started && !/\s/.test(c)) {
      throw new ResizeDecodeError('resize message is not a JSON object');
    }
  }
  return -1;
}

function parseSize(text: string): TerminalSize {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ResizeDecodeError('resize message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ResizeDecodeError('resize message is not a JSON object');
  }
  let width: unknown = 0;
  let height: unknown = 0;
  for (const [key, field] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (lower === 'width') width = field;
    else if (lower === 'height') height = field;
  }
  return { width: dimension(width, 'Width'), height: dimension(height, 'Height') };
}

function dimension(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_DIMENSION) {
    throw new ResizeDecodeError(`resize ${name} must be an integer between 0 and ${MAX_DIMENSION}`);
  }
  return value;
}
