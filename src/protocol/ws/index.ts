// RFC 6455 WebSocket codec and the Kubernetes channel layer (v5/v4/base64 *.channel.k8s.io).

export {
  DEFAULT_WS_MAX_PAYLOAD,
  Opcode,
  isControlOpcode,
  isReservedOpcode,
  type WsFrame,
  type WsLimits,
} from './frame';
export { mask, unmask } from './mask';
export { MAX_HEADER_LENGTH, WsFrameParser, type WsDirection, type WsFrameParserOptions } from './parser';
export {
  ChannelReader,
  DEFAULT_WS_MAX_MESSAGE_SIZE,
  WsChannel,
  type ChannelEncoding,
  type ChannelEvent,
  type ChannelReaderOptions,
} from './message';
export {
  CloseCode,
  encodeBase64ChannelMessage,
  encodeChannelMessage,
  encodeClose,
  encodeFrame,
  encodePing,
  encodePong,
  type EncodeFrameOptions,
  type EncodeMessageOptions,
  type EncodeOptions,
} from './encoder';
