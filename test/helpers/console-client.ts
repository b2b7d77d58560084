// A tiny client for the console API of a running serve (in-process handle).
import { request } from 'node:http';

export interface ConsoleAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = unknown>(): T;
}

/** `consoleUrl` is the URL serve prints (with ?token=); requests use the Bearer header unless `token: null`. */
export function consoleRequest(
  consoleUrl: string,
  path: string,
  options: { method?: string; token?: string | null; headers?: Record<string, string>; body?: string } = {},
): Promise<ConsoleAnswer> {
  const base = new URL(consoleUrl);
  const token = options.token === undefined ? base.searchParams.get('token') : options.token;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method: options.method ?? 'GET',
        // Raw path: the test controls encoding exactly (traversal attempts).
        path,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
