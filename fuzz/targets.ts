// Every fuzz target, in the order the runner visits them. Each is pure and in-process except
// `ingest`, which writes to a temporary folder.
import { castTarget } from './cast';
import { channelTarget } from './channel';
import { ingestTarget } from './ingest';
import { spdyTargets } from './spdy';
import { tapTargets } from './tap';
import { wsTarget } from './ws';
import type { FuzzTarget } from './lib/target';

export type { FuzzTarget, NamedSeed } from './lib/target';

export const targets: readonly FuzzTarget[] = [...spdyTargets, wsTarget, channelTarget, ...tapTargets, castTarget, ingestTarget];

export function targetNamed(name: string): FuzzTarget {
  const target = targets.find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target ${JSON.stringify(name)}; targets: ${targets.map((t) => t.name).join(', ')}`);
  return target;
}
