// The recorder wire protocol, shared by client and server. Compatible with the peer's proxy
// client (Tailscale sessionrecording): HEAD/POST /v2/record over h2c with JSON-line acks, and
// POST /record over HTTP/1.1 with Expect: 100-continue. Kubecast adds two optional headers for
// resuming an upload after a recorder outage; peers ignore them.

export const V2_PATH = '/v2/record';
export const V1_PATH = '/record';

/** Response header: the id the recorder gave the recording. */
export const HEADER_RECORDING_ID = 'x-kubecast-recording-id';
/** Request header: continue recording ID instead of starting a new one. */
export const HEADER_RESUME = 'x-kubecast-resume';
/** Response header to a resume: bytes of the upload the recorder already holds; send from there. */
export const HEADER_OFFSET = 'x-kubecast-offset';

/** One line of the v2 response stream. */
export interface AckFrame {
  ack?: number;
  error?: string;
}

/** Longest single cast line the recorder accepts (a 16 MiB SPDY frame JSON-escaped fits). */
export const MAX_LINE_BYTES = 128 * 1024 * 1024;
/** Longest header line: it is parsed and indexed, so it is kept small. */
export const MAX_HEADER_BYTES = 1024 * 1024;
