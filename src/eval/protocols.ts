/**
 * The splits of docs/EVAL_PROTOCOL.md and who/what is ranked.
 *
 * - `temporal`: interactions ordered by (timestamp, file order); the first ⌊0.8·n⌋ are training,
 *   the rest test. No test interaction precedes a training one (equal timestamps can straddle
 *   the cut; file order decides them).
 * - `random`: interaction #i (file order of the deduplicated interactions) is test when
 *   `hashUniform(seed, i) < 0.2` — a pure function of (seed, i), see prng.ts.
 * - `loo`: each user's latest interaction (largest timestamp; among equal timestamps the one
 *   later in the file) is test; the rest training. A user with one interaction has no training
 *   data and is therefore never evaluated.
 *
 * Then: candidate items = items with ≥ 1 training interaction. A test positive is a held-out
 * interaction with value ≥ threshold for explicit ratings (every held-out interaction for
 * implicit data) whose item is a candidate and was not interacted with by the user in training.
 * Evaluated users = users with ≥ 1 training interaction and ≥ 1 test positive. Metrics divide
 * by the number of these test positives.
 */
import { csrFromCoordinates, transpose, type Csr } from '../models/csr.js';
import type { EvalDataset } from './dataset.js';
import { hashUniform } from './prng.js';
import type { TrainMatrix } from './recommender.js';

export const PROTOCOLS = ['temporal', 'random', 'loo'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export const TEST_SHARE = 0.2;

export interface SplitOptions {
  protocol: ProtocolName;
  /** Seed of the random split (default 42). */
  seed?: number;
}

/** Marks test interactions: result[n] = 1 when interaction n is held out. */
export function splitInteractions(ds: EvalDataset, options: SplitOptions): Uint8Array {
  const n = ds.size;
  const isTest = new Uint8Array(n);
  switch (options.protocol) {
    case 'temporal': {
      const order = temporalOrder(ds);
      const numTrain = Math.floor((1 - TEST_SHARE) * n);
      for (let p = numTrain; p < n; p++) isTest[order[p]] = 1;
      break;
    }
    case 'random': {
      const seed = options.seed ?? 42;
      for (let i = 0; i < n; i++) if (hashUniform(seed, i) < TEST_SHARE) isTest[i] = 1;
      break;
    }
    case 'loo': {
      // Interactions are stored in file order, so "later in the file" = larger index.
      const latest = new Int32Array(ds.numUsers).fill(-1);
      for (let i = 0; i < n; i++) {
        const u = ds.user[i];
        const cur = latest[u];
        if (cur < 0 || ds.timestamp[i] >= ds.timestamp[cur]) latest[u] = i;
      }
      for (let u = 0; u < ds.numUsers; u++) if (latest[u] >= 0) isTest[latest[u]] = 1;
      break;
    }
    default:
      throw new Error(`unknown protocol "${String(options.protocol)}" (expected ${PROTOCOLS.join(', ')})`);
  }
  return isTest;
}

/** Interaction indices sorted by (timestamp, file order). */
export function temporalOrder(ds: EvalDataset): Int32Array {
  const idx = new Int32Array(ds.size);
  for (let i = 0; i < ds.size; i++) idx[i] = i;
  const ts = ds.timestamp;
  const order = ds.order;
  return idx.sort((a, b) => ts[a] - ts[b] || order[a] - order[b]);
}

/** Builds the training matrices from the interactions not marked as test. */
export function buildTrainMatrix(ds: EvalDataset, isTest: Uint8Array): TrainMatrix {
  let numTrain = 0;
  for (let i = 0; i < ds.size; i++) if (!isTest[i]) numTrain++;
  const r = new Int32Array(numTrain);
  const c = new Int32Array(numTrain);
  const v = new Float64Array(numTrain);
  const isTrain = new Uint8Array(ds.size);
  for (let i = 0, t = 0; i < ds.size; i++) {
    if (isTest[i]) continue;
    isTrain[i] = 1;
    r[t] = ds.user[i];
    c[t] = ds.item[i];
    v[t] = ds.value[i];
    t++;
  }
  const userItems = csrFromCoordinates(ds.numUsers, ds.numItems, r, c, v);
  const itemUsers = transpose(userItems);
  const itemCounts = new Int32Array(ds.numItems);
  const candidates = new Uint8Array(ds.numItems);
  let numCandidates = 0;
  for (let i = 0; i < ds.numItems; i++) {
    itemCounts[i] = itemUsers.offsets[i + 1] - itemUsers.offsets[i];
    if (itemCounts[i] > 0) {
      candidates[i] = 1;
      numCandidates++;
    }
  }
  return { numUsers: ds.numUsers, numItems: ds.numItems, userItems, itemUsers, itemCounts, candidates, numCandidates, dataset: ds, isTrain };
}

export interface EvalSplit {
  protocol: ProtocolName;
  isTest: Uint8Array;
  numTrain: number;
  numTest: number;
  train: TrainMatrix;
  /** Evaluated users, ascending. */
  users: Int32Array;
  /** Test positives of each evaluated user (row r ↔ users[r]), sorted item ids. */
  positives: Csr;
}

export interface EvaluationSetup extends SplitOptions {
  /** Test-positive threshold for explicit ratings (default 4). */
  threshold?: number;
}

export function prepareSplit(ds: EvalDataset, options: EvaluationSetup): EvalSplit {
  const isTest = splitInteractions(ds, options);
  const train = buildTrainMatrix(ds, isTest);
  const threshold = options.threshold ?? 4;
  const { offsets, indices } = train.userItems;

  const posUser: number[] = [];
  const posItem: number[] = [];
  let numTest = 0;
  for (let i = 0; i < ds.size; i++) {
    if (!isTest[i]) continue;
    numTest++;
    const u = ds.user[i];
    const it = ds.item[i];
    if (ds.explicitRatings && !(ds.value[i] >= threshold)) continue;
    if (!train.candidates[it]) continue;
    if (offsets[u + 1] === offsets[u]) continue; // no training interaction
    if (hasSorted(indices, offsets[u], offsets[u + 1], it)) continue; // seen in training
    posUser.push(u);
    posItem.push(it);
  }
  const byUser = csrFromCoordinates(ds.numUsers, ds.numItems, posUser, posItem);
  const users: number[] = [];
  for (let u = 0; u < ds.numUsers; u++) if (byUser.offsets[u + 1] > byUser.offsets[u]) users.push(u);
  const evalUsers = Int32Array.from(users);
  const pOffsets = new Int32Array(evalUsers.length + 1);
  const pIndices = new Int32Array(posItem.length);
  let q = 0;
  evalUsers.forEach((u, r) => {
    for (let p = byUser.offsets[u]; p < byUser.offsets[u + 1]; p++) pIndices[q++] = byUser.indices[p];
    pOffsets[r + 1] = q;
  });
  const positives: Csr = { rows: evalUsers.length, cols: ds.numItems, offsets: pOffsets, indices: pIndices, values: new Float64Array(q).fill(1) };
  return { protocol: options.protocol, isTest, numTrain: ds.size - numTest, numTest, train, users: evalUsers, positives };
}

function hasSorted(a: Int32Array, start: number, end: number, x: number): boolean {
  let lo = start;
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = a[mid];
    if (v === x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
