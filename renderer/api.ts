// The console API client: the renderer's only source of data (DESIGN.md, "Console API").
// Same-origin fetch with the cookie the server set when the console URL was first opened, so
// renderer code never sees the token. Answers are checked for shape before use: a half-written
// server must produce a clear message, not an exception deep inside a view.

import type { ConsoleSettings, ConsoleStatus, ContextInfo, SettingsResult } from '../src/console/types';

export type Integrity = 'intact' | 'modified' | 'truncated' | 'unsigned' | 'pending';

export interface SessionInfo {
  id: string;
  startedAt: string;
  endedAt: string | null;
  user: string;
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  command: string;
  sessionType: string;
  protocol: string;
  tty: boolean;
  cols: number;
  rows: number;
  exitCode: number | null;
  bytes: number;
  complete: boolean;
  /** ISO 8601 time of the last output of a live session (drives the activity pulse). */
  lastOutputAt?: string | null;
}

export interface SearchHit {
  /** Seconds from the start of the recording. */
  time: number;
  text: string;
}

export interface Recording extends SessionInfo {
  live?: boolean;
  integrity?: Integrity;
  durationMs?: number | null;
  kubectlVersion?: string;
  clientAddress?: string;
  context?: string;
  argv?: string[];
  hits?: SearchHit[];
}

export interface RecordingQuery {
  q?: string;
  user?: string;
  namespace?: string;
  pod?: string;
  /** ISO 8601 */
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

export interface RecordingPage {
  items: Recording[];
  next: string | null;
}

// Shared with the server: src/console/types.ts holds declarations only, for exactly this.
export type { ConsoleSettings, ConsoleStatus, SettingsResult } from '../src/console/types';
export type KubeContext = ContextInfo;
export type Policy = ConsoleSettings['policy'];

export interface LiveEvent {
  type: 'started' | 'ended';
  session: SessionInfo;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called once when any request answers 401: the page was opened without the token cookie. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  } catch {
    throw new ApiError(0, 'The kubecast console is not reachable. Is `kubecast serve` (or the desktop app) still running?');
  }
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, 'Not signed in to the console.');
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  return response;
}

async function errorMessage(response: Response): Promise<string> {
  const fallback = `${response.status} ${response.statusText || 'error'}`;
  try {
    const text = await response.text();
    const parsed = JSON.parse(text) as unknown;
    if (isRecord(parsed)) {
      const message = parsed.error ?? parsed.message;
      if (typeof message === 'string' && message !== '') return message;
    }
    return text.trim().slice(0, 300) || fallback;
  } catch {
    return fallback;
  }
}

async function getJson(path: string): Promise<unknown> {
  const response = await request(path, { headers: { Accept: 'application/json' } });
  try {
    return (await response.json()) as unknown;
  } catch {
    throw new ApiError(response.status, `The console answered ${path} with something that is not JSON.`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const str = (value: unknown, fallback = ''): string => (typeof value === 'string' ? value : fallback);
const num = (value: unknown, fallback = 0): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const numOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function session(value: unknown): SessionInfo | null {
  if (!isRecord(value) || typeof value.id !== 'string') return null;
  return {
    id: value.id,
    startedAt: str(value.startedAt),
    endedAt: typeof value.endedAt === 'string' ? value.endedAt : null,
    user: str(value.user),
    cluster: str(value.cluster),
    namespace: str(value.namespace),
    pod: str(value.pod),
    container: str(value.container),
    command: Array.isArray(value.command) ? value.command.filter((a) => typeof a === 'string').join(' ') : str(value.command),
    sessionType: str(value.sessionType),
    protocol: str(value.protocol),
    tty: value.tty === true,
    cols: num(value.cols),
    rows: num(value.rows),
    exitCode: numOrNull(value.exitCode),
    bytes: num(value.bytes),
    complete: value.complete === true,
    lastOutputAt: typeof value.lastOutputAt === 'string' ? value.lastOutputAt : null,
  };
}

const INTEGRITY = new Set<Integrity>(['intact', 'modified', 'truncated', 'unsigned', 'pending']);

function recording(value: unknown): Recording | null {
  const base = session(value);
  if (base === null || !isRecord(value)) return null;
  const out: Recording = { ...base };
  if (typeof value.live === 'boolean') out.live = value.live;
  if (typeof value.integrity === 'string' && INTEGRITY.has(value.integrity as Integrity)) out.integrity = value.integrity as Integrity;
  out.durationMs = numOrNull(value.durationMs);
  if (typeof value.kubectlVersion === 'string') out.kubectlVersion = value.kubectlVersion;
  if (typeof value.clientAddress === 'string') out.clientAddress = value.clientAddress;
  if (typeof value.context === 'string') out.context = value.context;
  if (Array.isArray(value.argv)) out.argv = value.argv.filter((a): a is string => typeof a === 'string');
  if (Array.isArray(value.hits)) {
    out.hits = value.hits.flatMap((hit) =>
      isRecord(hit) && typeof hit.time === 'number' && Number.isFinite(hit.time) ? [{ time: hit.time, text: str(hit.text) }] : [],
    );
  }
  return out;
}

function items<T>(value: unknown, path: string, each: (item: unknown) => T | null): T[] {
  if (!isRecord(value) || !Array.isArray(value.items)) throw new ApiError(200, `Unexpected answer from ${path}: no "items" list.`);
  return value.items.map(each).filter((item): item is T => item !== null);
}

export function recordingsPath(query: RecordingQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const search = params.toString();
  return search === '' ? '/api/recordings' : `/api/recordings?${search}`;
}

const enc = encodeURIComponent;

export const api = {
  async live(): Promise<SessionInfo[]> {
    return items(await getJson('/api/live'), '/api/live', session);
  },

  async recordings(query: RecordingQuery): Promise<RecordingPage> {
    const path = recordingsPath(query);
    const body = await getJson(path);
    const list = items(body, path, recording);
    const next = isRecord(body) && typeof body.next === 'string' && body.next !== '' ? body.next : null;
    return { items: list, next };
  },

  async recording(id: string): Promise<Recording> {
    const found = recording(await getJson(`/api/recordings/${enc(id)}`));
    if (found === null) throw new ApiError(200, 'Unexpected answer: not a recording.');
    return found;
  },

  castUrl: (id: string): string => `/api/recordings/${enc(id)}/cast`,
  textUrl: (id: string): string => `/api/recordings/${enc(id)}/text`,

  async castText(id: string): Promise<string> {
    return (await request(api.castUrl(id))).text();
  },

  async deleteRecording(id: string): Promise<void> {
    await request(`/api/recordings/${enc(id)}`, { method: 'DELETE' });
  },

  async status(): Promise<ConsoleStatus> {
    const value = await getJson('/api/status');
    if (!isRecord(value)) throw new ApiError(200, 'Unexpected answer from /api/status.');
    const upstream = isRecord(value.upstream) ? value.upstream : {};
    const kind = upstream.kind === 'context' || upstream.kind === 'url' ? upstream.kind : 'local';
    return {
      upstream: { kind, name: str(upstream.name, kind === 'local' ? 'local cluster' : ''), url: typeof upstream.url === 'string' ? upstream.url : undefined },
      policy: value.policy === 'fail-open' ? 'fail-open' : 'fail-closed',
      recordStdin: value.recordStdin === true,
      recorders: Array.isArray(value.recorders) ? value.recorders.filter((r): r is string => typeof r === 'string') : [],
      retainDays: numOrNull(value.retainDays),
      dataDir: str(value.dataDir),
      kubeconfigPath: str(value.kubeconfigPath),
      kubectlCommand: str(value.kubectlCommand),
      localCluster: value.localCluster === true,
      live: num(value.live),
      version: str(value.version),
    };
  },

  async contexts(): Promise<KubeContext[]> {
    const value = await getJson('/api/contexts');
    // The server answers { items: [], error } when the kubeconfig cannot be read: show its reason.
    if (isRecord(value) && typeof value.error === 'string' && value.error !== '') throw new ApiError(200, value.error);
    return items(value, '/api/contexts', (item) =>
      isRecord(item) && typeof item.name === 'string'
        ? { name: item.name, cluster: str(item.cluster), user: str(item.user), server: str(item.server) }
        : null,
    );
  },

  async settings(): Promise<ConsoleSettings> {
    const value = await getJson('/api/settings');
    if (!isRecord(value)) throw new ApiError(200, 'Unexpected answer from /api/settings.');
    return {
      upstream: str(value.upstream, 'local'),
      recorders: Array.isArray(value.recorders) ? value.recorders.filter((r): r is string => typeof r === 'string') : [],
      policy: value.policy === 'fail-open' ? 'fail-open' : 'fail-closed',
      recordStdin: value.recordStdin === true,
      retainDays: numOrNull(value.retainDays),
      dataDir: str(value.dataDir),
    };
  },

  async saveSettings(settings: ConsoleSettings): Promise<SettingsResult> {
    const response = await request('/api/settings', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(settings),
    });
    const value = (await response.json().catch(() => ({}))) as unknown;
    const result: SettingsResult = {
      applied: !isRecord(value) || value.applied !== false,
      restartRequired: isRecord(value) && value.restartRequired === true,
    };
    if (isRecord(value) && typeof value.error === 'string' && value.error !== '') result.error = value.error;
    return result;
  },
};

/**
 * Follows `GET /api/events` (server-sent events). Returns a stop function. EventSource reconnects
 * by itself; `onState` reports whether the stream is up so callers can fall back to polling.
 */
export function subscribeLiveEvents(onEvent: (event: LiveEvent) => void, onState: (connected: boolean) => void): () => void {
  if (typeof EventSource === 'undefined') {
    onState(false);
    return () => {};
  }
  const source = new EventSource('/api/events', { withCredentials: true });
  source.addEventListener('open', () => onState(true));
  source.addEventListener('error', () => onState(false));
  source.addEventListener('live', (message) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse((message as MessageEvent<string>).data);
    } catch {
      return;
    }
    if (!isRecord(parsed) || (parsed.type !== 'started' && parsed.type !== 'ended')) return;
    const info = session(parsed.session);
    if (info !== null) onEvent({ type: parsed.type, session: info });
  });
  return () => source.close();
}

/** The live WebSocket of one session, on the page's own origin (the cookie goes along). */
export function liveSocketUrl(id: string, base: Location = location): string {
  const scheme = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${base.host}/api/live/${enc(id)}`;
}
