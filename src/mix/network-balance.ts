/**
 * In-network / out-of-network balance: each slot goes to the side that keeps the page's running
 * in-network share closest to the target (`feed.inNetworkShare`, default 50%), ties to the side
 * with the better candidate; and after `maxOutOfNetworkRun` out-of-network posts in a row the
 * next slot is in-network. When one side runs out, the other fills the page.
 */
export type Side = 'in' | 'out';

export interface BalanceState {
  slots: number;
  inCount: number;
  /** Out-of-network posts at the end of the page so far. */
  outRun: number;
}

/** Which side the next slot must come from, or undefined when either may (balance off). `reason` says what decided it. */
export function balanceSide(
  s: BalanceState,
  target: number,
  maxOutRun: number,
  haveIn: boolean,
  haveOut: boolean,
  bestInValue: number,
  bestOutValue: number,
): { side: Side; reason: 'only_side' | 'out_of_network_run' | 'in_network_share' } {
  if (!haveIn) return { side: 'out', reason: 'only_side' };
  if (!haveOut) return { side: 'in', reason: 'only_side' };
  if (maxOutRun > 0 && s.outRun >= maxOutRun) return { side: 'in', reason: 'out_of_network_run' };
  const slots = s.slots + 1;
  const dIn = Math.abs((s.inCount + 1) / slots - target);
  const dOut = Math.abs(s.inCount / slots - target);
  const side: Side = dIn < dOut || (dIn === dOut && bestInValue >= bestOutValue) ? 'in' : 'out';
  return { side, reason: 'in_network_share' };
}
