// Command-line values shared by serve, proxy and recorder.
import { CliError } from './command';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "HOST:PORT", ":PORT", "PORT" or "[::1]:PORT"; default host 127.0.0.1. */
export function parseListen(value: string | undefined, flag: string, fallback: ListenAddress = { host: '127.0.0.1', port: 0 }): ListenAddress {
  if (value === undefined) return fallback;
  const match = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !Number.isInteger(port) || port > 65535) throw new CliError(`${flag}: expected HOST:PORT, got ${JSON.stringify(value)}`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

export function parseSeconds(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new CliError(`${flag}: expected a number of seconds in (0, 3600], got ${JSON.stringify(value)}`);
  return seconds;
}

export function parseRecorderUrls(values: string[] | undefined): string[] {
  return (values ?? []).map((value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new CliError(`--recorder: not a URL: ${JSON.stringify(value)}`);
    }
    if (url.protocol !== 'http:') throw new CliError(`--recorder: recorders speak h2c/HTTP/1.1 over http://, got ${JSON.stringify(value)}`);
    return url.origin;
  });
}

export { isLoopbackHost as isLoopback } from '../util/loopback';

/** --retain-days: a whole number of days; 0 or "off" turns retention off (null). */
export function parseRetainDays(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === '0' || value === 'off') return null;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 36500) throw new CliError(`--retain-days: expected a whole number of days, got ${JSON.stringify(value)}`);
  return days;
}

/** --seek-index-mib: the size from which recordings get a seek index, in bytes (0 = none). */
export function parseSeekIndexMib(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const mib = Number(value);
  if (value.trim() === '' || !Number.isFinite(mib) || mib < 0 || mib > 1024 * 1024) throw new CliError(`--seek-index-mib: expected a size in MiB (0 turns seek indexes off), got ${JSON.stringify(value)}`);
  return Math.round(mib * 1024 * 1024);
}
