// Turns an exec/attach URL into a validated StreamRequest, with the errors the API server and kubelet
// give for bad ones (all as Status objects kubectl prints).
import { apiServerBool, parseGoQuery } from '../util/go-query';
import { badRequest, notFound, type ApiError } from './status';
import type { ContainerSpec, PodSet, PodSpec } from './pods';
import type { StreamKind, StreamRequest } from './session';

const STREAM_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach)$/;
/** An argv this long is not a command someone typed; the apiserver has no limit, we do. */
const MAX_COMMAND_ARGS = 4096;
const MAX_COMMAND_BYTES = 256 * 1024;

export interface ResolvedStream {
  request: StreamRequest;
  pod: PodSpec;
  container: ContainerSpec;
}

/** Whether the path is an exec/attach endpoint at all (before any validation). */
export function isStreamPath(pathname: string): boolean {
  return STREAM_PATH.test(pathname);
}

/** A container name for requests without one: the only container, else an error listing them. */
function pickContainer(pod: PodSpec, requested: string | null): ContainerSpec | ApiError {
  if (requested === null || requested === '') {
    if (pod.containers.length === 1) return pod.containers[0];
    return badRequest(`a container name must be specified for pod ${pod.name}, choose one of: [${pod.containers.map((c) => c.name).join(' ')}]`);
  }
  return pod.containers.find((c) => c.name === requested) ?? badRequest(`container ${requested} is not valid for pod ${pod.name}`);
}

export function resolveStreamRequest(url: URL, pods: PodSet): ResolvedStream | ApiError {
  const match = STREAM_PATH.exec(url.pathname);
  if (!match) return notFound('path', url.pathname);
  let namespace: string;
  let podName: string;
  try {
    namespace = decodeURIComponent(match[1]);
    podName = decodeURIComponent(match[2]);
  } catch {
    return badRequest('malformed path');
  }
  const kind = match[3] as StreamKind;
  const pod = pods.get(namespace, podName);
  if (!pod) return notFound('pods', podName);
  // Read as the API server reads it (Go's ParseQuery, its query booleans), so the proxy in front and
  // this cluster agree on what a request asks for.
  const params = parseGoQuery(url.search.slice(1));
  const container = pickContainer(pod, params.get('container')?.[0] ?? null);
  if (!('command' in container)) return container;

  const flags: Record<'stdin' | 'stdout' | 'stderr' | 'tty', boolean> = { stdin: false, stdout: false, stderr: false, tty: false };
  for (const name of ['stdin', 'stdout', 'stderr', 'tty'] as const) flags[name] = apiServerBool(params, name);
  // The kubelet drops stderr when a TTY is used (the terminal merges it into stdout).
  if (flags.tty) flags.stderr = false;
  if (!flags.stdin && !flags.stdout && !flags.stderr) return badRequest('you must specify at least 1 of stdin, stdout, stderr');

  const command = kind === 'exec' ? (params.get('command') ?? []) : [];
  if (kind === 'exec') {
    if (command.length === 0 || command[0] === '') return badRequest('you must specify at least one command for the container');
    const bytes = command.reduce((sum, arg) => sum + Buffer.byteLength(arg), 0);
    if (command.length > MAX_COMMAND_ARGS || bytes > MAX_COMMAND_BYTES) return badRequest('command is too long');
    if (command.some((arg) => arg.includes('\0'))) return badRequest('command arguments must not contain NUL bytes');
  }
  return {
    request: { kind, namespace, pod: pod.name, container: container.name, command, ...flags },
    pod,
    container,
  };
}
