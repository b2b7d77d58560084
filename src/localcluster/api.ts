// The plain HTTP part of the local cluster's Kubernetes API: discovery, pods (objects, lists, and
// server-side Tables so `kubectl get pods` prints READY/STATUS/RESTARTS/AGE), pod logs, and
// Status errors with the codes kubectl expects. exec/attach upgrades are handled elsewhere.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MainProcesses } from './attach';
import type { ContainerSpec, PodSet, PodSpec } from './pods';
import { isStreamPath } from './stream-request';
import { ApiError, badRequest, internalError, notFound } from './status';

export const SERVER_VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.0+kubecast' };
export const NODE_NAME = 'kubecast-local';
const POD_IP = '127.0.0.1';

export interface ApiContext {
  pods: PodSet;
  mains: MainProcesses;
  /** When the local cluster started: every pod's creationTimestamp. */
  startedAt: Date;
}

type Json = Record<string, unknown>;

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ApiError): void {
  for (const [name, value] of err.headers) res.setHeader(name, value);
  sendJson(res, err.code, err.toStatus());
}

/** Go's RFC 3339 without fractions, as metav1.Time serialises. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Age as kubectl shows it (apimachinery's HumanDuration format: 45s, 5m3s, 3h12m, 2d4h, 1y30d). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

// --- objects ---

function podMetadata(pod: PodSpec, ctx: ApiContext): Json {
  const metadata: Json = {
    name: pod.name,
    namespace: pod.namespace,
    uid: stableUid(`pod/${pod.namespace}/${pod.name}`),
    resourceVersion: '1',
    creationTimestamp: timestamp(ctx.startedAt),
  };
  if (Object.keys(pod.labels).length > 0) metadata.labels = pod.labels;
  if (Object.keys(pod.annotations).length > 0) metadata.annotations = pod.annotations;
  return metadata;
}

/** A stable, uuid-shaped id derived from a name (kubectl does not care; people comparing outputs might). */
function stableUid(text: string): string {
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}

function containerStatus(pod: PodSpec, container: ContainerSpec, ctx: ApiContext): Json {
  const main = ctx.mains.status(pod, container);
  return {
    name: container.name,
    image: 'kubecast/local-process',
    imageID: '',
    containerID: `kubecast://${pod.namespace}/${pod.name}/${container.name}`,
    ready: true,
    started: true,
    restartCount: main.restarts,
    state: { running: { startedAt: timestamp(main.startedAt ?? ctx.startedAt) } },
  };
}

export function podObject(pod: PodSpec, ctx: ApiContext): Json {
  const started = timestamp(ctx.startedAt);
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: podMetadata(pod, ctx),
    spec: {
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: 'kubecast/local-process',
        command: c.command,
        // attach reads these: kubectl turns -t on/off from `tty`, and -i needs `stdin`.
        stdin: c.stdin,
        tty: c.tty,
      })),
      nodeName: NODE_NAME,
      restartPolicy: 'Always',
    },
    status: {
      phase: 'Running',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: started })),
      hostIP: POD_IP,
      podIP: POD_IP,
      podIPs: [{ ip: POD_IP }],
      startTime: started,
      containerStatuses: pod.containers.map((c) => containerStatus(pod, c, ctx)),
    },
  };
}

function namespaceObject(name: string, ctx: ApiContext): Json {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: { name, uid: stableUid(`namespace/${name}`), resourceVersion: '1', creationTimestamp: timestamp(ctx.startedAt) },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

// --- discovery ---

const API_RESOURCES = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'], categories: ['all'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
  ],
};

// --- tables (server-side printing) ---

interface TableVersion {
  apiVersion: string;
}

/** The Table version kubectl asked for in Accept (`as=Table;g=meta.k8s.io;v=v1|v1beta1`), if any. */
export function requestedTable(accept: string | undefined): TableVersion | null {
  if (!accept) return null;
  for (const part of accept.split(',')) {
    const params = new Map<string, string>();
    for (const param of part.split(';').slice(1)) {
      const eq = param.indexOf('=');
      if (eq > 0) params.set(param.slice(0, eq).trim(), param.slice(eq + 1).trim());
    }
    if (params.get('as') !== 'Table' || params.get('g') !== 'meta.k8s.io') continue;
    const version = params.get('v');
    if (version === 'v1' || version === 'v1beta1') return { apiVersion: `meta.k8s.io/${version}` };
  }
  return null;
}

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const POD_COLUMNS: Column[] = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
  { name: 'Ready', type: 'string', format: '', description: 'The aggregate readiness state of this pod for accepting traffic.', priority: 0 },
  { name: 'Status', type: 'string', format: '', description: 'The aggregate status of the containers in this pod.', priority: 0 },
  { name: 'Restarts', type: 'string', format: '', description: 'The number of times the containers in this pod have been restarted.', priority: 0 },
  { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
  { name: 'IP', type: 'string', format: '', description: 'IP address allocated to the pod.', priority: 1 },
  { name: 'Node', type: 'string', format: '', description: 'Name of the node the pod runs on.', priority: 1 },
  { name: 'Nominated Node', type: 'string', format: '', description: 'Nominated node name, if any.', priority: 1 },
  { name: 'Readiness Gates', type: 'string', format: '', description: 'Readiness gates of the pod.', priority: 1 },
];

const NAMESPACE_COLUMNS: Column[] = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
  { name: 'Status', type: 'string', format: '', description: 'The status of the namespace.', priority: 0 },
  { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
];

type IncludeObject = 'None' | 'Metadata' | 'Object';

function includeObject(params: URLSearchParams): IncludeObject | ApiError {
  const value = params.get('includeObject') ?? 'Metadata';
  if (value === 'None' || value === 'Metadata' || value === 'Object') return value;
  return badRequest(`includeObject must be one of None, Metadata, Object, not ${JSON.stringify(value)}`);
}

function rowObject(object: Json, include: IncludeObject, table: TableVersion): Json | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: table.apiVersion, metadata: object.metadata };
}

function podRow(pod: PodSpec, ctx: ApiContext, include: IncludeObject, table: TableVersion): Json {
  const restarts = pod.containers.reduce((sum, c) => sum + ctx.mains.status(pod, c).restarts, 0);
  const ready = `${pod.containers.length}/${pod.containers.length}`;
  const cells = [pod.name, ready, 'Running', String(restarts), humanDuration(Date.now() - ctx.startedAt.getTime()), POD_IP, NODE_NAME, '<none>', '<none>'];
  const row: Json = { cells };
  const object = rowObject(podObject(pod, ctx), include, table);
  if (object) row.object = object;
  return row;
}

function namespaceRow(name: string, ctx: ApiContext, include: IncludeObject, table: TableVersion): Json {
  const row: Json = { cells: [name, 'Active', humanDuration(Date.now() - ctx.startedAt.getTime())] };
  const object = rowObject(namespaceObject(name, ctx), include, table);
  if (object) row.object = object;
  return row;
}

function tableOf(table: TableVersion, columns: Column[], rows: Json[]): Json {
  return { kind: 'Table', apiVersion: table.apiVersion, metadata: { resourceVersion: '1' }, columnDefinitions: columns, rows };
}

// --- selectors ---

type Requirement = (labels: Record<string, string>) => boolean;

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function parseLabelSelector(text: string): Requirement[] | ApiError {
  const requirements: Requirement[] = [];
  if (text.length > 4096) return badRequest('labelSelector is too long');
  for (const raw of text.split(',')) {
    const term = raw.trim();
    if (term === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^([A-Za-z0-9._/-]+)\s*!=\s*([A-Za-z0-9._-]*)$/.exec(term))) {
      const [, key, value] = m;
      requirements.push((labels) => labels[key] !== value);
    } else if ((m = /^([A-Za-z0-9._/-]+)\s*==?\s*([A-Za-z0-9._-]*)$/.exec(term))) {
      const [, key, value] = m;
      requirements.push((labels) => labels[key] === value);
    } else if ((m = /^!([A-Za-z0-9._/-]+)$/.exec(term))) {
      const key = m[1];
      requirements.push((labels) => !(key in labels));
    } else if ((m = /^([A-Za-z0-9._/-]+)$/.exec(term))) {
      const key = m[1];
      requirements.push((labels) => key in labels);
    } else {
      return badRequest(`unable to parse requirement: ${JSON.stringify(term)} (the local cluster supports =, ==, != and existence)`);
    }
  }
  return requirements;
}

/** Field selectors on metadata.name / metadata.namespace (what kubectl itself uses). */
function parseFieldSelector(text: string): Array<(pod: PodSpec) => boolean> | ApiError {
  const requirements: Array<(pod: PodSpec) => boolean> = [];
  for (const raw of text.split(',')) {
    const term = raw.trim();
    if (term === '') continue;
    const m = /^([a-zA-Z.]+)\s*(!=|==|=)\s*(.*)$/.exec(term);
    if (!m) return badRequest(`invalid field selector: ${JSON.stringify(term)}`);
    const [, field, op, value] = m;
    const get = field === 'metadata.name' ? (p: PodSpec) => p.name : field === 'metadata.namespace' ? (p: PodSpec) => p.namespace : field === 'status.phase' ? () => 'Running' : null;
    if (!get) return badRequest(`field label not supported: ${field}`);
    requirements.push(op === '!=' ? (p) => get(p) !== value : (p) => get(p) === value);
  }
  return requirements;
}

// --- logs ---

function sendLogs(req: IncomingMessage, res: ServerResponse, pod: PodSpec, params: URLSearchParams, ctx: ApiContext): void {
  const requested = params.get('container');
  let container: ContainerSpec | undefined;
  if (requested) {
    container = pod.containers.find((c) => c.name === requested);
    if (!container) throw badRequest(`container ${requested} is not valid for pod ${pod.name}`);
  } else if (pod.containers.length === 1) {
    container = pod.containers[0];
  } else {
    throw badRequest(`a container name must be specified for pod ${pod.name}, choose one of: [${pod.containers.map((c) => c.name).join(' ')}]`);
  }
  const previous = params.get('previous');
  if (previous === 'true' || previous === '1') throw badRequest(`previous terminated container "${container.name}" in pod "${pod.name}" not found`);

  let text = ctx.mains.logs(pod, container);
  const tail = params.get('tailLines');
  if (tail !== null) {
    const n = Number(tail);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`tailLines must be a non-negative integer`);
    text = tailLines(text, n);
  }
  const limit = params.get('limitBytes');
  let remaining = Infinity;
  if (limit !== null) {
    remaining = Number(limit);
    if (!Number.isInteger(remaining) || remaining < 1) throw badRequest('limitBytes must be a positive integer');
    text = text.subarray(0, remaining);
    remaining -= text.byteLength;
  }
  const follow = params.get('follow') === 'true' || params.get('follow') === '1';
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  if (!follow || remaining <= 0) {
    res.end(text);
    return;
  }
  res.write(text);
  const unsubscribe = ctx.mains.followLogs(
    pod,
    container,
    (data) => {
      const chunk = data.subarray(0, Math.max(0, remaining));
      remaining -= chunk.byteLength;
      res.write(chunk);
      if (remaining <= 0) end();
    },
    () => end(),
  );
  function end() {
    unsubscribe();
    res.end();
  }
  req.on('close', unsubscribe);
}

function tailLines(text: Buffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  let end = text.length;
  if (end > 0 && text[end - 1] === 0x0a) end--;
  let count = 0;
  for (let i = end - 1; i >= 0; i--) {
    if (text[i] === 0x0a && ++count === n) return text.subarray(i + 1);
  }
  return text;
}

// --- routing ---

const NAMESPACED = /^\/api\/v1\/namespaces\/([^/]+)(?:\/pods(?:\/([^/]+)(?:\/(log))?)?)?$/;

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw badRequest('malformed path');
  }
}

/** Answers every non-upgrade request. Throws nothing: errors become Status responses. */
export function handleApiRequest(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void {
  try {
    route(req, res, ctx);
  } catch (err) {
    if (err instanceof ApiError) sendError(res, err);
    else sendError(res, internalError(err));
  }
}

function route(req: IncomingMessage, res: ServerResponse, ctx: ApiContext): void {
  const url = new URL(req.url ?? '/', 'http://local');
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  const method = req.method ?? 'GET';

  if (isStreamPath(path)) throw badRequest('Upgrade request required');
  if (method !== 'GET' && method !== 'HEAD') {
    throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource (the kubecast local cluster is read-only apart from exec and attach)');
  }
  if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
    throw new ApiError(405, 'MethodNotAllowed', 'watch is not supported by the kubecast local cluster');
  }

  switch (path) {
    case '/version':
      return sendJson(res, 200, { ...SERVER_VERSION, gitCommit: '', gitTreeState: 'clean', buildDate: ctx.startedAt.toISOString(), goVersion: '', compiler: 'kubecast', platform: `${process.platform}/${process.arch}` });
    case '/healthz':
    case '/livez':
    case '/readyz':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    case '/api':
      return sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }] });
    case '/apis':
      return sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    case '/api/v1':
      return sendJson(res, 200, API_RESOURCES);
    case '/api/v1/pods':
      return sendPodList(req, res, url.searchParams, ctx, undefined);
    case '/api/v1/namespaces':
      return sendNamespaceList(req, res, url.searchParams, ctx);
  }

  const m = NAMESPACED.exec(path);
  if (!m) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  const namespace = decode(m[1]);
  const podName = m[2] === undefined ? undefined : decode(m[2]);
  const isLog = m[3] === 'log';
  const isPods = path.startsWith(`/api/v1/namespaces/${m[1]}/pods`);

  if (!isPods) {
    if (!ctx.pods.namespaces().includes(namespace) && namespace !== 'default') throw notFound('namespaces', namespace);
    return sendObject(req, res, url.searchParams, namespaceObject(namespace, ctx), NAMESPACE_COLUMNS, (inc, t) => namespaceRow(namespace, ctx, inc, t));
  }
  if (podName === undefined) return sendPodList(req, res, url.searchParams, ctx, namespace);
  const pod = ctx.pods.get(namespace, podName);
  if (!pod) throw notFound('pods', podName);
  if (isLog) return sendLogs(req, res, pod, url.searchParams, ctx);
  return sendObject(req, res, url.searchParams, podObject(pod, ctx), POD_COLUMNS, (inc, t) => podRow(pod, ctx, inc, t));
}

/**
 * Answers with the server-side Table kubectl asked for in Accept (`get` prints it), else with the
 * plain object or list. `rows` builds the table rows, `plain` the JSON body.
 */
function sendTableOr(
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  columns: Column[],
  rows: (include: IncludeObject, table: TableVersion) => Json[],
  plain: () => Json,
): void {
  const table = requestedTable(req.headers.accept);
  if (!table) return sendJson(res, 200, plain());
  const include = includeObject(params);
  if (include instanceof ApiError) throw include;
  sendJson(res, 200, tableOf(table, columns, rows(include, table)));
}

function sendObject(
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  object: Json,
  columns: Column[],
  row: (include: IncludeObject, table: TableVersion) => Json,
): void {
  sendTableOr(req, res, params, columns, (include, table) => [row(include, table)], () => object);
}

/** A list (`kind` e.g. PodList) or its Table. */
function sendList<T>(
  req: IncomingMessage,
  res: ServerResponse,
  params: URLSearchParams,
  kind: string,
  columns: Column[],
  items: T[],
  row: (item: T, include: IncludeObject, table: TableVersion) => Json,
  object: (item: T) => Json,
): void {
  sendTableOr(
    req,
    res,
    params,
    columns,
    (include, table) => items.map((item) => row(item, include, table)),
    () => ({ kind, apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: items.map(object) }),
  );
}

function sendPodList(req: IncomingMessage, res: ServerResponse, params: URLSearchParams, ctx: ApiContext, namespace: string | undefined): void {
  const labels = parseLabelSelector(params.get('labelSelector') ?? '');
  if (labels instanceof ApiError) throw labels;
  const fields = parseFieldSelector(params.get('fieldSelector') ?? '');
  if (fields instanceof ApiError) throw fields;
  const pods = ctx.pods.inNamespace(namespace).filter((p) => labels.every((r) => r(p.labels)) && fields.every((r) => r(p)));
  sendList(req, res, params, 'PodList', POD_COLUMNS, pods, (p, include, table) => podRow(p, ctx, include, table), (p) => podObject(p, ctx));
}

function sendNamespaceList(req: IncomingMessage, res: ServerResponse, params: URLSearchParams, ctx: ApiContext): void {
  const names = [...new Set(['default', ...ctx.pods.namespaces()])].sort();
  sendList(req, res, params, 'NamespaceList', NAMESPACE_COLUMNS, names, (n, include, table) => namespaceRow(n, ctx, include, table), (n) => namespaceObject(n, ctx));
}
