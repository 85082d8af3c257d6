/**
 * In-network / out-of-network balance: every prefix of the page keeps its in-network count
 * within `tolerance` posts of the target share (`feed.inNetworkShare`, default 50%) — so a page
 * of 20 ends with 10 ± 1 in-network posts by default — and after `maxOutOfNetworkRun`
 * out-of-network posts in a row the next slot is in-network. Inside the band the best candidate
 * of either side takes the slot; when one side runs out, the other fills the page.
 */
export type Side = 'in' | 'out';

export interface BalanceState {
  slots: number;
  inCount: number;
  /** Out-of-network posts at the end of the page so far. */
  outRun: number;
}

export type BalanceReason = 'only_side' | 'out_of_network_run' | 'in_network_share';

/** Which side the next slot must come from, or undefined when either may; `reason` says what decided it. */
export function balanceSide(s: BalanceState, target: number, tolerance: number, maxOutRun: number, haveIn: boolean, haveOut: boolean): { side: Side; reason: BalanceReason } | undefined {
  if (!haveIn) return { side: 'out', reason: 'only_side' };
  if (!haveOut) return { side: 'in', reason: 'only_side' };
  if (maxOutRun > 0 && s.outRun >= maxOutRun) return { side: 'in', reason: 'out_of_network_run' };
  const want = target * (s.slots + 1);
  const dIn = Math.abs(s.inCount + 1 - want);
  const dOut = Math.abs(s.inCount - want);
  const okIn = dIn <= tolerance + 1e-9;
  const okOut = dOut <= tolerance + 1e-9;
  if (okIn && okOut) return undefined;
  if (okIn !== okOut) return { side: okIn ? 'in' : 'out', reason: 'in_network_share' };
  return { side: dIn <= dOut ? 'in' : 'out', reason: 'in_network_share' };
}
