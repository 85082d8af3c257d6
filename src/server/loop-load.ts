/**
 * How busy this process's event loop has been: the share of the last complete window (of at
 * least `windowMs`, measured when a request asks) that the loop spent running code rather than
 * waiting for I/O. The overload protection's signal (config `feed.overload`): Node answers one
 * request's synchronous work at a time, so under a burst the queue grows in the sockets, where
 * no request counter sees it; a loop that is busy all the time is what a growing queue looks like.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export class LoopLoad {
  private mark: EventLoopUtilization = performance.eventLoopUtilization();
  private markAt = performance.now();
  private last = 0;

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
}
