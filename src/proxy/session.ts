// One exec/attach upgrade through the proxy: connect a recorder first, then the upstream, then
// relay both directions through a tap that records the session.
import { request as httpRequest, type IncomingMessage, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connectRecorder, type ConnectOptions, type RecorderTarget, type RecorderUpload } from '../recorder/client';
import type { CastHeader } from '../cast';
import { httpStatus, type KubeStatus } from '../protocol/channel';
import type { ProtocolError } from '../protocol/errors';
import { SpdyTap } from '../tap/spdy-tap';
import { WsTap } from '../tap/ws-tap';
import type { EndReason, ProtocolErrorPolicy } from '../tap/events';
import type { StreamTap } from '../tap/tap';
import type { Logger } from '../util/log';
import { CastSink } from './cast-sink';
import type { ProxyMetrics } from './metrics';
import { SessionRecording, type FailurePolicy } from './recording';
import { answeredProtocol, execRequest, type Route } from './routes';
import type { Upstream } from './upstream';
import { clientAddress, kubectlVersion } from './identity';

export interface SessionSettings {
  upstream: Upstream;
  recorders: RecorderTarget[];
  policy: FailurePolicy;
  recordStdin: boolean;
  connect: ConnectOptions;
  spoolDir: string;
  firstResizeTimeoutMs?: number;
}

export interface SessionContext {
  settings: SessionSettings;
  log: Logger;
  metrics: ProxyMetrics;
  /**
   * Called when the session's relay starts (for counts and graceful shutdown): `done` settles when it
   * ended and its recording was delivered; `stop` ends it now, telling kubectl `message`.
   */
  track: (done: Promise<void>, stop: (message: string) => void) => void;
}

/** Headers that belong to the client↔proxy hop and are not forwarded upstream. */
const HOP_HEADERS = new Set(['authorization', 'host', 'proxy-authorization', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'x-forwarded-for']);

/** An upgrade on a recorded route (exec/attach). `ctx.log` already carries the session id. */
export async function handleSessionUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, route: Route, user: string, ctx: SessionContext): Promise<void> {
  const { settings, metrics } = ctx;
  const target = route.session!;
  const exec = execRequest(req.url ?? '');
  // What the client asked for, for the attempted metric only: the tap follows the upstream's answer.
  const requested = /websocket/i.test(req.headers.upgrade ?? '') ? 'websocket' : 'spdy';
  const type = target.sessionType;
  let log = ctx.log.child({ pod: `${target.namespace}/${target.pod}`, type, user });
  metrics.attempted.inc({ type, protocol: requested });
  client.on('error', () => {});
  client.pause();

  // The recorder comes first: in fail-closed mode a session that cannot be recorded must not start.
  let upload: RecorderUpload | undefined;
  try {
    if (settings.recorders.length === 0) throw new Error('no recorders configured');
    upload = await connectRecorder(settings.recorders, settings.connect);
    if (upload.recordingId) log = log.child({ recording: upload.recordingId });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (settings.policy === 'fail-closed') {
      metrics.refused.inc({ type, reason: 'recorder-unreachable' });
      log.warn('session refused: no recorder reachable (fail-closed)', { error: why });
      respondStatus(client, httpStatus(403, 'Forbidden', `kubectl ${type} session must be recorded, but no recorder is reachable (failure policy: fail-closed): ${why}`));
      return;
    }
    metrics.unrecorded.inc({ type, reason: 'recorder-unreachable' });
    log.warn('session runs unrecorded: no recorder reachable (fail-open)', { error: why });
  }

  const upstreamOptions = await settings.upstream.requestOptions().catch((err: unknown) => err as Error);
  if (upstreamOptions instanceof Error) {
    upload?.abort('upstream credentials failed');
    metrics.failed.inc({ type, reason: 'upstream-credentials' });
    respondStatus(client, httpStatus(502, 'ServiceUnavailable', `kubecast cannot authenticate to the upstream ${settings.upstream.label}: ${upstreamOptions.message}`));
    return;
  }

  const upstreamReq = openUpstream(req, settings.upstream, upstreamOptions);
  upstreamReq.on('response', (res) => {
    // The upstream refused the upgrade (RBAC, pod not found, SPDY/WS fallback probe…): no session.
    upload?.abort(`upstream answered ${res.statusCode}`);
    log.info('upstream refused the upgrade', { status: res.statusCode });
    relayResponse(client, res);
  });
  upstreamReq.on('error', (err) => {
    upload?.abort('upstream unreachable');
    metrics.failed.inc({ type, reason: 'upstream-unreachable' });
    log.warn('upstream unreachable', { error: err.message });
    respondStatus(client, httpStatus(502, 'ServiceUnavailable', `kubecast cannot reach the upstream ${settings.upstream.label}: ${err.message}`));
  });
  upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
    // Parse what the upstream speaks, not what the client offered ("websocket, SPDY/3.1" offers both).
    const answered = answeredProtocol(req.headers.upgrade, headerValue(res, 'upgrade'));
    if ('error' in answered) {
      upload?.abort('unrecordable upgrade answer');
      upload = undefined;
      if (settings.policy === 'fail-closed') {
        upstream.destroy();
        metrics.refused.inc({ type, reason: 'protocol-mismatch' });
        log.warn('session refused: cannot tell which protocol to record (fail-closed)', { error: answered.error });
        respondStatus(client, httpStatus(403, 'Forbidden', `kubectl ${type} session must be recorded, but ${answered.error} (failure policy: fail-closed)`));
        return;
      }
      metrics.unrecorded.inc({ type, reason: 'protocol-mismatch' });
      log.warn('session runs unrecorded: cannot tell which protocol to record (fail-open)', { error: answered.error });
    }
    const protocol = 'protocol' in answered ? answered.protocol : requested;
    const header: Omit<CastHeader, 'width' | 'height'> = {
      version: 2,
      timestamp: Math.floor(Date.now() / 1000),
      command: exec.command.join(' ') || undefined,
      srcNode: clientAddress(req),
      srcNodeID: '',
      srcNodeUser: user,
      env: exec.tty ? { TERM: 'xterm-256color' } : null,
      sshUser: '',
      localUser: '',
      connectionID: typeof req.headers['kubectl-session'] === 'string' ? req.headers['kubectl-session'] : '',
      kubernetes: { PodName: target.pod, Namespace: target.namespace, Container: exec.container, SessionType: type },
      kubecast: {
        id: '',
        user,
        cluster: settings.upstream.cluster,
        context: settings.upstream.context,
        kubeconfigUser: settings.upstream.kubeconfigUser,
        clientAddress: clientAddress(req),
        protocol,
        kubectlVersion: kubectlVersion(req.headers['user-agent']),
        tty: exec.tty,
        stdinRecorded: settings.recordStdin && exec.stdin,
        command: exec.command,
        startedAt: new Date().toISOString(),
      },
    };
    relaySession({ req, client, head, res, upstream, upstreamHead, header, upload, exec, protocol, type, log: log.child({ protocol }), ctx });
  });
  upstreamReq.end();
}

interface RelayArgs {
  req: IncomingMessage;
  client: Duplex;
  head: Buffer;
  res: IncomingMessage;
  upstream: Socket;
  upstreamHead: Buffer;
  header: Omit<CastHeader, 'width' | 'height'>;
  upload: RecorderUpload | undefined;
  exec: ReturnType<typeof execRequest>;
  protocol: 'spdy' | 'websocket';
  type: 'exec' | 'attach';
  log: Logger;
  ctx: SessionContext;
}

function relaySession(a: RelayArgs): void {
  const { client, upstream, ctx } = a;
  let log = a.log;
  const { settings, metrics } = ctx;
  upstream.setNoDelay(true);
  if ('setNoDelay' in client && typeof (client as Socket).setNoDelay === 'function') (client as Socket).setNoDelay(true);
  upstream.on('error', () => {});
  // The 101 goes to kubectl as the upstream sent it; frames after it pass through the tap.
  client.write(responseHead(a.res));

  let tap: StreamTap | undefined;
  let recording: SessionRecording | undefined;
  let sink: CastSink | undefined;
  let ended = false;
  let resolveDone!: () => void;
  // Called only after this function has returned (proxy shutdown), when `terminate` is defined.
  ctx.track(new Promise<void>((resolve) => (resolveDone = resolve)), (message) => terminate(message, 'shutdown'));
  metrics.liveSessions.inc();

  const pausedBy = new Set<string>();
  const pauseUpstream = (why: string, paused: boolean) => {
    if (paused) pausedBy.add(why);
    else pausedBy.delete(why);
    if (pausedBy.size > 0) upstream.pause();
    else upstream.resume();
  };

  const finish = (reason: EndReason) => {
    if (ended) return;
    ended = true;
    log.info('session ended', { end: reason.kind, recorded: recording !== undefined });
    tap?.finish(reason);
    metrics.liveSessions.dec();
    client.end();
    upstream.end();
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, 2000).unref();
    const delivered = recording?.end() ?? Promise.resolve();
    delivered.finally(resolveDone);
  };

  if (a.upload) {
    recording = new SessionRecording({
      upload: a.upload,
      targets: settings.recorders,
      connect: settings.connect,
      policy: settings.policy,
      spoolDir: settings.spoolDir,
      // Its lines carry the recording id too, which exists only once it is constructed.
      log: laterLogger(() => log),
      metrics,
      onFatal: (reason) => terminate(`kubecast: session ended: ${reason}`, 'recording-failed'),
      onBackpressure: (paused) => pauseUpstream('recorder', paused),
      marker: (label) => sink?.marker(label),
    });
    a.header.kubecast!.id = recording.id;
    if (a.upload.recordingId === undefined) log = log.child({ recording: recording.id });
    sink = new CastSink({
      header: a.header,
      tty: a.exec.tty,
      write: (lines) => recording?.write(lines) ?? false,
      onWarning: (warning) => log.warn('stream warning', { code: warning.code, message: warning.message }),
      // A malformed stream ended the tap (kubectl has been told why): close both ends now rather
      // than wait for a client that may never hang up. Deferred: the tap is still inside its call.
      onEnd: (reason) => {
        if (reason.kind === 'protocol-error') queueMicrotask(() => finish(reason));
      },
    });
    metrics.recorded.inc({ type: a.type, protocol: a.protocol });
    log.info('session recorded', { recorder: recording.recorderUrl, container: a.exec.container, command: a.exec.command, tty: a.exec.tty });
    const onProtocolError = (error: ProtocolError): ProtocolErrorPolicy => {
      log.warn('malformed stream', { code: error.code, error: error.message });
      metrics.failed.inc({ type: a.type, reason: 'protocol-error' });
      return settings.policy === 'fail-open' ? 'passthrough' : 'terminate';
    };
    const options = {
      sink,
      tty: a.exec.tty,
      recordStdin: settings.recordStdin,
      protocol: a.protocol === 'spdy' ? headerValue(a.res, 'x-stream-protocol-version') : headerValue(a.res, 'sec-websocket-protocol'),
      firstResizeTimeoutMs: settings.firstResizeTimeoutMs,
      onProtocolError,
      toClient: (data: Uint8Array) => {
        if (!client.write(data)) pauseUpstream('client', true);
      },
      toServer: (data: Uint8Array) => {
        if (!upstream.write(data)) client.pause();
      },
    };
    tap = a.protocol === 'spdy' ? new SpdyTap(options) : new WsTap(options);
    tap.onBackpressure = (paused) => pauseUpstream('held', paused);
  }

  const terminate = (message: string, reason: string) => {
    if (ended) return;
    metrics.failed.inc({ type: a.type, reason });
    log.warn('ending the session', { reason: message });
    try {
      tap?.terminate(message);
    } catch (err) {
      // Could not say why; still end the session rather than leave it hanging.
      log.error('could not send the termination message', { error: err instanceof Error ? err.message : String(err) });
    }
    finish({ kind: 'terminated', message });
  };

  client.on('drain', () => pauseUpstream('client', false));
  upstream.on('drain', () => client.resume());
  if (tap) {
    const t = tap;
    // A bug in the tap must end this session, never the process with every session on it.
    const guarded = (fn: (chunk: Buffer) => void) => (chunk: Buffer) => {
      try {
        fn(chunk);
      } catch (err) {
        log.error('session relay failed', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        metrics.failed.inc({ type: a.type, reason: 'internal-error' });
        if (!ended) {
          ended = true;
          client.destroy();
          upstream.destroy();
          metrics.liveSessions.dec();
          (recording?.end() ?? Promise.resolve()).finally(resolveDone);
        }
      }
    };
    client.on('data', guarded((chunk) => t.fromClient(chunk)));
    upstream.on('data', guarded((chunk) => t.fromServer(chunk)));
  } else {
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) pauseUpstream('client', true);
    });
  }
  const exitSeen = () => sink === undefined || sink.exitCode !== undefined;
  upstream.on('close', () => {
    if (ended) return;
    if (!exitSeen() && tap && !tap.ended) {
      // The API server went away mid-session: say so rather than leave kubectl with a bare EOF.
      terminate('kubecast: session ended: the connection to the API server was lost', 'upstream-lost');
      return;
    }
    finish({ kind: exitSeen() ? 'closed' : 'upstream-gone' });
  });
  client.on('close', () => finish({ kind: exitSeen() ? 'closed' : 'client-gone' }));

  // Bytes that arrived with the request or the 101 head go first (kubectl never sends early, but
  // the API server sends the WebSocket ready message right after its 101).
  if (a.head.byteLength > 0) {
    if (tap) tap.fromClient(a.head);
    else upstream.write(a.head);
  }
  if (a.upstreamHead.byteLength > 0) {
    if (tap) tap.fromServer(a.upstreamHead);
    else client.write(a.upstreamHead);
  }
  client.resume();
}

/** A logger that writes through whatever `current()` is at the time of each line. */
function laterLogger(current: () => Logger): Logger {
  return {
    debug: (msg, fields) => current().debug(msg, fields),
    info: (msg, fields) => current().info(msg, fields),
    warn: (msg, fields) => current().warn(msg, fields),
    error: (msg, fields) => current().error(msg, fields),
    child: (fields) => laterLogger(() => current().child(fields)),
  };
}

/** Opens the upstream upgrade request on a new connection, with the upstream's credentials. */
function openUpstream(req: IncomingMessage, upstream: Upstream, options: Awaited<ReturnType<Upstream['requestOptions']>>): ClientRequest {
  const headers: Array<[string, string]> = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!HOP_HEADERS.has(raw[i].toLowerCase())) headers.push([raw[i], raw[i + 1]]);
  }
  headers.push(['Host', upstream.url.host]);
  for (const [name, value] of Object.entries(options.headers)) headers.push([name, value]);
  const base = upstream.url.pathname.replace(/\/$/, '');
  const common = {
    host: upstream.url.hostname.replace(/^\[|\]$/g, ''),
    port: upstream.url.port || (upstream.url.protocol === 'https:' ? 443 : 80),
    method: req.method,
    path: base + (req.url ?? '/'),
    headers: headers.flat(),
    agent: false as const,
    setHost: false,
  };
  return upstream.url.protocol === 'https:' ? httpsRequest({ ...common, ...options.tls }) : httpRequest(common);
}

export function responseHead(res: IncomingMessage): string {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  return head + '\r\n';
}

/** Relays a non-101 upstream answer to a client whose socket we hold. */
function relayResponse(client: Duplex, res: IncomingMessage): void {
  let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i].toLowerCase();
    if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding') continue;
    head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    // Error bodies are small; cap what is buffered.
    if (size < 1024 * 1024) chunks.push(chunk);
    size += chunk.byteLength;
  });
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    client.end(Buffer.concat([Buffer.from(`${head}Content-Length: ${body.byteLength}\r\nConnection: close\r\n\r\n`), body]));
  });
  res.on('error', () => client.destroy());
}

/** Writes a Kubernetes Status as the HTTP answer to an upgrade request, then closes. */
export function respondStatus(client: Duplex, status: KubeStatus): void {
  const body = Buffer.from(JSON.stringify(status));
  const code = status.code ?? 500;
  const head = `HTTP/1.1 ${code} ${statusText(code)}\r\nContent-Type: application/json\r\nContent-Length: ${body.byteLength}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n`;
  client.end(Buffer.concat([Buffer.from(head), body]));
}

function statusText(code: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' } as Record<number, string>)[code] ?? 'Error';
}

function headerValue(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Why kubecast refuses a route it cannot record (fail-closed), in words kubectl prints. */
export function unrecordableRouteMessage(route: Route): string {
  if (route.kind !== 'shell-capable') {
    return `kubecast refuses upgrades it does not recognise in fail-closed mode: it cannot tell whether they carry a shell or a tunnel, and cannot record them (path ${route.normalized})`;
  }
  const what = route.label === 'nodes/proxy' ? 'requests through nodes/{node}/proxy (the kubelet API runs commands in containers)' : `${route.label} upgrades`;
  return `kubecast refuses ${what} in fail-closed mode: they can carry a shell or a tunnel that cannot be recorded (path ${route.normalized})`;
}
