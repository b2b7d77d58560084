// Shared plumbing for subcommands: argument parsing with --help, and errors that become exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A subcommand: takes its own argv (after the command name), resolves to an exit code. */
export type Command = (argv: string[]) => Promise<number>;

/** An error meant for the person at the terminal: printed without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends Options> {
  name: string;
  usage: string;
  description: string;
  options: O;
  /** One line per option, already formatted. */
  help: readonly string[];
  allowPositionals?: boolean;
}

type OptionValue<T> = T extends { type: 'boolean' }
  ? boolean
  : T extends { multiple: true }
    ? string[]
    : string;

export interface ParsedCommand<O extends Options> {
  values: { [K in keyof O]?: OptionValue<O[K]> };
  positionals: string[];
}

/** Parses argv against a spec; prints help and returns null for --help. */
export function parseCommand<O extends Options>(spec: CommandSpec<O>, argv: string[]): ParsedCommand<O> | null {
  const options: Options = { ...spec.options, help: { type: 'boolean', short: 'h' } };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: spec.allowPositionals ?? false, strict: true });
  } catch (err) {
    throw new CliError(`${spec.name}: ${err instanceof Error ? err.message : String(err)}\nUsage: ${spec.usage}`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(
      [`Usage: ${spec.usage}`, '', spec.description, '', 'Options:', ...spec.help.map((line) => `  ${line}`), ''].join('\n'),
    );
    return null;
  }
  return parsed as ParsedCommand<O>;
}

/** Stub used by commands whose issue has not landed yet; keeps `--help` honest. */
export function notYet(name: string, summary: string): Command {
  return async (argv) => {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(`Usage: kubecast ${name} [options]\n\n${summary}\n\n(not available in this build yet)\n`);
      return 0;
    }
    throw new CliError(`${name}: not available in this build yet`, 1);
  };
}
