/**
 * How loaded this process's event loop is, the overload protection's two signals (config
 * `feed.overload`). Node answers one request's synchronous work at a time, so under a burst the
 * queue grows in the sockets, where no request counter sees it:
 *
 * - `utilization(windowMs)`: the share of the last complete window (of at least `windowMs`,
 *   measured when a request asks) that the loop spent running code rather than waiting for I/O.
 *   A loop that is busy all the time is what a growing queue looks like.
 * - `queueWait()`: how long the requests being read now have waited at least, from a timer that
 *   ticks every `tickMs` (unref'd: it keeps no process alive). A request read in this turn of the
 *   loop arrived no later than the turn's start, so it has waited at least as long as the turn
 *   has run; and if the turn before ran long (the tick came late by that much), requests that
 *   arrived during it waited up to that long. The larger of the two is the signal.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export class LoopLoad {
  private mark: EventLoopUtilization = performance.eventLoopUtilization();
  private markAt = performance.now();
  private last = 0;
  private tickAt = performance.now();
  private late = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs = 10) {}

  /** The busy share (0–1) of the last window that ended at least `windowMs` after the one before. */
  utilization(windowMs: number): number {
    const now = performance.now();
    if (now - this.markAt >= windowMs) {
      const current = performance.eventLoopUtilization();
      this.last = performance.eventLoopUtilization(current, this.mark).utilization;
      this.mark = current;
      this.markAt = now;
    }
    return this.last;
  }

  /**
   * Milliseconds that the requests read in this turn of the loop may have waited: the longer of
   * the time since the last tick (this turn so far) and how late that tick came (the turn
   * before). Starts the ticking on first use; near 0 on an idle loop.
   */
  queueWait(): number {
    if (!this.timer) {
      this.tickAt = performance.now();
      this.timer = setInterval(() => {
        const now = performance.now();
        this.late = Math.max(0, now - this.tickAt - this.tickMs);
        this.tickAt = now;
      }, this.tickMs);
      this.timer.unref();
      return 0;
    }
    return Math.max(performance.now() - this.tickAt, this.late);
  }

  /** Stops the ticking (a closed server). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.late = 0;
  }
}
