// asciicast: the v2 writer kubecast records with, and a v1/v2/v3 reader into one model.
export type { CastHeader, KubecastInfo, KubernetesInfo, SessionType, StreamProtocol } from './header';
export { CastWriter, type OutputStream } from './writer';
export { Utf8StreamDecoder } from './utf8';
export {
  parseCast,
  CastLineParser,
  CastParseError,
  MAX_HEADER_LINE,
  MAX_DIMENSION,
  DEFAULT_COLS,
  DEFAULT_ROWS,
  type CastVersion,
  type CastTheme,
  type CastEvent,
  type CastHeaderInfo,
  type KubecastHeaderRead,
  type ParsedCast,
} from './reader';
