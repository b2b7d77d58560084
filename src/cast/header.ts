// The asciicast v2 header kubecast writes. It is a superset of the peer's (Tailscale's
// `sessionrecording.CastHeader`): the same keys, in the same order, with the same omit-when-empty
// rules, so tools built for the peer's recordings read ours; kubecast's own facts live under the
// single `kubecast` key, which also tells a reader that the file follows the asciicast spec
// (resize as COLSxROWS) rather than the peer's rows-first resize.

export type SessionType = 'exec' | 'attach';

export type StreamProtocol = 'spdy' | 'websocket';

/** Peer-compatible pod identity. The keys are capitalised because the peer serialises a Go struct without JSON tags. */
export interface KubernetesInfo {
  PodName: string;
  Namespace: string;
  Container: string;
  SessionType: SessionType;
}

/**
 * Kubecast's own description of a session. Open by design: later features add optional fields
 * here, and readers must keep fields they do not know (see `KubecastHeaderRead`), because a file
 * may come from a newer kubecast.
 */
export interface KubecastInfo {
  /** Recording id, unique per session. */
  id: string;
  /** The authenticated user the proxy attributed the session to. */
  user: string;
  /** Cluster name as kubecast knows it (kubeconfig cluster, or "local"). */
  cluster: string;
  /** kubeconfig context used to reach the upstream, when there is one. */
  context?: string;
  /** kubeconfig user (credentials) used toward the upstream. */
  kubeconfigUser?: string;
  /** Address of the kubectl client as the proxy saw it. */
  clientAddress?: string;
  protocol: StreamProtocol;
  /** From the client's User-Agent, when it names kubectl. */
  kubectlVersion?: string;
  tty: boolean;
  /** True when stdin was recorded as `i` events (off by default: stdin carries passwords). */
  stdinRecorded?: boolean;
  /** The exec command as argv (the top-level `command` is the peer's space-joined form). */
  command?: string[];
  /** Session start, ISO 8601. */
  startedAt: string;
}

/**
 * The header line of a kubecast recording. `CastWriter.header()` serialises it in the peer's key
 * order whatever the property order of this object, and omits empty optional peer fields the way
 * the peer does.
 */
export interface CastHeader {
  version: 2;
  /** Columns; 0 when unknown (non-TTY sessions, as the peer writes). */
  width: number;
  /** Rows; 0 when unknown. */
  height: number;
  /** Unix time of the session start, in seconds. */
  timestamp: number;
  /** The exec command joined by spaces (omitted when empty, like the peer). */
  command?: string;
  /** The client: host name or address (the peer puts the caller's node name here). */
  srcNode: string;
  /** Stable id of the client node; kubecast writes what it has, often "". */
  srcNodeID: string;
  /** Omitted when empty. */
  srcNodeTags?: string[];
  /** Omitted when 0 or absent. */
  srcNodeUserID?: number;
  /** The authenticated user (omitted when empty). */
  srcNodeUser?: string;
  /** Captured environment; the peer writes `null`, and so do we when there is none. */
  env: Record<string, string> | null;
  sshUser: string;
  localUser: string;
  connectionID: string;
  kubernetes?: KubernetesInfo;
  /** asciicast v2: players cap idle gaps to this many seconds. */
  idle_time_limit?: number;
  /** asciicast v2 title. */
  title?: string;
  /**
   * Always set it in recordings kubecast makes: readers take a header with `srcNode`/`kubernetes`
   * and no `kubecast` key for the peer's, whose resize events are rows-first, and swap them.
   */
  kubecast?: KubecastInfo;
}

/**
 * Builds the object to serialise, with keys in the peer's order followed by the asciicast
 * extras and `kubecast`. Rebuilding (rather than stringifying the caller's object) pins the
 * order and drops keys the type does not know.
 */
export function orderedHeader(header: CastHeader): Record<string, unknown> {
  assertSize('width', header.width);
  assertSize('height', header.height);
  if (!Number.isFinite(header.timestamp)) throw new RangeError(`cast header: timestamp must be a finite number, got ${header.timestamp}`);

  const out: Record<string, unknown> = {
    version: 2,
    width: header.width,
    height: header.height,
    timestamp: header.timestamp,
  };
  if (header.command) out.command = header.command;
  out.srcNode = header.srcNode;
  out.srcNodeID = header.srcNodeID;
  if (header.srcNodeTags && header.srcNodeTags.length > 0) out.srcNodeTags = header.srcNodeTags;
  if (header.srcNodeUserID) out.srcNodeUserID = header.srcNodeUserID;
  if (header.srcNodeUser) out.srcNodeUser = header.srcNodeUser;
  out.env = header.env ?? null;
  out.sshUser = header.sshUser;
  out.localUser = header.localUser;
  out.connectionID = header.connectionID;
  if (header.kubernetes) {
    const k = header.kubernetes;
    out.kubernetes = { PodName: k.PodName, Namespace: k.Namespace, Container: k.Container, SessionType: k.SessionType };
  }
  if (header.idle_time_limit !== undefined) out.idle_time_limit = header.idle_time_limit;
  if (header.title !== undefined) out.title = header.title;
  if (header.kubecast) out.kubecast = header.kubecast;
  return out;
}

function assertSize(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`cast header: ${name} must be an integer in 0..65535, got ${value}`);
  }
}
