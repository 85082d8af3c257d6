/**
 * A min-heap of records keyed by (timestamp, insertion order). Sessions overlap in time and
 * their engagements trail their impressions; the simulator pushes each session's records
 * here and pops everything older than the next action, so the output stream is in time
 * order while the queue only ever holds the records of the sessions still "open".
 */
import type { LogRecord } from '../domain/types.js';

export class RecordQueue {
  private ts: number[] = [];
  private seq: number[] = [];
  private recs: LogRecord[] = [];
  private counter = 0;

  get size(): number {
    return this.recs.length;
  }

  /** Timestamp of the earliest record (Infinity when empty). */
  peekTime(): number {
    return this.recs.length === 0 ? Infinity : this.ts[0];
  }

  push(timestamp: number, record: LogRecord): void {
    const ts = this.ts;
    const seq = this.seq;
    const recs = this.recs;
    const s = this.counter++;
    let i = recs.length;
    ts.push(timestamp);
    seq.push(s);
    recs.push(record);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = ts[parent];
      if (pt < timestamp || (pt === timestamp && seq[parent] < s)) break;
      ts[i] = pt;
      seq[i] = seq[parent];
      recs[i] = recs[parent];
      i = parent;
    }
    ts[i] = timestamp;
    seq[i] = s;
    recs[i] = record;
  }

  pop(): LogRecord {
    const ts = this.ts;
    const seq = this.seq;
    const recs = this.recs;
    const top = recs[0];
    const lastTs = ts.pop() as number;
    const lastSeq = seq.pop() as number;
    const lastRec = recs.pop() as LogRecord;
    const n = recs.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n && (ts[r] < ts[l] || (ts[r] === ts[l] && seq[r] < seq[l]))) c = r;
        if (ts[c] > lastTs || (ts[c] === lastTs && seq[c] > lastSeq)) break;
        ts[i] = ts[c];
        seq[i] = seq[c];
        recs[i] = recs[c];
        i = c;
      }
      ts[i] = lastTs;
      seq[i] = lastSeq;
      recs[i] = lastRec;
    }
    return top;
  }
}
