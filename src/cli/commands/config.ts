import { loadConfig } from '../../domain/config.js';
import { parseFlags, type CliCommand } from '../command.js';

export const configCommand: CliCommand = {
  name: 'config',
  summary: 'print the validated configuration with all defaults',
  usage: `
lenta config [--config FILE]

Prints the configuration the engine would run with (defaults ← FILE or $LENTA_CONFIG ←
$PORT, $LENTA_DB), as JSON. An invalid file is reported with the offending field.`,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: 'string' } });
    const config = loadConfig({ file: values.config as string | undefined });
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return 0;
  },
};
