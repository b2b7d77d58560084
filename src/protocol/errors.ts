// Typed protocol errors. Every malformed or over-limit input ends up as one of these, never as a
// RangeError from a Buffer read or an unbounded allocation: callers end that one session with the
// message and keep the process running.

export type ProtocolName = 'spdy' | 'websocket' | 'kubernetes';

export class ProtocolError extends Error {
  constructor(
    readonly protocol: ProtocolName,
    /** Stable machine-readable code, e.g. `SPDY_HEADER_BLOCK_TOO_LARGE`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class SpdyProtocolError extends ProtocolError {
  constructor(code: SpdyErrorCode, message: string) {
    super('spdy', code, message);
    this.name = 'SpdyProtocolError';
  }
}

export class WsProtocolError extends ProtocolError {
  constructor(code: WsErrorCode, message: string) {
    super('websocket', code, message);
    this.name = 'WsProtocolError';
  }
}

/** Bad Kubernetes channel payloads: resize messages and error-stream Status objects. */
export class ChannelError extends ProtocolError {
  constructor(code: ChannelErrorCode, message: string) {
    super('kubernetes', code, message);
    this.name = 'ChannelError';
  }
}

export type SpdyErrorCode =
  | 'SPDY_BAD_VERSION' // control frame whose version is not 3
  | 'SPDY_BAD_FRAME' // structurally impossible frame (stream id 0 on data, short control payload…)
  | 'SPDY_FRAME_TOO_LARGE' // declared length above the configured cap
  | 'SPDY_ZLIB' // header block the shared inflater cannot decode
  | 'SPDY_HEADER_BLOCK_TOO_LARGE' // decompressed header block above the cap (zlib bomb)
  | 'SPDY_TOO_MANY_HEADERS' // pair count above the cap
  | 'SPDY_BAD_HEADER_BLOCK'; // a count or length that runs past the decompressed block

export type WsErrorCode =
  | 'WS_PAYLOAD_TOO_LARGE' // frame or message above the configured cap
  | 'WS_BAD_LENGTH' // 64-bit length with the top bit set, or a non-minimal encoding where forbidden
  | 'WS_BAD_CONTROL_FRAME' // fragmented control frame, or control payload above 125 bytes
  | 'WS_BAD_CLOSE_FRAME' // close frame with a 1-byte payload
  | 'WS_RSV_BITS' // RSV bits set without a negotiated extension
  | 'WS_UNEXPECTED_CONTINUATION' // continuation frame with no message in progress
  | 'WS_EXPECTED_CONTINUATION' // new data frame while a fragmented message is in progress
  | 'WS_MASK'; // masking not as the direction requires

export type ChannelErrorCode =
  | 'RESIZE_TOO_LARGE'
  | 'RESIZE_BAD_JSON'
  | 'RESIZE_OUT_OF_RANGE'
  | 'STATUS_TOO_LARGE'
  | 'STATUS_BAD_JSON';
