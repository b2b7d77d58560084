// Kubernetes `Status` objects, in the exact shapes kubectl decodes: API errors (HTTP body, with a code)
// and the result of a command (error stream / WebSocket channel 3). Shapes: reference §3 "Error stream
// contents" and §7. Local until src/protocol/channel.ts lands; then the exec builders move there.

/** A metav1.Status as it goes on the wire (only the fields kubectl reads). */
export interface KubeStatus {
  kind?: 'Status';
  apiVersion?: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; causes?: Array<{ reason?: string; message?: string }> };
  code?: number;
}

/** What an exec/attach produced: sent on the error stream when the session ends. */
export type SessionResult =
  | { kind: 'success' }
  | { kind: 'exit'; code: number; command: string[] }
  | { kind: 'failure'; message: string };

export function successStatus(): KubeStatus {
  return { metadata: {}, status: 'Success' };
}

/**
 * Non-zero exit, as the kubelet reports it. The message text is what containerd's streaming
 * runtime puts in its ExitError; kubectl only reads the ExitCode cause and prints
 * "command terminated with exit code N".
 */
export function exitCodeStatus(code: number, command: string[]): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

/** Any other failure: kubectl prints `error: <message>` and exits 1 (apierrors.NewInternalError shape). */
export function internalErrorStatus(cause: string): KubeStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${cause}`,
    reason: 'InternalError',
    details: { causes: [{ message: cause }] },
    code: 500,
  };
}

export function resultStatus(result: SessionResult): KubeStatus {
  switch (result.kind) {
    case 'success':
      return successStatus();
    case 'exit':
      return result.code === 0 ? successStatus() : exitCodeStatus(result.code, result.command);
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
    const status: KubeStatus = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) status.details = this.details;
    return status;
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
