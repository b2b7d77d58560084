// kubecast serve in-process for integration tests, with kubectl sandboxes pointing at its proxy.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startServe, type ServeHandle, type ServeOptions } from '../../src/serve/serve';
import { parseCast, type ParsedCast } from '../../src/cast';
import { Kubectl, makeKubectlSandbox, type KubectlProfile, type KubectlSandbox } from './kubectl';
import { tempDir } from './kubecast';

export interface ServeFixture {
  handle: ServeHandle;
  dataDir: string;
  kubectl(profile: KubectlProfile, options?: { token?: string | null }): Kubectl;
  /** Cast files under DATA/recordings, oldest first. */
  recordings(): string[];
  /** Waits until `count` recordings exist and each ends with an exit or end marker; returns them parsed. */
  waitForRecordings(count: number, timeoutMs?: number): Promise<Array<{ path: string; text: string; cast: ParsedCast }>>;
}

export async function withServe(options: Partial<ServeOptions>, body: (fx: ServeFixture) => Promise<void>): Promise<void> {
  const data = tempDir('serve');
  const handle = await startServe({ dataDir: data.path, upstream: 'local', ...options });
  const sandboxes: KubectlSandbox[] = [];
  const ca = readFileSync(join(data.path, 'tls', 'ca.crt'), 'utf8');
  const recordings = () => listCasts(join(data.path, 'recordings'));
  const fx: ServeFixture = {
    handle,
    dataDir: data.path,
    kubectl(profile, kubectlOptions = {}) {
      const token = kubectlOptions.token === null ? undefined : (kubectlOptions.token ?? handle.token);
      const sandbox = makeKubectlSandbox({ server: handle.urls.proxy, token, certificateAuthority: ca });
      sandboxes.push(sandbox);
      return new Kubectl(profile, sandbox);
    },
    recordings,
    async waitForRecordings(count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const paths = recordings();
        // A file the recorder has just created holds no header yet: not finished, not an error.
        const parsed = paths.map((path) => {
          const text = readFileSync(path, 'utf8');
          return { path, text, cast: text === '' ? null : parseCast(text) };
        });
        const finished = parsed.filter((r) => r.cast?.events.some((e) => e.code === 'x' || (e.code === 'm' && e.data.startsWith('kubecast: session ended'))));
        const whole = parsed.flatMap((r) => (r.cast ? [{ ...r, cast: r.cast }] : []));
        if (paths.length >= count && finished.length >= count && whole.length === parsed.length) return whole;
        if (Date.now() > deadline) throw new Error(`expected ${count} finished recordings, have ${paths.length} (${finished.length} finished):\n${parsed.map((r) => r.text.slice(0, 400)).join('\n---\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
  try {
    await body(fx);
  } finally {
    await handle.stop();
    for (const sandbox of sandboxes) sandbox.cleanup();
    data.cleanup();
  }
}

export function listCasts(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.cast')) out.push(path);
    }
  };
  walk(dir);
  return out.sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** Output text of a recording (all `o` events concatenated). */
export function outputOf(cast: ParsedCast): string {
  return cast.events.filter((e) => e.code === 'o').map((e) => e.data).join('');
}
