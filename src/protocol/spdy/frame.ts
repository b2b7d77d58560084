// SPDY/3 frame model shared by the parser (receiver) and the encoder (sender).
// Layout facts: SPDY draft 3; what kubectl (moby/spdystream) sends and expects: see
// ../shared/reference/kubectl-exec-protocol.md §2–3.

export const SPDY_VERSION = 3;

/** Control frame types of SPDY/3 (5 was NOOP in SPDY/2; 10 CREDENTIAL was dropped in 3.1). */
export const ControlType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
  CREDENTIAL: 10,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;
export const FLAG_SETTINGS_CLEAR_SETTINGS = 0x01;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  INVALID_CREDENTIALS: 10,
  FRAME_TOO_LARGE: 11,
} as const;

export const GoawayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

/** 31-bit identifiers: stream ids, ping ids are 32-bit. */
export const MAX_STREAM_ID = 0x7fffffff;

/** Decoded name/value block: lower-case names, each with one or more values (NUL-split on the wire). */
export type SpdyHeaders = Map<string, string[]>;

interface FrameBase {
  /**
   * The frame exactly as it was on the wire (8-byte header + payload). A view into the parser's
   * input: forward it, do not modify it.
   */
  raw: Uint8Array;
}

export interface DataFrame extends FrameBase {
  type: 'data';
  streamId: number;
  flags: number;
  fin: boolean;
  /** View into `raw` after the 8-byte header. */
  payload: Uint8Array;
}

export interface SynStreamFrame extends FrameBase {
  type: 'syn_stream';
  streamId: number;
  associatedStreamId: number;
  priority: number; // 3 bits
  slot: number;
  flags: number;
  fin: boolean;
  unidirectional: boolean;
  headers: SpdyHeaders;
}

export interface SynReplyFrame extends FrameBase {
  type: 'syn_reply';
  streamId: number;
  flags: number;
  fin: boolean;
  headers: SpdyHeaders;
}

export interface RstStreamFrame extends FrameBase {
  type: 'rst_stream';
  streamId: number;
  status: number;
}

export interface SettingsEntry {
  id: number; // 24 bits
  flags: number; // 8 bits
  value: number; // 32 bits, unsigned
}

export interface SettingsFrame extends FrameBase {
  type: 'settings';
  flags: number;
  entries: SettingsEntry[];
}

export interface PingFrame extends FrameBase {
  type: 'ping';
  id: number; // 32 bits, unsigned
}

export interface GoawayFrame extends FrameBase {
  type: 'goaway';
  lastGoodStreamId: number;
  status: number;
}

export interface HeadersFrame extends FrameBase {
  type: 'headers';
  streamId: number;
  flags: number;
  fin: boolean;
  headers: SpdyHeaders;
}

export interface WindowUpdateFrame extends FrameBase {
  type: 'window_update';
  streamId: number;
  delta: number;
}

/**
 * A control frame of a type SPDY/3 does not define (or CREDENTIAL): reported, not fatal to the
 * parser. kubectl's spdystream aborts the connection on these, so a tap may want to warn.
 */
export interface UnknownControlFrame extends FrameBase {
  type: 'unknown_control';
  controlType: number;
  flags: number;
  payload: Uint8Array;
}

export type SpdyFrame =
  | DataFrame
  | SynStreamFrame
  | SynReplyFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoawayFrame
  | HeadersFrame
  | WindowUpdateFrame
  | UnknownControlFrame;

export interface SpdyLimits {
  /** Largest payload a frame may declare. Default 16 MiB (the 24-bit field allows 16 MiB − 1). */
  maxFrameLength?: number;
  /** Largest decompressed name/value block. Default 1 MiB. */
  maxHeaderBlockSize?: number;
  /** Most name/value pairs in one block. Default 1000. */
  maxHeaderPairs?: number;
}

export const DEFAULT_SPDY_LIMITS: Required<SpdyLimits> = {
  maxFrameLength: 16 * 1024 * 1024,
  maxHeaderBlockSize: 1024 * 1024,
  maxHeaderPairs: 1000,
};
