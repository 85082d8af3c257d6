/**
 * The V8 flag a serving process starts with (`bin/lenta.js`'s shebang, `npm start`, the
 * workers of `serve --workers N`, the feed bench's server): a 64 MiB young generation instead
 * of V8's default (semi-spaces of at most 16 MiB). A server holds a large online state and allocates
 * each request's candidates; every young-generation GC copies what the requests in flight still
 * use and scans the references into it, so fewer of them mean more requests per second and a
 * shorter tail (at 100k users: 61.6 vs 50.9–54.7 req/s, heavy ranker p99 15.9 vs 22.3 ms; README,
 * Serving). V8 reads it only at start: it cannot be set from inside the process.
 */
export const SERVER_YOUNG_GENERATION_FLAG = '--max-semi-space-size=64';

/** Whether the flags (a process's execArgv, NODE_OPTIONS split on spaces) already size the young generation. */
export function setsYoungGeneration(flags: readonly string[]): boolean {
  return flags.some((a) => /^--(max-semi-space-size|semi-space-growth-factor|min-semi-space-size)(=|$)/.test(a));
}

/**
 * `execArgv` for a serving process: the given flags, plus the young-generation flag unless they
 * or NODE_OPTIONS (which child processes inherit) size it already.
 */
export function withServerHeapFlags(execArgv: readonly string[], nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  if (setsYoungGeneration(execArgv) || setsYoungGeneration(nodeOptions.split(/\s+/))) return [...execArgv];
  return [...execArgv, SERVER_YOUNG_GENERATION_FLAG];
}
