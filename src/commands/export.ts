// `kubecast export ID|FILE --format cast|txt`: the recording's bytes unchanged, or the rendered
// transcript (what was on screen, as plain text). Works on any cast file without the index.
import { createReadStream } from 'node:fs';
import { writeTranscript } from '../store/transcript';
import { CliError, parseCommand, type Command } from './command';
import { dataDirFrom, dataHelp, dataOption, resolveRecording, writeOut } from './library-cli';

const spec = {
  name: 'export',
  usage: 'kubecast export ID|FILE [--format cast|txt] [--data DIR]',
  description:
    'Print a recording on stdout: "cast" is the asciicast file exactly as stored; "txt" is the text a person saw\n' +
    '(lines that scrolled by and the last screen, without escape sequences). FILE may be any asciicast v1/v2/v3 file.',
  options: { format: { type: 'string', short: 'f' }, ...dataOption },
  help: ['--format, -f cast|txt  what to print (default cast)', dataHelp],
  allowPositionals: true,
} as const;

export const exportCommand: Command = async (argv) => {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return 0;
  const format = parsed.values.format ?? 'cast';
  if (format !== 'cast' && format !== 'txt') throw new CliError(`export: --format must be cast or txt, got "${format}"`);
  if (parsed.positionals.length !== 1) throw new CliError(`export: expected one recording id or file\nUsage: ${spec.usage}`);
  const { path } = await resolveRecording(parsed.positionals[0], dataDirFrom(parsed.values.data));
  if (format === 'cast') {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      if (!(await writeOut(chunk as Buffer))) return 0;
    }
    return 0;
  }
  let gone = false;
  await writeTranscript(path, async (text) => {
    if (!gone && !(await writeOut(text))) gone = true;
  });
  return 0;
};
