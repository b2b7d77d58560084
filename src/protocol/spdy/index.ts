// The SPDY/3 codec: frame model, incremental parser, encoder, header blocks and their dictionary.

export * from './frame';
export { SpdyParser, FRAME_HEADER_SIZE } from './parser';
export {
  SpdyEncoder,
  encodeControlFrame,
  encodeDataFrameHeader,
  MAX_FRAME_PAYLOAD,
  type HeadersInput,
  type SettingsEntryInput,
  type SynStreamOptions,
} from './encoder';
export {
  decodeHeaderBlock,
  encodeHeaderBlock,
  HeaderBlockInflater,
  HeaderBlockDeflater,
  resolveSpdyLimits,
  type HeaderBlockDeflaterOptions,
} from './headers';
export { spdy3Dictionary } from './dictionary';
