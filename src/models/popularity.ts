/**
 * Popularity baseline: every user gets the most popular candidate items (training interaction
 * count; ties to the newer item, see TIE_BREAK in eval/recommender.ts) that they have not
 * interacted with in training.
 */
import { compareRanked, type Recommender, type RecommendOptions, type TrainMatrix } from '../eval/recommender.js';

export class PopularityRecommender implements Recommender {
  readonly name = 'popularity';
  private train?: TrainMatrix;
  private order = new Int32Array(0);

  fit(train: TrainMatrix): void {
    this.train = train;
    const items: number[] = [];
    for (let i = 0; i < train.numItems; i++) if (train.candidates[i]) items.push(i);
    const counts = train.itemCounts;
    items.sort((a, b) => compareRanked(counts[a], a, counts[b], b));
    this.order = Int32Array.from(items);
  }

  recommend(users: Int32Array, k: number, options: RecommendOptions): Int32Array {
    const train = this.train;
    if (!train) throw new Error('popularity: recommend() before fit()');
    const out = new Int32Array(users.length * k).fill(-1);
    const seen = new Uint8Array(train.numItems);
    const { offsets, indices } = train.userItems;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      if (options.excludeTrainItems) for (let p = offsets[u]; p < offsets[u + 1]; p++) seen[indices[p]] = 1;
      let filled = 0;
      for (let q = 0; q < this.order.length && filled < k; q++) {
        const item = this.order[q];
        if (!seen[item]) out[r * k + filled++] = item;
      }
      if (options.excludeTrainItems) for (let p = offsets[u]; p < offsets[u + 1]; p++) seen[indices[p]] = 0;
    }
    options.onProgress?.(users.length, users.length);
    return out;
  }
}
