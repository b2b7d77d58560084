// The Session fields of a live recording, from its cast header. Headers come from any proxy
// (ours or the peer's), so every field is optional and checked by the cast reader first.
import { CastLineParser, type CastHeaderInfo } from '../cast';
import type { LiveSession } from './messages';

/**
 * A line parser primed with `header`. A header the reader rejects (a bad size, say) still gets a
 * session: the parser is primed with the fields that passed, or just the version.
 */
export function parserFor(header: Record<string, unknown>): CastLineParser {
  const attempts: Array<Record<string, unknown>> = [
    header,
    { version: header.version, kubecast: header.kubecast, kubernetes: header.kubernetes, command: header.command, timestamp: header.timestamp },
    { version: header.version === 3 ? 3 : 2 },
  ];
  for (const attempt of attempts) {
    const parser = new CastLineParser();
    try {
      parser.line(JSON.stringify(attempt));
      if (parser.header) return parser;
    } catch {
      // try the next, smaller header
    }
  }
  throw new Error('unreachable: a bare version header always parses');
}

export function describeSession(id: string, header: CastHeaderInfo, uploaderAddress: string | undefined, now: number): LiveSession {
  const raw = header.raw;
  const k8s = header.kubernetes ?? {};
  const kc = header.kubecast ?? {};
  const tty = typeof kc.tty === 'boolean' ? kc.tty : positive(raw.width) && positive(raw.height);
  const session: LiveSession = {
    id,
    startedAt: startTime(kc.startedAt, header.timestamp, now),
    endedAt: null,
    user: kc.user ?? (typeof raw.srcNodeUser === 'string' ? raw.srcNodeUser : ''),
    cluster: kc.cluster ?? '',
    namespace: k8s.Namespace ?? '',
    pod: k8s.PodName ?? '',
    container: k8s.Container ?? '',
    command: header.command ?? (Array.isArray(kc.command) ? kc.command.join(' ') : ''),
    sessionType: k8s.SessionType ?? null,
    protocol: kc.protocol ?? null,
    tty,
    cols: header.cols,
    rows: header.rows,
    exitCode: null,
    bytes: 0,
    complete: false,
    lastOutputAt: null,
  };
  if (typeof kc.kubectlVersion === 'string') session.kubectlVersion = kc.kubectlVersion;
  if (typeof kc.clientAddress === 'string') session.clientAddress = kc.clientAddress;
  if (uploaderAddress) session.uploaderAddress = uploaderAddress;
  return session;
}

function positive(value: unknown): boolean {
  return typeof value === 'number' && value > 0;
}

function startTime(startedAt: unknown, timestamp: number | undefined, now: number): string {
  if (typeof startedAt === 'string') {
    const ms = Date.parse(startedAt);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  if (timestamp !== undefined) {
    const date = new Date(timestamp * 1000);
    if (Number.isFinite(date.getTime())) return date.toISOString();
  }
  return new Date(now).toISOString();
}
