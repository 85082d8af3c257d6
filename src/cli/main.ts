/**
 * `lenta <command> [flags]`: the command-line interface. Each command is one file in
 * src/cli/commands/; this file only dispatches.
 */
import { ConfigError } from '../domain/config.js';
import { ValidationError } from '../domain/validate.js';
import { ImportError } from '../ingest/importer.js';
import { VERSION } from '../version.js';
import { UsageError, type CliCommand } from './command.js';
import { configCommand } from './commands/config.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { importCommand } from './commands/import.js';
import { opeCommand } from './commands/ope.js';
import { replayCommand } from './commands/replay.js';
import { reportCommand } from './commands/report.js';
import { serveCommand } from './commands/serve.js';
import { simCommand } from './commands/sim.js';
import { trainCommand } from './commands/train.js';

export const COMMANDS: readonly CliCommand[] = [demoCommand, serveCommand, importCommand, simCommand, trainCommand, evalCommand, replayCommand, opeCommand, reportCommand, configCommand];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `lenta ${VERSION}: an open For You feed engine`,
    '',
    'usage: lenta <command> [flags]   (lenta <command> --help for its flags)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`lenta: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage.trim()}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lenta ${name}: ${err.message}\n\n${command.usage.trim()}\n`);
      return 2;
    }
    if (err instanceof ImportError || err instanceof ValidationError || err instanceof ConfigError) {
      process.stderr.write(`lenta ${name}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`lenta ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
