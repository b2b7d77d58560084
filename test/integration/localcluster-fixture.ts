// A local cluster per test, started in-process, with an environment marker on every process the test
// starts (container processes and kubectl), so the test can prove none of them survives it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, type PodSpec } from '../../src/localcluster';
import { Kubectl, makeKubectlSandbox, type KubectlProfile, type KubectlSandbox } from '../helpers/kubectl';
import { assertNoSurvivors, newProcessMarker, processesWithEnv } from '../helpers/processes';

export interface ClusterFixture {
  cluster: LocalCluster;
  url: string;
  /** PEM of the CA when the cluster serves https (a token without `tls: false`). */
  ca: string | undefined;
  dataDir: string;
  marker: { name: string; value: string };
  /** A kubectl of `profile` in its own sandbox (cleaned up with the fixture), carrying the marker. */
  kubectl(profile: KubectlProfile, options?: { token?: string }): Kubectl;
  /** Working directory of a container. */
  workDir(pod: string, container: string, namespace?: string): string;
}

export interface ClusterOptions {
  token?: string;
  /** LocalClusterOptions.tls: default https with a token, http without. */
  tls?: boolean;
  pods?: PodSpec[];
}

/**
 * Runs `body` against a fresh local cluster, then stops it and fails if any process started during
 * the test (marked through its environment) is still alive.
 */
export async function withLocalCluster(options: ClusterOptions, body: (fx: ClusterFixture) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kubecast-lc-'));
  const marker = newProcessMarker();
  const cluster = new LocalCluster();
  const { url, ca } = await cluster.start({ dataDir, token: options.token, tls: options.tls, pods: options.pods, env: { [marker.name]: marker.value } });
  const sandboxes: KubectlSandbox[] = [];
  const profilesUsed = new Set<'spdy' | 'websocket'>();
  const fx: ClusterFixture = {
    cluster,
    url,
    ca,
    dataDir,
    marker,
    kubectl(profile, kubectlOptions = {}) {
      const sandbox = makeKubectlSandbox({ server: url, token: kubectlOptions.token ?? options.token, certificateAuthority: ca });
      sandboxes.push(sandbox);
      profilesUsed.add(profile.transport);
      return new Kubectl(profile, sandbox, { env: { [marker.name]: marker.value } });
    },
    workDir: (pod, container, namespace = 'default') => join(dataDir, 'local-cluster', namespace, pod, container),
  };
  let failure: unknown = null;
  try {
    await body(fx);
  } catch (err) {
    failure = err;
  }
  // kubectl 1.30+ silently falls back to SPDY when a WebSocket upgrade fails: a test written for one
  // transport must not pass on the other.
  const transports = new Set(cluster.sessions.map((s) => s.transport));
  if (failure === null && profilesUsed.size === 1 && transports.size > 0) {
    const [expected] = profilesUsed;
    if (transports.size !== 1 || !transports.has(expected)) failure = new Error(`kubectl for ${expected} made sessions over ${[...transports].join(' and ')}`);
  }
  await cluster.stop();
  for (const sandbox of sandboxes) sandbox.cleanup();
  try {
    // Killed survivors either way; the test's own failure is the more useful message.
    await assertNoSurvivors(() => processesWithEnv(marker.name, marker.value));
  } catch (err) {
    failure ??= err;
  }
  rmSync(dataDir, { recursive: true, force: true });
  if (failure !== null) throw failure;
}

/** The transport and protocol the last exec/attach of a test must have used with this profile. */
export function expectedProtocol(profile: KubectlProfile): { transport: 'spdy' | 'websocket'; protocol: string } {
  return profile.transport === 'spdy'
    ? { transport: 'spdy', protocol: 'v4.channel.k8s.io' }
    : { transport: 'websocket', protocol: 'v5.channel.k8s.io' };
}
