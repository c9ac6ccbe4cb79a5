/**
 * Clipped n-gram matching shared by BLEU (word n-grams) and chrF (character and word n-grams). The texts of one
 * segment get small integer ids, and an n-gram of ids becomes one number (its digits in base V + 1, ids shifted
 * by one so that different lengths never collide), or a joined string when that number would not be exact.
 */

export type NgramKey = number | string;

const MAX_EXACT_KEY = 2 ** 53;

/** Gives each distinct unit (word or character) of one segment a small integer. */
export class SegmentVocabulary {
  private readonly ids = new Map<string, number>();

  get size(): number {
    return this.ids.size;
  }

  encode(units: readonly string[]): Int32Array {
    const encoded = new Int32Array(units.length);
    for (let index = 0; index < units.length; index++) {
      const unit = units[index];
      let id = this.ids.get(unit);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(unit, id);
      }
      encoded[index] = id;
    }
    return encoded;
  }
}

/** Produces n-gram keys over id arrays for orders up to `maxOrder`. */
export class NgramKeys {
  private readonly base: number;
  readonly exact: boolean;

  constructor(vocabularySize: number, maxOrder: number) {
    this.base = vocabularySize + 1;
    this.exact = this.base ** maxOrder < MAX_EXACT_KEY;
  }

  key(ids: Int32Array, start: number, order: number): NgramKey {
    if (!this.exact) return ids.subarray(start, start + order).join(',');
    let key = 0;
    for (let offset = 0; offset < order; offset++) key = key * this.base + ids[start + offset] + 1;
    return key;
  }

  /** Counts of every n-gram of the given order. */
  count(ids: Int32Array, order: number, into = new Map<NgramKey, number>()): Map<NgramKey, number> {
    for (let start = 0; start + order <= ids.length; start++) {
      const key = this.key(ids, start, order);
      into.set(key, (into.get(key) ?? 0) + 1);
    }
    return into;
  }
}

/** Merges `counts` into `maximum`, keeping the larger count per n-gram (BLEU's multi-reference clipping). */
export function mergeMaximum(maximum: Map<NgramKey, number>, counts: Map<NgramKey, number>): void {
  for (const [key, count] of counts) {
    const current = maximum.get(key);
    if (current === undefined || count > current) maximum.set(key, count);
  }
}

/**
 * Σ over the n-grams of `ids` of min(count in ids, available[n-gram]). Consumes `available` (pass a copy if
 * it is needed again).
 */
export function clippedMatches(keys: NgramKeys, ids: Int32Array, order: number, available: Map<NgramKey, number>): number {
  let matches = 0;
  for (let start = 0; start + order <= ids.length; start++) {
    const key = keys.key(ids, start, order);
    const count = available.get(key);
    if (count !== undefined && count > 0) {
      available.set(key, count - 1);
      matches++;
    }
  }
  return matches;
}
