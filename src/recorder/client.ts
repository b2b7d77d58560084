// Recorder client: connects an upload to the first recorder that answers, v2 (h2c, acks) when it
// offers it, v1 (HTTP/1.1 + Expect: 100-continue) otherwise. Dials are bounded per address and in
// total, unlike the peer (whose waits for responses were unbounded), and every address's error is
// reported when all fail.
import { connect as connectH2, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { AckWindow } from './ack-window';
import { openLocalUpload, type LocalRecorder } from './local';
import { RecorderUploadError, type RecorderUpload } from './upload';

export { RecorderUploadError, type RecorderUpload };
import { HEADER_OFFSET, HEADER_RECORDING_ID, HEADER_RESUME, V1_PATH, V2_PATH, type AckFrame } from './protocol';

export interface RecorderTarget {
  /** http://host:port of a recorder. */
  url: string;
  /** Bearer token; null/undefined = none. */
  token?: string | null;
  /** The same recorder in this process: uploads skip the network (kubecast serve's embedded recorder). */
  local?: LocalRecorder;
}

export interface ConnectOptions {
  /** Per address. Default 5000 ms. */
  dialTimeoutMs?: number;
  /** Across all addresses. Default 30000 ms. */
  totalTimeoutMs?: number;
  /** v2: fail when no ack frame arrives, or acks stop advancing while data waits, this long. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** Continue an existing recording (kubecast recorders only). */
  resumeId?: string;
}

export class RecorderConnectError extends Error {
  constructor(readonly attempts: Array<{ url: string; error: string }>) {
    super(
      attempts.length === 0
        ? 'no recorders configured'
        : `cannot reach any recorder: ${attempts.map((a) => `${a.url}: ${a.error}`).join('; ')}`,
    );
    this.name = 'RecorderConnectError';
  }
}

const DEFAULTS = { dialTimeoutMs: 5000, totalTimeoutMs: 30000, ackTimeoutMs: 5000 };

export async function connectRecorder(targets: RecorderTarget[], options: ConnectOptions = {}): Promise<RecorderUpload> {
  const opts = { ...DEFAULTS, ...options };
  const deadline = Date.now() + opts.totalTimeoutMs;
  const attempts: Array<{ url: string; error: string }> = [];
  for (const target of targets) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      attempts.push({ url: target.url, error: 'not tried: the total dial budget ran out' });
      continue;
    }
    const budget = Math.min(opts.dialTimeoutMs, remaining);
    try {
      if (target.local) return await openLocalUpload(target.local, { resumeId: opts.resumeId, ackTimeoutMs: opts.ackTimeoutMs });
      return await connectOne(target, budget, opts);
    } catch (err) {
      attempts.push({ url: target.url, error: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new RecorderConnectError(attempts);
}

async function connectOne(target: RecorderTarget, budgetMs: number, opts: typeof DEFAULTS & ConnectOptions): Promise<RecorderUpload> {
  const url = new URL(target.url);
  if (url.protocol !== 'http:') throw new Error(`unsupported recorder URL scheme ${url.protocol} (use http://)`);
  const auth: Record<string, string> = target.token ? { authorization: `Bearer ${target.token}` } : {};
  const started = Date.now();
  const left = () => Math.max(1, budgetMs - (Date.now() - started));
  const probe = await probeV2(url, auth, budgetMs);
  if (probe.session) {
    try {
      return await V2Upload.open(probe.session, target.url, auth, left(), opts);
    } catch (err) {
      probe.session.destroy();
      throw err;
    }
  }
  if (probe.unauthorized) throw new Error('recorder refused the token (401)');
  if (opts.resumeId) throw new Error(`recorder does not offer v2, cannot resume (${probe.reason})`);
  return V1Upload.open(url, target.url, auth, left());
}

interface Probe {
  session?: ClientHttp2Session;
  unauthorized?: boolean;
  reason?: string;
}

/**
 * HEAD /v2/record over h2c: 200 means v2. An HTTP/1-only server fails the h2 handshake → v1. One
 * that accepts the connection but never answers the h2 preface gets half of what is left of the
 * budget after the TCP connect; then v1 is tried in the other half.
 */
function probeV2(url: URL, auth: Record<string, string>, budgetMs: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const started = Date.now();
    const session = connectH2(url.origin);
    let timer = setTimeout(() => finish(new Error(`timed out after ${budgetMs} ms`)), budgetMs);
    const finish = (result: Probe | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (result instanceof Error || !result.session) session.destroy();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    session.on('error', (err: NodeJS.ErrnoException) => {
      // Refused or unreachable: the address is down, v1 would fail the same way.
      if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENOTFOUND' || err.code === 'ETIMEDOUT') finish(err);
      else finish({ reason: `no HTTP/2: ${err.message}` });
    });
    session.on('close', () => finish({ reason: 'connection closed during the HTTP/2 probe' }));
    session.on('connect', () => {
      clearTimeout(timer);
      const answerMs = Math.max(1, Math.floor((budgetMs - (Date.now() - started)) / 2));
      timer = setTimeout(() => finish({ reason: `no HTTP/2 answer within ${answerMs} ms` }), answerMs);
      const req = session.request({ ':method': 'HEAD', ':path': V2_PATH, ...auth }, { endStream: true });
      req.on('error', (err) => finish({ reason: `HEAD ${V2_PATH} failed: ${err.message}` }));
      req.on('response', (headers) => {
        const status = Number(headers[':status']);
        req.close();
        if (status === 200) finish({ session });
        else if (status === 401) finish({ unauthorized: true, reason: 'unauthorized' });
        else finish({ reason: `HEAD ${V2_PATH} answered ${status}` });
      });
    });
  });
}

abstract class UploadBase implements RecorderUpload {
  abstract readonly version: 1 | 2;
  recordingId: string | undefined;
  startOffset = 0;
  sent = 0;
  acked = 0;
  failed: Error | undefined;
  onFailure: ((error: Error) => void) | undefined;
  onAck: ((acked: number, latencyMs: number) => void) | undefined;
  onDrain: (() => void) | undefined;
  protected ending: Promise<void> | undefined;

  constructor(readonly url: string) {}

  abstract write(data: Buffer): boolean;
  abstract end(): Promise<void>;
  abstract abort(reason: string): void;

  protected fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.onFailure?.(error);
  }
}

class V2Upload extends UploadBase {
  readonly version = 2;
  private window: AckWindow | undefined;
  private responseEnded = false;
  /** end() resolved: the transport closing afterwards is not a failure. */
  private done = false;
  private endWaiters: Array<() => void> = [];
  /** Send times of offsets still waiting for an ack, for ack latency. */
  private sendTimes: Array<{ offset: number; at: number }> = [];

  private constructor(
    url: string,
    private readonly session: ClientHttp2Session,
    private readonly stream: ClientHttp2Stream,
    private readonly ackTimeoutMs: number,
  ) {
    super(url);
  }

  static open(session: ClientHttp2Session, url: string, auth: Record<string, string>, budgetMs: number, opts: ConnectOptions & { ackTimeoutMs: number }): Promise<V2Upload> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ':method': 'POST', ':path': V2_PATH, 'content-type': 'application/x-asciicast', ...auth };
      if (opts.resumeId) headers[HEADER_RESUME] = opts.resumeId;
      const stream = session.request(headers, { endStream: false });
      const timer = setTimeout(() => {
        stream.close(h2.NGHTTP2_CANCEL);
        reject(new Error(`no response to POST ${V2_PATH} within ${budgetMs} ms`));
      }, budgetMs);
      stream.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`POST ${V2_PATH} failed: ${err.message}`));
      });
      stream.once('response', (responseHeaders) => {
        clearTimeout(timer);
        const status = Number(responseHeaders[':status']);
        if (status !== 200) {
          stream.close(h2.NGHTTP2_CANCEL);
          reject(new Error(`POST ${V2_PATH} answered ${status}`));
          return;
        }
        const upload = new V2Upload(url, session, stream, opts.ackTimeoutMs);
        const id = responseHeaders[HEADER_RECORDING_ID];
        if (typeof id === 'string') upload.recordingId = id;
        const offset = Number(responseHeaders[HEADER_OFFSET] ?? 0);
        if (opts.resumeId && Number.isSafeInteger(offset) && offset >= 0) {
          upload.startOffset = offset;
          upload.sent = offset;
          upload.acked = offset;
        }
        upload.listen();
        resolve(upload);
      });
    });
  }

  private listen(): void {
    let pending = '';
    this.stream.setEncoding('utf8');
    this.stream.removeAllListeners('error');
    this.stream.on('data', (text: string) => {
      pending += text;
      if (pending.length > 64 * 1024) {
        this.fail(new RecorderUploadError('recorder sent an oversized ack line'));
        this.teardown();
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line !== '') this.frame(line);
      }
    });
    this.stream.on('end', () => {
      this.responseEnded = true;
      // Before our body ended this is an early end; after it, the recorder's way of saying it is done.
      if (!this.ending) this.fail(new RecorderUploadError('recorder ended the upload early'));
      this.flushWaiters();
    });
    this.stream.on('error', (err) => this.fail(new RecorderUploadError(`recorder connection failed: ${err.message}`)));
    this.stream.on('close', () => {
      if (!this.responseEnded) this.fail(new RecorderUploadError('recorder connection closed'));
      this.flushWaiters();
      this.teardown();
    });
    this.session.on('error', (err) => this.fail(new RecorderUploadError(`recorder connection failed: ${err.message}`)));
    this.session.on('close', () => this.fail(new RecorderUploadError('recorder connection closed')));
    this.window = new AckWindow({
      windowMs: this.ackTimeoutMs,
      expectIdleFrames: true,
      counts: () => this,
      onExpire: (message) => {
        this.fail(new RecorderUploadError(message));
        this.teardown();
      },
    });
  }

  private frame(line: string): void {
    let frame: AckFrame;
    try {
      frame = JSON.parse(line) as AckFrame;
    } catch {
      this.fail(new RecorderUploadError(`recorder sent a malformed ack line: ${line.slice(0, 80)}`));
      this.teardown();
      return;
    }
    const at = Date.now();
    this.window?.frame();
    if (typeof frame.error === 'string') {
      this.fail(new RecorderUploadError(`recorder error: ${frame.error}`));
      return;
    }
    const ack = typeof frame.ack === 'number' && Number.isSafeInteger(frame.ack) ? frame.ack : undefined;
    if (ack !== undefined && ack > this.acked) {
      if (ack > this.sent) {
        this.fail(new RecorderUploadError(`recorder acked ${ack} bytes but only ${this.sent} were sent`));
        this.teardown();
        return;
      }
      this.acked = ack;
      this.window?.progress();
      let latency = 0;
      while (this.sendTimes.length > 0 && this.sendTimes[0].offset <= ack) latency = at - this.sendTimes.shift()!.at;
      this.onAck?.(ack, latency);
      this.flushWaiters();
    }
  }

  write(data: Buffer): boolean {
    if (this.failed || this.ending) return false;
    if (data.byteLength === 0) return true;
    const caughtUp = this.sent === this.acked;
    this.sent += data.byteLength;
    this.window?.sending(caughtUp);
    this.sendTimes.push({ offset: this.sent, at: Date.now() });
    if (this.sendTimes.length > 4096) this.sendTimes.splice(0, this.sendTimes.length - 4096);
    this.stream.write(data);
    return true;
  }

  end(): Promise<void> {
    this.ending ??= new Promise<void>((resolve, reject) => {
      if (this.failed) {
        reject(this.failed);
        return;
      }
      const check = () => {
        if (this.failed) {
          reject(this.failed);
          this.teardown();
          return true;
        }
        // Our body has ended, so a response end without an error line is success, even with acks
        // short of what was sent: recorders like the peer's ack bytes received and stop acking when
        // the body ends (the caller sees acked < sent and can say so).
        if (this.responseEnded) {
          this.done = true;
          resolve();
          this.teardown();
          return true;
        }
        return false;
      };
      this.endWaiters.push(() => void check());
      const previous = this.onFailure;
      this.onFailure = (err) => {
        previous?.(err);
        check();
      };
      this.stream.end();
    });
    return this.ending;
  }

  abort(reason: string): void {
    this.fail(new RecorderUploadError(`upload aborted: ${reason}`));
    this.teardown();
  }

  private flushWaiters(): void {
    for (const waiter of this.endWaiters) waiter();
  }

  protected override fail(error: Error): void {
    if (!this.done) super.fail(error);
  }

  private teardown(): void {
    this.window?.stop();
    if (this.done) {
      if (!this.session.destroyed) this.session.close();
      return;
    }
    // A cut, not an end: closing the stream would end our body first (END_STREAM), which a
    // recorder takes for a clean finish and stores as complete. Each upload has its own session.
    if (!this.session.destroyed) this.session.destroy();
  }
}

class V1Upload extends UploadBase {
  readonly version = 1;
  private response: IncomingMessage | undefined;

  private constructor(
    url: string,
    private readonly req: ClientRequest,
  ) {
    super(url);
  }

  static open(url: URL, label: string, auth: Record<string, string>, budgetMs: number): Promise<V1Upload> {
    return new Promise((resolve, reject) => {
      const req = httpRequest({
        host: url.hostname,
        port: url.port || 80,
        method: 'POST',
        path: V1_PATH,
        headers: { expect: '100-continue', 'content-type': 'application/x-asciicast', 'transfer-encoding': 'chunked', ...auth },
        agent: false,
      });
      let connected = false;
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`no 100 Continue within ${budgetMs} ms`));
      }, budgetMs);
      req.once('continue', () => {
        clearTimeout(timer);
        connected = true;
        const upload = new V1Upload(label, req);
        upload.listen();
        resolve(upload);
      });
      req.once('response', (res) => {
        if (connected) return;
        clearTimeout(timer);
        res.resume();
        reject(new Error(res.statusCode === 401 ? 'recorder refused the token (401)' : `POST ${V1_PATH} answered ${res.statusCode} before accepting data`));
      });
      req.once('error', (err) => {
        if (connected) return;
        clearTimeout(timer);
        reject(err);
      });
      req.flushHeaders();
    });
  }

  private listen(): void {
    this.req.on('error', (err) => this.fail(new RecorderUploadError(`recorder connection failed: ${err.message}`)));
    this.req.on('response', (res) => {
      this.response = res;
      res.resume();
      const id = res.headers[HEADER_RECORDING_ID];
      if (typeof id === 'string') this.recordingId = id;
      if (res.statusCode !== 200) this.fail(new RecorderUploadError(`recorder answered ${res.statusCode}`));
      else if (!this.ending) this.fail(new RecorderUploadError('recorder ended the upload early'));
    });
    this.req.on('close', () => {
      if (!this.response) this.fail(new RecorderUploadError('recorder connection closed'));
    });
    this.req.on('drain', () => this.onDrain?.());
  }

  write(data: Buffer): boolean {
    if (this.failed || this.ending) return false;
    if (data.byteLength === 0) return true;
    this.sent += data.byteLength;
    // No acks to pace by: the socket's buffer is the only signal that a slow recorder is behind.
    return this.req.write(data);
  }

  end(): Promise<void> {
    this.ending ??= new Promise<void>((resolve, reject) => {
      if (this.failed) {
        reject(this.failed);
        return;
      }
      const done = (res: IncomingMessage) => {
        if (res.statusCode === 200) {
          this.acked = this.sent;
          resolve();
        } else reject(new RecorderUploadError(`recorder answered ${res.statusCode}`));
      };
      if (this.response) done(this.response);
      else this.req.once('response', done);
      this.req.once('error', reject);
      this.req.end();
    });
    return this.ending;
  }

  abort(reason: string): void {
    this.fail(new RecorderUploadError(`upload aborted: ${reason}`));
    this.req.destroy();
  }
}
