/**
 * A progress bar on stderr. Draws in place on a terminal; when stderr is not a TTY (CI, logs)
 * it prints a plain line at most every few seconds and at the end, so logs stay readable.
 */
export interface ProgressBar {
  /** Sets the absolute amount done (same unit as total). */
  update(done: number, note?: string): void;
  /** Marks the task finished and prints a final line with the elapsed time. */
  finish(note?: string): void;
}

export interface ProgressOptions {
  /** Total amount of work; 0 or undefined for an open-ended counter. */
  total?: number;
  /** Unit shown after counts, e.g. "events", "bytes". */
  unit?: string;
  stream?: NodeJS.WriteStream;
  /** Disable all output (e.g. under --quiet). */
  silent?: boolean;
}

const WIDTH = 28;

export function progressBar(label: string, options: ProgressOptions = {}): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const total = options.total ?? 0;
  const unit = options.unit ?? '';
  const started = performance.now();
  let lastDraw = 0;
  let done = 0;
  let finished = false;

  const format = (value: number): string => {
    if (unit === 'bytes') {
      if (value >= 1 << 30) return `${(value / (1 << 30)).toFixed(1)} GiB`;
      if (value >= 1 << 20) return `${(value / (1 << 20)).toFixed(1)} MiB`;
      if (value >= 1 << 10) return `${(value / (1 << 10)).toFixed(1)} KiB`;
      return `${value} B`;
    }
    return `${Math.round(value).toLocaleString('en-US')}${unit ? ` ${unit}` : ''}`;
  };

  const line = (note?: string): string => {
    const elapsed = (performance.now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    let text = `${label} `;
    if (total > 0) {
      const share = Math.min(1, done / total);
      const filled = Math.round(share * WIDTH);
      text += `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${format(done)}/${format(total)}`;
      if (share > 0 && share < 1) text += ` eta ${Math.max(0, (elapsed / share) * (1 - share)).toFixed(0)}s`;
    } else {
      text += format(done);
    }
    if (unit !== 'bytes' && rate > 0) text += ` (${format(rate)}/s)`;
    text += ` ${elapsed.toFixed(1)}s`;
    if (note) text += ` ${note}`;
    return text;
  };

  const draw = (force: boolean, note?: string) => {
    if (options.silent) return;
    const now = performance.now();
    if (!force && now - lastDraw < (tty ? 100 : 5000)) return;
    lastDraw = now;
    if (tty) stream.write(`\r\x1b[2K${line(note)}`);
    else stream.write(`${line(note)}\n`);
  };

  return {
    update(value: number, note?: string) {
      done = value;
      draw(false, note);
    },
    finish(note?: string) {
      if (finished) return;
      finished = true;
      if (total > 0) done = Math.max(done, total);
      draw(true, note);
      if (tty && !options.silent) stream.write('\n');
    },
  };
}
