// What the local cluster says about a session's end and about bad requests, built from the shared
// Status shapes of src/protocol/channel.ts: the containerd-style wording of a kubelet's results
// (error stream / WebSocket channel 3) and the API errors HTTP handlers answer with.
import { exitCodeStatus, httpStatus, internalErrorStatus, successStatus, type KubeStatus } from '../protocol/channel';

/** What an exec/attach produced: sent on the error stream when the session ends. */
export type SessionResult =
  | { kind: 'success' }
  | { kind: 'exit'; code: number; command: string[] }
  | { kind: 'failure'; message: string };

/**
 * The ExitError text of containerd's streaming runtime (what a real cluster shows today), e.g.
 * `error executing command [sh -c exit 3], exit code 3`; the argv is printed as Go's %v does.
 */
export function containerdExitDetail(command: string[], code: number): string {
  return `error executing command [${command.join(' ')}], exit code ${code}`;
}

export function resultStatus(result: SessionResult): KubeStatus {
  switch (result.kind) {
    case 'success':
      return successStatus();
    case 'exit':
      return result.code === 0 ? successStatus() : exitCodeStatus(result.code, containerdExitDetail(result.command, result.code));
    case 'failure':
      return internalErrorStatus(result.message);
  }
}

/**
 * Protocols before v4 carry plain text on the error stream, and any text means failure
 * (an empty stream means success).
 */
export function legacyErrorText(status: KubeStatus): string {
  return status.status === 'Success' ? '' : (status.message ?? 'unknown error');
}

// --- API errors (HTTP responses) ---

export type ApiReason = 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'MethodNotAllowed' | 'InternalError' | 'NotAcceptable';

/** An error an HTTP handler answers with: status code + Status body. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: ApiReason,
    message: string,
    readonly details?: KubeStatus['details'],
    /** Extra response headers, e.g. X-Accepted-Stream-Protocol-Versions on a 403. */
    readonly headers: Array<[string, string]> = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): KubeStatus {
    return httpStatus(this.code, this.reason, this.message, this.details);
  }
}

export function notFound(resource: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/** Anything a handler did not expect, in the API server's InternalError shape. */
export function internalError(err: unknown): ApiError {
  const status = internalErrorStatus(err instanceof Error ? err.message : String(err));
  return new ApiError(500, 'InternalError', status.message ?? 'Internal error occurred', status.details);
}
