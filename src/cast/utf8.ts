// Streaming UTF-8 for one byte stream (stdout, stderr or stdin of a session).
// Frames cut characters anywhere; each stream holds back the incomplete character at the end of a
// frame until the next frame of the same stream completes it, so "日本語" split mid-character is
// never turned into replacement characters, and another stream's bytes in between cannot interfere.
//
// Holding back is done on bytes (not inside a TextDecoder) so the complete part can take a fast
// byte path when it is valid UTF-8, and be decoded statelessly otherwise.

export class Utf8Stream {
  private pending: Uint8Array | undefined;

  /** The bytes that now form whole characters (held bytes first); keeps a trailing partial character. */
  take(bytes: Uint8Array): Uint8Array {
    const all = this.pending ? concat(this.pending, bytes) : bytes;
    const cut = all.byteLength - incompleteTail(all);
    this.pending = cut < all.byteLength ? all.slice(cut) : undefined;
    return cut === all.byteLength ? all : all.subarray(0, cut);
  }

  /** Ends the stream: returns whatever is still held (an incomplete character). */
  flush(): Uint8Array {
    const rest = this.pending ?? new Uint8Array(0);
    this.pending = undefined;
    return rest;
  }
}

// fatal: false → invalid bytes become U+FFFD (output is untrusted bytes). ignoreBOM: true → a
// leading EF BB BF is kept: bytes are recorded as they came.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Decodes whole characters (from Utf8Stream.take/flush); invalid bytes become U+FFFD. */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Kept for callers that want text directly: a Utf8Stream and a decoder in one. */
export class Utf8StreamDecoder {
  private readonly stream = new Utf8Stream();

  decode(bytes: Uint8Array): string {
    return decodeUtf8(this.stream.take(bytes));
  }

  flush(): string {
    return decodeUtf8(this.stream.flush());
  }
}

/**
 * Length of a trailing valid prefix of a multibyte character (0 when the data ends on a character
 * boundary or with bytes that can never become a character). Mirrors the WHATWG decoder's
 * streaming rule, so the text is the same as decoding the whole stream at once, and the same
 * bytes are held as a streaming TextDecoder would hold.
 */
function incompleteTail(bytes: Uint8Array): number {
  const n = bytes.byteLength;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const lead = bytes[n - back];
    if ((lead & 0xc0) === 0x80) continue; // continuation byte: keep looking for its lead
    const need = sequenceLength(lead);
    if (need === 0 || back >= need) return 0;
    // A second byte outside the lead's range makes the sequence invalid now, not later.
    if (back >= 2 && !validSecondByte(lead, bytes[n - back + 1])) return 0;
    return back;
  }
  return 0;
}

/** Bytes in a character started by `lead`; 0 for ASCII and for bytes that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

function validSecondByte(lead: number, second: number): boolean {
  if (lead === 0xe0) return second >= 0xa0 && second <= 0xbf;
  if (lead === 0xed) return second >= 0x80 && second <= 0x9f;
  if (lead === 0xf0) return second >= 0x90 && second <= 0xbf;
  if (lead === 0xf4) return second >= 0x80 && second <= 0x8f;
  return second >= 0x80 && second <= 0xbf;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
