// How times, durations, sizes and exit statuses read in the UI.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** "just now", "3 min ago", "yesterday", then a date. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  const when = parseDate(iso);
  if (when === null) return '—';
  const seconds = Math.round((when - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), 'day');
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' }).format(when);
}

export function absoluteTime(iso: string | null | undefined): string {
  const when = parseDate(iso);
  return when === null ? '—' : absolute.format(when);
}

export function parseDate(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const when = Date.parse(iso);
  return Number.isNaN(when) ? null : when;
}

/** 0:07, 12:30, 1:02:03 — a running session or a recording's length. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** Player position with tenths: 1:02.3 */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const tenths = Math.floor(seconds * 10) % 10;
  return `${formatDuration(Math.floor(seconds) * 1000)}.${tenths}`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export interface ExitStatus {
  label: string;
  tone: 'ok' | 'fail' | 'unknown';
}

export function exitStatus(code: number | null | undefined): ExitStatus {
  if (code === null || code === undefined) return { label: 'no exit code', tone: 'unknown' };
  return code === 0 ? { label: 'exit 0', tone: 'ok' } : { label: `exit ${code}`, tone: 'fail' };
}

/** "alice" → "alice"; "" → "unknown user" */
export function orUnknown(value: string | undefined, what: string): string {
  return value && value.trim() !== '' ? value : `unknown ${what}`;
}

/** pod/container, without repeating the container when it is named like the pod. */
export function podLabel(pod: string, container: string): string {
  if (!pod) return container || 'unknown pod';
  return container && container !== pod ? `${pod}/${container}` : pod;
}
