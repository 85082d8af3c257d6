#!/usr/bin/env -S node --max-semi-space-size=64
// The `lenta` command: runs the compiled CLI (npm ci / npm run build produce dist/).
// The flag: a 64 MiB young generation for a serving process (src/server/node-flags.ts says why).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('lenta: dist/ is missing: run `npm run build` (npm ci builds it too)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
