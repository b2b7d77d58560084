// Streaming UTF-8 decoding for one byte stream (stdout, stderr or stdin of a session).
// Frames cut characters anywhere; a decoder per stream holds the incomplete tail of one frame
// until the next frame of the same stream completes it, so "日本語" split mid-character is never
// turned into replacement characters, and another stream's bytes in between cannot interfere.

export class Utf8StreamDecoder {
  // fatal: false → invalid bytes become U+FFFD instead of throwing (output is untrusted bytes).
  // ignoreBOM: true → a leading EF BB BF is output, not swallowed: bytes are recorded as they came.
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  /** Decodes one chunk; returns '' when the chunk only extends an incomplete character. */
  decode(bytes: Uint8Array): string {
    return this.decoder.decode(bytes, { stream: true });
  }

  /**
   * Ends the stream: bytes still held (an incomplete sequence) come out as U+FFFD. The decoder
   * is then ready for a new stream.
   */
  flush(): string {
    return this.decoder.decode();
  }
}
