// RFC 6455 §5.3 masking: payload[i] ^= key[(phase + i) % 4]. Masking and unmasking are the same
// XOR. This runs on every client→server byte (stdin, resize), so it works a 32-bit word at a time
// (~3× a byte loop in V8) instead of using a native addon.

/** Below this many bytes, setting up a Uint32Array view costs more than it saves. */
const WORD_LOOP_THRESHOLD = 16;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `source` with the 4-byte masking `key` into `target` and returns `target`.
 *
 * - `source` is never modified unless the caller passes the same view as `target` (in-place
 *   masking, which the encoder uses on its own output buffer). Other overlapping views are not
 *   supported.
 * - Without `target`, a fresh `Uint8Array` of `source.length` bytes is allocated (4-byte aligned,
 *   so the word loop covers everything but the last 0–3 bytes).
 * - `phase` (0–3) is the index of the key byte that applies to `source[0]`: for payloads that are
 *   masked in several pieces, pass the number of bytes already processed (mod 4 is applied).
 */
export function unmask(source: Uint8Array, key: Uint8Array, target?: Uint8Array, phase = 0): Uint8Array {
  if (key.length !== 4) throw new RangeError(`masking key must be 4 bytes, got ${key.length}`);
  const length = source.length;
  const out = target ?? new Uint8Array(length);
  if (out.length < length) throw new RangeError(`mask target holds ${out.length} bytes, need ${length}`);

  let keyIndex = phase & 3;
  if (length < WORD_LOOP_THRESHOLD) {
    for (let i = 0; i < length; i++) out[i] = source[i] ^ key[(keyIndex + i) & 3];
    return out;
  }

  // Copy natively first (memcpy), then XOR in place: the source may sit at any byte offset (it is
  // a view into a socket chunk), but the target can be walked as aligned words.
  if (out !== source) out.set(source);

  // Leading bytes until the target is 4-byte aligned.
  let i = 0;
  const misalignment = out.byteOffset & 3;
  if (misalignment !== 0) {
    const head = 4 - misalignment;
    for (; i < head; i++) out[i] ^= key[(keyIndex + i) & 3];
    keyIndex = (keyIndex + head) & 3;
  }

  const words = (length - i) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(out.buffer, out.byteOffset + i, words);
    const word = maskWord(key, keyIndex);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }

  // Tail: 0–3 bytes. The key phase is unchanged by whole words.
  for (let t = 0; i < length; i++, t++) out[i] ^= key[(keyIndex + t) & 3];
  return out;
}

/** Masking is the same operation as unmasking. */
export const mask = unmask;

/** The key rotated by `phase`, as a 32-bit word in the platform's byte order. */
function maskWord(key: Uint8Array, phase: number): number {
  const b0 = key[phase & 3];
  const b1 = key[(phase + 1) & 3];
  const b2 = key[(phase + 2) & 3];
  const b3 = key[(phase + 3) & 3];
  return LITTLE_ENDIAN
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}
