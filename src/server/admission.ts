/**
 * The For You feed's admission queue (overload protection, config `feed.overload`).
 *
 * Node reads a socket's request only when its event loop gets to it. A loop that spends each
 * turn on a few expensive requests leaves the others in the kernel's socket buffers, where the
 * server cannot see how long they have waited: under a backlog a request can wait seconds
 * before its handler even starts. So the feed handler does not compute at once: it queues. Each
 * turn of the loop then reads every request that has arrived (queuing is cheap), and the queue
 * starts them in arrival order in the turn's check phase (setImmediate), two per turn and at
 * most `concurrency` at a time (8 by default: a request waits for the embedding search's worker
 * thread in the middle, and with 2 at a time the loop idled then; at 100k users the light
 * ranker's capacity fell from ~220 to ~185 req/s). Few starts per turn keep the turns short,
 * and that matters beyond reading: libuv accepts one new connection per turn of the loop, so
 * with several requests computed per turn, new connections waited in the kernel's accept queue
 * for seconds during a burst (the demo server: 300 in the queue, p99 9 s). The wait is now
 * measured where it happens, and the server acts on it (server/app.ts): a request that waited a while is ordered by the light
 * ranker alone, and one whose turn comes after more than `shedAfterMs` is answered at once with
 * `OverloadedError` (503 with Retry-After), so that under sustained overload the queue stays
 * short instead of every request waiting longer and longer.
 */

/** A request shed by the queue: it had waited longer than the limit when its turn came. */
export class OverloadedError extends Error {
  constructor(
    readonly waitedMs: number,
    readonly limitMs: number,
    /** Shed by the standing-queue rule (the limit was 2 × the target, not shedAfterMs). */
    readonly standing = false,
  ) {
    super(
      `the server is overloaded: this request waited ${Math.round(waitedMs)} ms in the queue (> ${standing ? `${limitMs} ms, twice feed.overload.lightAfterMs: every request of the last feed.overload.windowMs waited longer than lightAfterMs` : `feed.overload.shedAfterMs ${limitMs}`}); retry after 1 s`,
    );
  }
}

/**
 * Requests started per turn of the event loop. At 100k users, 1 gave the shortest waits at
 * moderate load but 15% less capacity under overload (each turn costs something of its own);
 * 2 kept most of both (README, Serving: the stop 22 table).
 */
const STARTS_PER_TURN = 2;

interface Waiter {
  at: number;
  start: (waitedMs: number) => void;
  shed: (err: OverloadedError) => void;
}

export class AdmissionQueue {
  private readonly queue: (Waiter | undefined)[] = [];
  private head = 0;
  private active = 0;
  private scheduled = false;
  /** The least wait of the requests started in the current interval, and when it began. */
  private intervalMin = Infinity;
  private intervalAt = performance.now();
  /** Every request started in the last complete interval waited longer than the target. */
  private standing = false;

  /**
   * @param concurrency requests computed at once (≥ 1).
   * @param shedAfterMs a request that waited longer than this is shed when its turn comes (0: never).
   * @param target a standing queue (CoDel's idea): when every request started during a whole
   *   `intervalMs` waited longer than `targetMs`, the queue is not draining, and requests are
   *   shed after 2 × targetMs instead, until an interval has a start below the target again.
   *   Bursts that the server works off within the interval shed nothing. Omitted: no such rule.
   */
  constructor(
    private readonly concurrency: number,
    private readonly shedAfterMs: number,
    private readonly target?: { targetMs: number; intervalMs: number },
  ) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error(`concurrency: an integer ≥ 1 expected, got ${concurrency}`);
  }

  /** The wait after which the next request is shed (Infinity: never). */
  get limitMs(): number {
    if (!(this.shedAfterMs > 0)) return Infinity;
    return this.standing && this.target ? Math.min(this.shedAfterMs, 2 * this.target.targetMs) : this.shedAfterMs;
  }

  /** Requests waiting for their turn. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * Runs `work` in its turn (given the milliseconds it waited); resolves with its result and that wait, or rejects
   * with OverloadedError when it waited too long (then `work` never runs).
   */
  async run<T>(work: (waitedMs: number) => Promise<T>): Promise<{ result: T; waitedMs: number }> {
    // Always through the queue, also when a slot is free: a synchronous request run from its
    // socket's callback would keep the loop from reading the other sockets until it is done,
    // and the ones behind it would wait unseen again. Started by pump() (which counts it active), or shed.
    const waiting = new Promise<number>((start, shed) => this.queue.push({ at: performance.now(), start, shed }));
    this.schedule();
    const waitedMs = await waiting;
    try {
      return { result: await work(waitedMs), waitedMs };
    } finally {
      this.active--;
      this.schedule();
    }
  }

  /** Starts wait for the loop's check phase, after it has read (and queued) every request that has arrived. */
  private schedule(): void {
    if (this.scheduled || this.waiting === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const now = performance.now();
    const t = this.target;
    if (t && now - this.intervalAt >= t.intervalMs) {
      // An interval without any start (the requests in work took it all) keeps the last verdict.
      if (this.intervalMin !== Infinity) this.standing = this.intervalMin > t.targetMs;
      this.intervalMin = Infinity;
      this.intervalAt = now;
    }
    const limit = this.limitMs;
    let started = 0;
    // From the oldest: shed what waited too long (also when no slot is free: its answer should
    // not wait longer), start the rest while slots are free.
    while (this.waiting > 0) {
      const w = this.queue[this.head]!;
      const waited = now - w.at;
      const stale = waited > limit;
      if (!stale && this.active >= this.concurrency) break;
      this.queue[this.head++] = undefined;
      if (stale) {
        w.shed(new OverloadedError(waited, limit, limit < this.shedAfterMs));
      } else {
        if (waited < this.intervalMin) this.intervalMin = waited;
        this.active++;
        w.start(waited);
        // A few starts per turn: the turn then stays short, and between turns the loop reads
        // the sockets and accepts connections (libuv accepts one connection per turn).
        if (++started >= STARTS_PER_TURN) break;
      }
    }
    // More to start: in the next turn (a full house waits for a finish, which schedules).
    if (this.active < this.concurrency) this.schedule();
    // Compact the array once its consumed prefix dominates.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
