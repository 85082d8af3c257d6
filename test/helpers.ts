/** Shared helpers for tests: temporary database paths and engines on real SQLite files. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type Config, type DeepPartial } from '../src/domain/config.js';
import { Engine } from '../src/engine.js';

export function tempDir(prefix = 'lenta-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testConfig(db: string, overrides: DeepPartial<Config> = {}): Config {
  return parseConfig({ ...overrides, store: { db, groupCommitMs: 1, ...(overrides.store ?? {}) } });
}

export async function openEngine(db: string, overrides: DeepPartial<Config> = {}): Promise<Engine> {
  return Engine.open(testConfig(db, overrides));
}
