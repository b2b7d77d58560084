// The `kubecast` command: a table of subcommands, each loaded only when it runs.
import { CliError, type Command } from './commands/command';

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

const commands: Record<string, Entry> = {
  serve: {
    summary: 'run the proxy, recorder, local cluster and console together (what the desktop app runs)',
    load: async () => (await import('./commands/serve')).serve,
  },
  proxy: {
    summary: 'run only the recording proxy in front of an API server',
    load: async () => (await import('./commands/proxy')).proxy,
  },
  recorder: {
    summary: 'run only a recorder endpoint that stores uploaded casts',
    load: async () => (await import('./commands/recorder')).recorder,
  },
  'local-cluster': {
    summary: 'run the built-in Kubernetes exec endpoint (pods are local processes)',
    load: async () => (await import('./commands/local-cluster')).localCluster,
  },
  ls: {
    summary: 'list recordings',
    load: async () => (await import('./commands/ls')).ls,
  },
  export: {
    summary: 'print a recording as asciicast or as a text transcript',
    load: async () => (await import('./commands/export')).exportCommand,
  },
  play: {
    summary: 'play a recording in this terminal',
    load: async () => (await import('./commands/play')).play,
  },
  verify: {
    summary: 'check a recording against its signed digest',
    load: async () => (await import('./commands/verify')).verify,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return [
    'kubecast: record, watch and replay kubectl exec/attach sessions',
    '',
    'Usage: kubecast <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `kubecast <command> --help` for the options of one command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${KUBECAST_VERSION}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`kubecast: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const command = await entry.load();
  return command(rest);
}

declare const KUBECAST_VERSION: string;

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined && code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`kubecast: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`kubecast: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
