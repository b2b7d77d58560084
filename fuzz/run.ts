// `npm run fuzz -- [--minutes N] [--target NAME[,NAME…]] [--seed S] [--no-save]`
//   Replays the regression corpus and the named seeds, then fuzzes every target round-robin until
//   the time is up. A finding prints its target, batch seed, path and minimised case, is saved to
//   test/fixtures/fuzz/<target>/<hash>.bin (replayed by `npm test` from then on), and makes the
//   run exit 1.
// `npm run fuzz -- --target NAME --seed S --path P`   replays one fast-check counterexample.
// `npm run fuzz -- --replay FILE [--target NAME]`      runs one saved case (target from its folder).
//
// The run happens in a child process: a hang watchdog thread kills the child when one synchronous
// case never returns, and this parent then still exits 1.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FIXTURES_DIR, fixturesOf, runBatch, runCase, saveFinding } from './engine';
import { decodeCase, describeCase, type FuzzCase } from './lib/case';
import { targets, targetNamed, type FuzzTarget } from './targets';
import { startWatchdog, type Watchdog } from './watchdog';

interface Args {
  minutes: number;
  targets: FuzzTarget[];
  seed: number;
  seedGiven: boolean;
  path?: string;
  replay?: string;
  save: boolean;
  hangSeconds: number;
  shrinkSeconds: number;
}

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\nusage: npm run fuzz -- [--minutes N] [--target NAME[,NAME]] [--seed S] [--path P] [--replay FILE] [--no-save] [--hang-seconds N] [--shrink-seconds N]\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const args: Args = { minutes: 1, targets: [...targets], seed: 0, seedGiven: false, save: true, hangSeconds: 30, shrinkSeconds: 120 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => argv[++i] ?? usage(`${flag} needs a value`);
    const number = () => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < 0) usage(`${flag} needs a non-negative number`);
      return n;
    };
    switch (flag) {
      case '--minutes':
        args.minutes = number();
        break;
      case '--target':
        args.targets = value()
          .split(',')
          .map((name) => {
            try {
              return targetNamed(name.trim());
            } catch (error) {
              return usage((error as Error).message);
            }
          });
        break;
      case '--seed': {
        // Any 32-bit integer: fast-check reports (and batch seeds use) negative ones too.
        const seed = Number(value());
        if (!Number.isInteger(seed)) usage('--seed needs an integer');
        args.seed = seed | 0;
        args.seedGiven = true;
        break;
      }
      case '--path':
        args.path = value();
        break;
      case '--replay':
        args.replay = value();
        break;
      case '--no-save':
        args.save = false;
        break;
      case '--hang-seconds':
        args.hangSeconds = number();
        break;
      case '--shrink-seconds':
        args.shrinkSeconds = number();
        break;
      default:
        usage(`unknown argument ${flag}`);
    }
  }
  if (!args.seedGiven) args.seed = (Math.random() * 0x7fffffff) | 0;
  return args;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function retainedMiB(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20;
}

/** Batch seeds derived from the run's seed (splitmix32), so `--seed S` replays the same sequence of batches. */
function batchSeed(seed: number, target: number, batch: number): number {
  let x = (seed ^ Math.imul(target + 1, 0x9e3779b9) ^ Math.imul(batch + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) | 0;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `\n  caused by ${error.cause.stack ?? error.cause.message}` : '';
    return `${error.stack ?? error.message}${cause}`;
  }
  return String(error);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

interface Stats {
  cases: number;
  ms: number;
  findings: string[];
}

interface Shown {
  fuzzCase: FuzzCase;
  /** Minimised by fast-check (a generated case), or named already (a seed: it is in the code, not saved). */
  minimised: boolean;
}

function report(target: FuzzTarget, what: string, error: unknown, shown: Shown | undefined, args: Args, replay: string | undefined): string {
  const lines = [`\nFINDING ${target.name}: ${what}`, indent(errorText(error))];
  if (shown) {
    const { fuzzCase } = shown;
    lines.push(shown.minimised ? '  minimised case:' : '  case:', indent(describeCase(fuzzCase)));
    if (args.save && shown.minimised) {
      const file = saveFinding(target, fuzzCase);
      lines.push(`  saved: ${relative(process.cwd(), file)}`);
      lines.push(`  replay: npm run fuzz -- --replay ${relative(process.cwd(), file)}`);
    }
  }
  if (replay) lines.push(`  reproduce: ${replay}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return what;
}

async function replayFile(args: Args): Promise<number> {
  const file = args.replay as string;
  const target = args.targets.length === 1 ? args.targets[0] : targetNamed(basename(dirname(file)));
  const fuzzCase = decodeCase(readFileSync(file));
  process.stdout.write(`replaying ${file} through ${target.name}\n${describeCase(fuzzCase)}\n`);
  try {
    await runCase(target, fuzzCase);
  } catch (error) {
    process.stdout.write(`FAILS: ${errorText(error)}\n`);
    return 1;
  }
  process.stdout.write('passes\n');
  return 0;
}

async function replayPath(args: Args): Promise<number> {
  if (args.targets.length !== 1 || !args.seedGiven) usage('--path needs --seed and exactly one --target');
  const target = args.targets[0];
  const result = await runBatch(target, { seed: args.seed, numRuns: 1, path: args.path, timeLimitMs: args.shrinkSeconds * 1000 });
  if (!result.failed) {
    process.stdout.write('the counterexample passes now\n');
    return 0;
  }
  const shown = result.counterexample && { fuzzCase: result.counterexample, minimised: true };
  report(target, `replayed counterexample fails (then ${result.shrinks} shrinks)`, result.error, shown, args, undefined);
  return 1;
}

/** The regression corpus and the named seeds: a failure here is a regression or a known-bad input that is bad again. */
async function replayKnown(target: FuzzTarget, stats: Stats, args: Args, watchdog: Watchdog): Promise<void> {
  const known: Array<{ label: string; fuzzCase: FuzzCase }> = [
    ...fixturesOf(target).map(({ file, fuzzCase }) => ({ label: `regression ${relative(process.cwd(), file)}`, fuzzCase })),
    ...target.seeds().map((seed) => ({ label: `seed "${seed.name}"`, fuzzCase: seed.fuzzCase })),
  ];
  for (const { label, fuzzCase } of known) {
    const started = performance.now();
    watchdog.caseStarted(target.name, fuzzCase);
    try {
      await runCase(target, fuzzCase);
    } catch (error) {
      stats.findings.push(report(target, `${label} fails`, error, label.startsWith('seed') ? { fuzzCase, minimised: false } : undefined, args, undefined));
    } finally {
      watchdog.caseEnded();
    }
    stats.cases++;
    stats.ms += performance.now() - started;
  }
}

async function fuzz(args: Args): Promise<number> {
  const deadline = Date.now() + args.minutes * 60_000;
  process.stdout.write(
    `fuzz: seed ${args.seed}, ${args.minutes} min, targets ${args.targets.map((t) => t.name).join(', ')}\n` +
      `      (findings go to ${relative(process.cwd(), FIXTURES_DIR)}/<target>/; re-run this sequence with --seed ${args.seed})\n`,
  );
  const watchdog = startWatchdog({ hangMs: args.hangSeconds * 1000, fixturesDir: FIXTURES_DIR, save: args.save });
  const stats = new Map(args.targets.map((t) => [t.name, { cases: 0, ms: 0, findings: [] } as Stats]));
  const caseHooks = { onCase: (t: FuzzTarget, c: FuzzCase) => watchdog.caseStarted(t.name, c), onCaseEnd: () => watchdog.caseEnded() };

  for (const target of args.targets) await replayKnown(target, stats.get(target.name) as Stats, args, watchdog);
  const known = [...stats.values()].reduce((sum, s) => sum + s.cases, 0);
  process.stdout.write(`replayed ${known} known cases (regression corpus and named seeds)\n`);

  // Round-robin in slices, so a short run still visits every target and a long one revisits them.
  const active = new Set(args.targets.filter((t) => (stats.get(t.name) as Stats).findings.length === 0));
  const sliceMs = Math.min(30_000, Math.max(2000, (args.minutes * 60_000) / (Math.max(1, active.size) * 4)));
  const runsPerBatch = new Map<string, number>();
  const batchCounter = new Map<string, number>();
  const baseline = retainedMiB();
  while (Date.now() < deadline && active.size > 0) {
    for (const target of args.targets) {
      if (!active.has(target) || Date.now() >= deadline) continue;
      const s = stats.get(target.name) as Stats;
      const sliceEnd = Math.min(deadline, Date.now() + sliceMs);
      const index = args.targets.indexOf(target);
      while (Date.now() < sliceEnd) {
        const batch = batchCounter.get(target.name) ?? 0;
        batchCounter.set(target.name, batch + 1);
        const seed = batchSeed(args.seed, index, batch);
        const numRuns = runsPerBatch.get(target.name) ?? 20;
        const started = performance.now();
        const result = await runBatch(target, { seed, numRuns, timeLimitMs: args.shrinkSeconds * 1000, ...caseHooks });
        const elapsed = performance.now() - started;
        s.cases += result.cases;
        s.ms += elapsed;
        if (result.failed) {
          const reproduce = result.path ? `npm run fuzz -- --target ${target.name} --seed ${result.seed} --path ${result.path}` : undefined;
          const shown = result.counterexample && { fuzzCase: result.counterexample, minimised: true };
          s.findings.push(report(target, `${String((result.error as Error | undefined)?.message ?? result.error).split('\n')[0]} (after ${result.shrinks} shrinks)`, result.error, shown, args, reproduce));
          // The same bug would be found again and again: this target is done for this run.
          active.delete(target);
          break;
        }
        // Aim at ~0.5 s per batch: long enough to amortise setup, short enough to keep to the slice.
        runsPerBatch.set(target.name, Math.max(5, Math.min(50_000, Math.round((numRuns * 500) / Math.max(1, elapsed)))));
      }
      const grown = retainedMiB() - baseline;
      if (grown > 256) {
        s.findings.push(report(target, `retained memory grew by ${grown.toFixed(0)} MiB over the run (a leak across cases)`, new Error('memory'), undefined, args, undefined));
        active.delete(target);
      }
      const rss = process.memoryUsage().rss / 2 ** 20;
      if (rss > 4096) {
        s.findings.push(report(target, `RSS reached ${rss.toFixed(0)} MiB`, new Error('memory'), undefined, args, undefined));
        active.clear();
      }
    }
  }
  await watchdog.stop();

  const rows = args.targets.map((t) => {
    const s = stats.get(t.name) as Stats;
    return [t.name, String(s.cases), s.ms > 0 ? ((s.cases * 1000) / s.ms).toFixed(0) : '-', String(s.findings.length)];
  });
  const header = ['target', 'cases', 'cases/s', 'findings'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`\n${line(header)}\n${rows.map(line).join('\n')}\n`);
  const total = [...stats.values()].reduce((sum, s) => sum + s.findings.length, 0);
  process.stdout.write(total === 0 ? `no findings (seed ${args.seed})\n` : `${total} finding(s) (seed ${args.seed})\n`);
  return total === 0 ? 0 : 1;
}

async function child(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const code = args.replay ? await replayFile(args) : args.path ? await replayPath(args) : await fuzz(args);
  process.exit(code);
}

function parent(): void {
  const result = spawnSync(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, KUBECAST_FUZZ_CHILD: '1' },
  });
  if (result.signal) process.stderr.write(`fuzz: the run was stopped (${result.signal}); see the finding above\n`);
  process.exit(result.status ?? 1);
}

if (process.env.KUBECAST_FUZZ_CHILD === '1') {
  child().catch((error: unknown) => {
    process.stderr.write(`fuzz failed: ${errorText(error)}\n`);
    process.exit(2);
  });
} else {
  parent();
}
