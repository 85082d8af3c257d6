/**
 * Short generated post texts. Each topic has its own small vocabulary of made-up words, so
 * that text-based features (keywords, embeddings of text) carry the topic signal the way
 * real posts do, mixed with common filler words that carry none.
 */
import type { Rng } from './random.js';

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'kr', 'st', 'tr', 'sh', 'ch'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou', 'ia'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'k'];

const FILLER = [
  'the', 'a', 'new', 'my', 'our', 'this', 'why', 'how', 'today', 'finally', 'best', 'more', 'about', 'with', 'and',
  'for', 'is', 'really', 'just', 'first', 'look', 'thread', 'notes', 'quick', 'big', 'little', 'again', 'week',
];

const WORDS_PER_TOPIC = 24;

export class TextGenerator {
  private readonly vocab: string[][];

  constructor(topics: number, rng: Rng) {
    const used = new Set<string>();
    this.vocab = [];
    for (let t = 0; t < topics; t++) {
      const words: string[] = [];
      let guard = 0;
      while (words.length < WORDS_PER_TOPIC && guard++ < WORDS_PER_TOPIC * 50) {
        const syllables = 2 + rng.int(2);
        let w = '';
        for (let s = 0; s < syllables; s++) {
          w += ONSETS[rng.int(ONSETS.length)] + VOWELS[rng.int(VOWELS.length)];
          if (s === syllables - 1) w += CODAS[rng.int(CODAS.length)];
        }
        // Words are unique across topics beyond the first few thousand topics' worth; allow repeats then.
        if (used.has(w) && guard < WORDS_PER_TOPIC * 40) continue;
        used.add(w);
        words.push(w);
      }
      this.vocab.push(words);
    }
  }

  /** A topic's vocabulary (for tests and explanations). */
  words(topic: number): readonly string[] {
    return this.vocab[topic];
  }

  /** 5–14 words: mostly the post's topic words, some of the second topic's, some filler. */
  post(rng: Rng, topic: number, topic2: number): string {
    const n = 5 + rng.int(10);
    const main = this.vocab[topic];
    const second = topic2 >= 0 ? this.vocab[topic2] : main;
    let text = '';
    for (let k = 0; k < n; k++) {
      const r = rng.next();
      const w = r < 0.45 ? main[rng.int(main.length)] : r < 0.55 ? second[rng.int(second.length)] : FILLER[rng.int(FILLER.length)];
      text += k === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : ` ${w}`;
    }
    const end = rng.next();
    return text + (end < 0.7 ? '.' : end < 0.85 ? '!' : '?');
  }
}
