// The details panel: every header field of a recording, from the library's index or, for a local
// file, from the cast header itself.

import type { Recording } from './api';
import type { CastModel } from './cast-model';
import { h } from './dom';
import { absoluteTime, exitStatus, formatBytes, formatClock, formatDuration, parseDate } from './format';

type Row = [label: string, value: string | HTMLElement | null | undefined];

const INTEGRITY_TEXT: Record<string, string> = {
  intact: 'intact — matches the signed digest',
  modified: 'MODIFIED — does not match the signed digest',
  truncated: 'TRUNCATED — shorter than the signed digest',
  unsigned: 'unverified — no signed digest',
  pending: 'pending — still being written',
};

function list(rows: Row[]): HTMLElement {
  const dl = h('dl', { class: 'details-grid' });
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('dt', { text: label }), typeof value === 'string' ? h('dd', { text: value }) : h('dd', {}, value));
  }
  return dl;
}

function mono(text: string): HTMLElement {
  return h('code', { class: 'mono', text });
}

function section(title: string, body: HTMLElement): HTMLElement {
  return h('section', { class: 'details', attrs: { 'aria-label': title } }, h('h2', { text: title }), body);
}

export function recordingDetails(r: Recording, model: CastModel | null): HTMLElement {
  const start = parseDate(r.startedAt);
  const end = parseDate(r.endedAt);
  const duration = r.durationMs ?? (start !== null && end !== null ? end - start : null);
  const exit = exitStatus(r.exitCode);
  return section(
    'Details',
    list([
      ['Recording ID', mono(r.id)],
      ['User', r.user || 'unknown'],
      ['Cluster', r.cluster],
      ['Context', r.context],
      ['Namespace', r.namespace],
      ['Pod', r.pod],
      ['Container', r.container],
      ['Command', r.command ? mono(r.command) : null],
      ['kubectl argv', r.argv && r.argv.length > 0 ? mono(r.argv.join(' ')) : null],
      ['Session type', r.sessionType],
      ['Protocol', r.protocol],
      ['Terminal', r.tty ? `TTY ${r.cols}×${r.rows}` : 'no TTY'],
      ['kubectl version', r.kubectlVersion],
      ['Client address', r.clientAddress],
      ['Started', absoluteTime(r.startedAt)],
      ['Ended', r.live ? 'still running' : absoluteTime(r.endedAt)],
      ['Duration', formatDuration(duration)],
      ['Exit code', r.live ? 'not yet' : exit.label],
      ['Size', `${formatBytes(r.bytes)}${model ? ` · ${model.eventCount.toLocaleString()} events` : ''}`],
      ['Complete', r.live ? 'still recording' : r.complete ? 'yes' : 'no — the session was cut off or the recorder stopped'],
      ['Integrity', r.integrity ? (INTEGRITY_TEXT[r.integrity] ?? r.integrity) : 'unknown'],
      ['Format', model ? `asciicast v${model.version}` : null],
    ]),
  );
}

export function fileDetails(name: string, size: number, model: CastModel): HTMLElement {
  const header = model.header;
  const k = header.kubecast ?? {};
  const pod = header.kubernetes ?? {};
  const argv = Array.isArray(k.command) ? (k.command as unknown[]).filter((a): a is string => typeof a === 'string').join(' ') : '';
  const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
  const env = header.env
    ? Object.entries(header.env)
        .map(([key, value]) => `${key}=${value}`)
        .join('  ')
    : null;
  return section(
    'Details',
    list([
      ['File', mono(name)],
      ['Format', `asciicast v${model.version}${model.truncated ? ' (last line cut short)' : ''}`],
      ['Size', `${formatBytes(size)} · ${model.eventCount.toLocaleString()} events`],
      ['Title', header.title],
      ['Recording ID', str(k.id) ? mono(String(k.id)) : null],
      ['User', str(k.user)],
      ['Cluster', str(k.cluster)],
      ['Context', str(k.context)],
      ['Namespace', pod.Namespace],
      ['Pod', pod.PodName],
      ['Container', pod.Container],
      ['Session type', pod.SessionType],
      ['Command', header.command ? mono(header.command) : argv ? mono(argv) : null],
      ['Protocol', str(k.protocol)],
      ['kubectl version', str(k.kubectlVersion)],
      ['Client address', str(k.clientAddress)],
      ['Terminal', `${header.cols}×${header.rows}`],
      ['Started', header.timestamp !== undefined ? absoluteTime(new Date(header.timestamp * 1000).toISOString()) : str(k.startedAt) ? absoluteTime(String(k.startedAt)) : null],
      ['Duration', formatClock(model.duration)],
      ['Exit code', model.exitCode === null ? 'not recorded' : exitStatus(model.exitCode).label],
      ['Environment', env ? mono(env) : null],
      ['Integrity', 'not checked — a local file is played as it is, outside the library'],
    ]),
  );
}
