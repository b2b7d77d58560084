// `kubecast verify ID|FILE`: recomputes a recording's SHA-256 and compares it with the signed
// manifest of the data folder. Exit status: 0 intact, 1 modified or truncated, 2 anything that
// cannot be vouched for (unsigned, still being written, unknown).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { RecordingNotFoundError, type VerifyResult } from '../store/library';
import { isRecordingId } from '../util/ids';
import { CliError, parseCommand, type Command } from './command';
import { dataDirFrom, dataHelp, dataOption, isFile, printable, withLibrary, writeOut } from './library-cli';

const spec = {
  name: 'verify',
  usage: 'kubecast verify ID|FILE [--json] [--data DIR]',
  description:
    'Check a recording against the digest signed (Ed25519, key in DATA/keys) when it closed.\n' +
    'FILE may be a copy kept elsewhere; its recording id comes from its header or its name.\n' +
    'Exit status: 0 intact, 1 modified or truncated, 2 unsigned, still being written, or unknown.',
  options: { json: { type: 'boolean' }, ...dataOption },
  help: ['--json              print the result as JSON', dataHelp],
  allowPositionals: true,
} as const;

export function exitCodeOf(result: VerifyResult): number {
  if (result.state === 'intact') return 0;
  if (result.state === 'modified' || result.state === 'truncated') return 1;
  return 2;
}

export const verify: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw new CliError(`verify: expected one recording id or file\nUsage: ${spec.usage}`);
  const arg = parsed.positionals[0];
  const file = isFile(arg);
  if (!file && !isRecordingId(arg)) throw new CliError(`verify: "${printable(arg)}" is neither a recording id nor a file`, 2);
  const dataDir = dataDirFrom(parsed.values.data);
  let result: VerifyResult;
  if (!existsSync(dataDir)) {
    if (!file) throw new CliError(`no data folder at ${dataDir} (use --data DIR)`, 2);
    result = { state: 'unsigned', message: `no data folder at ${dataDir}: nothing to compare with` };
  } else {
    try {
      result = await withLibrary(dataDir, (library) => (file ? library.verifyFile(resolve(arg)) : library.verify(arg)));
    } catch (err) {
      if (err instanceof RecordingNotFoundError) throw new CliError(`verify: no recording ${printable(arg)} in ${dataDir}`, 2);
      throw err;
    }
  }
  if (parsed.values.json) await writeOut(JSON.stringify(result) + '\n');
  else await writeOut(`${result.state}${result.id ? `  ${result.id}` : ''}\n  ${printable(result.message)}\n${result.digest ? `  sha256 ${result.digest}\n` : ''}`);
  return exitCodeOf(result);
};
