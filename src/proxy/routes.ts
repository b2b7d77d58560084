// Which requests carry a session. Matching is done on a normalised path so that percent-encoding,
// doubled or trailing slashes, dot segments and letter case cannot slip a session past the
// recorder: the normaliser is deliberately more eager than the API server's router, so anything
// the API server would treat as exec/attach is classified as exec/attach here (never the reverse).
import { apiServerBool, parseGoQuery, rawQuery } from '../util/go-query';

export type RouteKind =
  /** exec/attach upgrade: recorded. */
  | 'session'
  /** Another upgrade that can carry a shell or a tunnel (pod/service/node proxy, port-forward), or any nodes/{node}/proxy request. */
  | 'shell-capable'
  /** An upgrade we do not recognise (e.g. a WebSocket watch). */
  | 'other-upgrade'
  /** Any other non-upgrade request: proxied unchanged. */
  | 'plain';

export interface SessionTarget {
  namespace: string;
  pod: string;
  sessionType: 'exec' | 'attach';
}

export interface Route {
  kind: RouteKind;
  /** The normalised path the decision was made on (lower-case, decoded, cleaned). */
  normalized: string;
  session?: SessionTarget;
  /** What the route is, for messages: "pods/proxy", "portforward", "nodes/proxy"… */
  label?: string;
}

const MAX_DECODE_ROUNDS = 4;

/**
 * Decodes percent-escapes repeatedly (so %252e still becomes "."), turns backslashes into slashes,
 * drops empty and "." segments, resolves "..", and lower-cases. Returns the segments.
 */
export function normalizePath(rawPath: string): string[] {
  let path = rawPath.split('?')[0].split('#')[0];
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      // Malformed escapes: decode what can be decoded, keep the rest.
      decoded = path.replace(/%[0-9a-fA-F]{2}/g, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
    }
    if (decoded === path) break;
    path = decoded;
  }
  const segments: string[] = [];
  for (const segment of path.replace(/\\/g, '/').toLowerCase().split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment.trim());
  }
  return segments;
}

/** Classifies a request by method, path and whether it asks for a protocol upgrade. */
export function classify(rawPath: string, isUpgrade: boolean): Route {
  const segments = normalizePath(rawPath);
  const normalized = '/' + segments.join('/');
  if (!isUpgrade) {
    // The kubelet API runs commands without any upgrade (POST /run/{ns}/{pod}/{container}): a plain
    // request through nodes/{node}/proxy is as unrecordable as an exec upgrade through it.
    if (isNodeProxy(segments)) return { kind: 'shell-capable', normalized, label: 'nodes/proxy' };
    return { kind: 'plain', normalized };
  }

  const session = sessionTarget(segments);
  if (session) return { kind: 'session', normalized, session };

  const label = shellCapableLabel(segments);
  if (label) return { kind: 'shell-capable', normalized, label };
  return { kind: 'other-upgrade', normalized };
}

/** /api/v1/namespaces/{ns}/pods/{pod}/{exec|attach} */
function sessionTarget(s: string[]): SessionTarget | undefined {
  if (s.length === 7 && s[0] === 'api' && s[1] === 'v1' && s[2] === 'namespaces' && s[4] === 'pods' && (s[6] === 'exec' || s[6] === 'attach')) {
    return { namespace: s[3], pod: s[5], sessionType: s[6] };
  }
  return undefined;
}

function shellCapableLabel(s: string[]): string | undefined {
  const api = s[0] === 'api' && s[1] === 'v1';
  if (!api) return undefined;
  // Namespaced: pods/{pod}/proxy[/…], services/{svc}/proxy[/…], pods/{pod}/portforward.
  if (s[2] === 'namespaces' && s.length >= 7) {
    if (s[4] === 'pods' && s[6] === 'portforward') return 'pods/portforward';
    if ((s[4] === 'pods' || s[4] === 'services') && s[6] === 'proxy') return `${s[4]}/proxy`;
  }
  if (isNodeProxy(s)) return 'nodes/proxy';
  // Legacy /api/v1/proxy/… paths.
  if (s[2] === 'proxy') return 'proxy';
  return undefined;
}

/** nodes/{node}/proxy/… (and the legacy proxy/nodes/{node}/…): the kubelet's own /exec, /attach, /run, /portforward. */
function isNodeProxy(s: string[]): boolean {
  if (s[0] !== 'api' || s[1] !== 'v1') return false;
  return (s[2] === 'nodes' && s[4] === 'proxy') || (s[2] === 'proxy' && s[3] === 'nodes');
}

export interface ExecRequest {
  container: string;
  /** argv, one element per `command` parameter (exec only). */
  command: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/**
 * Reads the PodExecOptions/PodAttachOptions from the query string as the API server does (Go's
 * ParseQuery, then its query-parameter conversion): the first value wins.
 */
export function execRequest(rawUrl: string): ExecRequest {
  const params = parseGoQuery(rawQuery(rawUrl));
  return {
    container: params.get('container')?.[0] ?? '',
    command: (params.get('command') ?? []).slice(0, 1024),
    tty: apiServerBool(params, 'tty'),
    stdin: apiServerBool(params, 'stdin'),
    stdout: apiServerBool(params, 'stdout'),
    stderr: apiServerBool(params, 'stderr'),
  };
}

/**
 * Why a request target cannot be classified, or undefined when it can. Only origin-form
 * ("/path?query") is accepted: Node hands an absolute-form target ("http://x/api/…") through as
 * req.url while Go's API server routes it by its path, so classifying it would need a second URL
 * parser that agrees with Go's; kubectl never sends one. A '#' is refused for the same reason
 * (Go keeps it in the path; clients never send fragments).
 */
export function requestTargetProblem(target: string | undefined): string | undefined {
  if (target === undefined || !target.startsWith('/')) return 'the request target must be a path starting with "/" (origin-form)';
  if (target.includes('#')) return 'the request target must not contain "#"';
  return undefined;
}

/** The protocols an Upgrade header lists ("websocket, SPDY/3.1" → ["websocket", "spdy/3.1"]), lower-cased. */
function upgradeTokens(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}

/**
 * The stream protocol of an upgraded exec/attach, from what the upstream ANSWERED (its 101's
 * Upgrade header): a client may offer several, and the tap must parse what is really spoken. An
 * error when the answer is not exactly one protocol the client offered, or one kubecast cannot parse.
 */
export function answeredProtocol(requestUpgrade: string | undefined, responseUpgrade: string | undefined): { protocol: 'spdy' | 'websocket' } | { error: string } {
  const answer = upgradeTokens(responseUpgrade);
  const shown = JSON.stringify(responseUpgrade ?? '');
  if (answer.length !== 1) return { error: `the API server answered the upgrade with Upgrade: ${shown}, not a single protocol` };
  if (!upgradeTokens(requestUpgrade).includes(answer[0])) {
    return { error: `the API server answered the upgrade with Upgrade: ${shown}, which the client did not offer (${JSON.stringify(requestUpgrade ?? '')})` };
  }
  if (answer[0] === 'websocket') return { protocol: 'websocket' };
  if (answer[0] === 'spdy/3.1') return { protocol: 'spdy' };
  return { error: `the API server answered the upgrade with Upgrade: ${shown}, a protocol kubecast cannot record` };
}
