// The local cluster's pods: the built-in default set and the `--pods FILE` format that replaces it.
// A pod here is only a name and a list of containers; each container is a working directory plus
// the command its main process runs (started on first attach). Nothing is isolated.

export const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';
/** The main process when a container names none: a shell, so attach has something to join. */
export const DEFAULT_MAIN_COMMAND = ['sh'];
export const MAX_PODS_FILE_BYTES = 1024 * 1024;

export interface ContainerSpec {
  name: string;
  /** argv of the container's main process (what `kubectl attach` joins). */
  command: string[];
  /** Extra environment for every process of this container (on top of HOSTNAME, TERM, PATH, HOME). */
  env: Record<string, string>;
  /** Main process keeps a stdin open for attachers. kubectl attach -i needs it. */
  stdin: boolean;
  /** Main process runs in a pseudo-terminal; kubectl attach turns -t on when this is set. */
  tty: boolean;
}

export interface PodSpec {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  containers: ContainerSpec[];
}

function shellContainer(name: string): ContainerSpec {
  return { name, command: [...DEFAULT_MAIN_COMMAND], env: {}, stdin: true, tty: true };
}

/** namespace `default`: `shell` (container `shell`) and `web-0` (containers `app`, `sidecar`; default `app`). */
export function defaultPods(): PodSpec[] {
  return [
    { namespace: 'default', name: 'shell', labels: { app: 'shell' }, annotations: {}, containers: [shellContainer('shell')] },
    {
      namespace: 'default',
      name: 'web-0',
      labels: { app: 'web' },
      annotations: { [DEFAULT_CONTAINER_ANNOTATION]: 'app' },
      containers: [shellContainer('app'), shellContainer('sidecar')],
    },
  ];
}

export class PodsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PodsFileError';
  }
}

// DNS-1123 label (namespaces, containers) and subdomain (pods), as the API server validates them.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED_ENV = new Set(['HOSTNAME', 'TERM', 'PATH', 'HOME']);

/**
 * Parses a pods file. Format:
 * `{"pods":[{"name":"shell","namespace":"default","labels":{},"annotations":{},"defaultContainer":"shell",
 *   "containers":[{"name":"shell","command":["sh"],"env":{"K":"V"},"stdin":true,"tty":true}]}]}`
 * Only `pods[].name` and `pods[].containers[].name` are required. Unknown keys are errors (typos).
 */
export function parsePodsFile(text: string, source = 'pods file'): PodSpec[] {
  if (text.length > MAX_PODS_FILE_BYTES) throw new PodsFileError(`${source}: larger than ${MAX_PODS_FILE_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PodsFileError(`${source}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const at = (path: string, problem: string) => new PodsFileError(`${source}: ${path} ${problem}`);
  const root = object(doc, '(top level)', at);
  onlyKeys(root, ['pods'], '(top level)', at);
  if (!Array.isArray(root.pods)) throw at('pods', 'must be an array of pods');
  if (root.pods.length === 0) throw at('pods', 'must list at least one pod');
  if (root.pods.length > 1000) throw at('pods', 'lists more than 1000 pods');

  const seen = new Set<string>();
  return root.pods.map((rawPod, i) => {
    const path = `pods[${i}]`;
    const pod = object(rawPod, path, at);
    onlyKeys(pod, ['name', 'namespace', 'labels', 'annotations', 'defaultContainer', 'containers'], path, at);
    const name = dnsName(pod.name, `${path}.name`, SUBDOMAIN, 253, at);
    const namespace = pod.namespace === undefined ? 'default' : dnsName(pod.namespace, `${path}.namespace`, LABEL, 63, at);
    if (seen.has(`${namespace}/${name}`)) throw at(`${path}.name`, `"${name}" is already used in namespace "${namespace}"`);
    seen.add(`${namespace}/${name}`);
    const labels = stringMap(pod.labels, `${path}.labels`, at);
    const annotations = stringMap(pod.annotations, `${path}.annotations`, at);

    if (!Array.isArray(pod.containers) || pod.containers.length === 0) throw at(`${path}.containers`, 'must be a non-empty array');
    if (pod.containers.length > 100) throw at(`${path}.containers`, 'lists more than 100 containers');
    const containerNames = new Set<string>();
    const containers = pod.containers.map((rawContainer, j): ContainerSpec => {
      const cpath = `${path}.containers[${j}]`;
      const c = object(rawContainer, cpath, at);
      onlyKeys(c, ['name', 'command', 'env', 'stdin', 'tty'], cpath, at);
      const cname = dnsName(c.name, `${cpath}.name`, LABEL, 63, at);
      if (containerNames.has(cname)) throw at(`${cpath}.name`, `"${cname}" is already used in this pod`);
      containerNames.add(cname);
      let command = [...DEFAULT_MAIN_COMMAND];
      if (c.command !== undefined) {
        if (!Array.isArray(c.command) || c.command.length === 0 || !c.command.every((a) => typeof a === 'string')) {
          throw at(`${cpath}.command`, 'must be a non-empty array of strings (an argv, e.g. ["sh"])');
        }
        if (c.command[0] === '') throw at(`${cpath}.command[0]`, 'must not be empty');
        command = [...(c.command as string[])];
      }
      const env = stringMap(c.env, `${cpath}.env`, at);
      for (const key of Object.keys(env)) {
        if (!ENV_NAME.test(key)) throw at(`${cpath}.env`, `has an invalid variable name "${key}"`);
        if (RESERVED_ENV.has(key)) throw at(`${cpath}.env.${key}`, 'is set by the local cluster and cannot be overridden');
      }
      return { name: cname, command, env, stdin: bool(c.stdin, true, `${cpath}.stdin`, at), tty: bool(c.tty, true, `${cpath}.tty`, at) };
    });

    if (pod.defaultContainer !== undefined) {
      if (typeof pod.defaultContainer !== 'string' || !containerNames.has(pod.defaultContainer)) {
        throw at(`${path}.defaultContainer`, `must name one of the pod's containers (${[...containerNames].join(', ')})`);
      }
      annotations[DEFAULT_CONTAINER_ANNOTATION] = pod.defaultContainer;
    }
    return { namespace, name, labels, annotations, containers };
  });
}

type At = (path: string, problem: string) => PodsFileError;

function object(value: unknown, path: string, at: At): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw at(path, 'must be a JSON object');
  return value as Record<string, unknown>;
}

function onlyKeys(value: Record<string, unknown>, allowed: string[], path: string, at: At): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw at(path, `has an unknown key "${key}" (allowed: ${allowed.join(', ')})`);
  }
}

function dnsName(value: unknown, path: string, pattern: RegExp, max: number, at: At): string {
  if (typeof value !== 'string' || value.length === 0) throw at(path, 'must be a non-empty string');
  if (value.length > max || !pattern.test(value)) {
    throw at(path, `"${value}" is not a valid name (lowercase letters, digits and '-'${pattern === SUBDOMAIN ? " or '.'" : ''}, at most ${max} characters)`);
  }
  return value;
}

function stringMap(value: unknown, path: string, at: At): Record<string, string> {
  if (value === undefined) return {};
  const map = object(value, path, at);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(map)) {
    if (typeof v !== 'string') throw at(`${path}.${key}`, 'must be a string');
    out[key] = v;
  }
  return out;
}

function bool(value: unknown, fallback: boolean, path: string, at: At): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw at(path, 'must be true or false');
  return value;
}

/** The container kubectl picks without `-c`: the default-container annotation, else the first. */
export function defaultContainerOf(pod: PodSpec): ContainerSpec {
  const named = pod.annotations[DEFAULT_CONTAINER_ANNOTATION];
  return pod.containers.find((c) => c.name === named) ?? pod.containers[0];
}

/** Lookup by namespace/name over a fixed set of pods. */
export class PodSet {
  private readonly byKey = new Map<string, PodSpec>();

  constructor(readonly pods: PodSpec[]) {
    for (const pod of pods) this.byKey.set(`${pod.namespace}/${pod.name}`, pod);
  }

  get(namespace: string, name: string): PodSpec | undefined {
    return this.byKey.get(`${namespace}/${name}`);
  }

  inNamespace(namespace: string | undefined): PodSpec[] {
    return namespace === undefined ? this.pods : this.pods.filter((p) => p.namespace === namespace);
  }

  namespaces(): string[] {
    return [...new Set(this.pods.map((p) => p.namespace))].sort();
  }
}
