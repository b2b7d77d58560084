// RFC 6455 frame model shared by the parser (receiver) and the encoder (sender).

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Opcodes RFC 6455 reserves (0x3–0x7 data, 0xB–0xF control). */
export function isReservedOpcode(opcode: number): boolean {
  return (opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb;
}

export interface WsFrame {
  fin: boolean;
  /** RSV1..RSV3 as a 3-bit number (RSV1 = 4). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. A view into `raw` for unmasked frames, a fresh copy for masked ones. */
  payload: Uint8Array;
  /** The frame exactly as it was on the wire; a view into the parser's input: forward, never modify. */
  raw: Uint8Array;
}

export interface WsLimits {
  /** Largest payload one frame may declare. Default 32 MiB (x/net/websocket's default). */
  maxPayload?: number;
}

export const DEFAULT_WS_MAX_PAYLOAD = 32 * 1024 * 1024;
