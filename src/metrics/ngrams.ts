/**
 * Clipped n-gram matching shared by BLEU (word n-grams), chrF (character and word n-grams) and ROUGE. The units
 * of one segment get small integer ids, and an n-gram of ids becomes one number: its digits in base V + 1 with
 * ids shifted by one, so that n-grams of different lengths never collide. Counts live in an open-addressing
 * table reused from segment to segment. When V + 1 to the power of the largest order is too big for an exact
 * double, keys fall back to joined strings in a Map.
 */

const MAX_EXACT_KEY = 2 ** 53;
const EMPTY = -1;

/** FNV-1a over UTF-16 code units: hash = imul(hash ^ code, PRIME) from SEED. */
export const SPAN_HASH_SEED = 0x811c9dc5 | 0;
export const SPAN_HASH_PRIME = 0x01000193;

export function spanHash(source: string, start: number, end: number): number {
  let hash = SPAN_HASH_SEED;
  for (let index = start; index < end; index++) hash = Math.imul(hash ^ source.charCodeAt(index), SPAN_HASH_PRIME);
  return hash;
}

/** A multiset of non-negative integer keys (exact doubles), cleared in time proportional to its use. */
export class CountTable {
  private keys: Float64Array;
  private counts: Int32Array;
  private slots: Int32Array;
  private used = 0;
  private mask: number;

  constructor(capacity = 256) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(capacity, 16)));
    this.keys = new Float64Array(size).fill(EMPTY);
    this.counts = new Int32Array(size);
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.used;
  }

  clear(): void {
    for (let index = 0; index < this.used; index++) this.keys[this.slots[index]] = EMPTY;
    this.used = 0;
  }

  private slotOf(key: number): number {
    let slot: number;
    if (key < 0x80000000) {
      slot = Math.imul(key, 0x9e3779b1);
    } else {
      const low = key % 4294967296;
      const high = (key - low) / 4294967296;
      slot = Math.imul((low ^ Math.imul(high, 0x9e3779b1)) | 0, 0x85ebca6b);
    }
    slot = (slot ^ (slot >>> 15)) & this.mask;
    const keys = this.keys;
    while (keys[slot] !== EMPTY && keys[slot] !== key) slot = (slot + 1) & this.mask;
    return slot;
  }

  get(key: number): number {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.counts[slot] : 0;
  }

  add(key: number, amount = 1): void {
    const slot = this.slotOf(key);
    if (this.keys[slot] === key) {
      this.counts[slot] += amount;
      return;
    }
    this.keys[slot] = key;
    this.counts[slot] = amount;
    this.slots[this.used++] = slot;
    if (this.used * 2 > this.mask) this.grow();
  }

  /** Raises the count of `key` to at least `count`. */
  raise(key: number, count: number): void {
    const slot = this.slotOf(key);
    if (this.keys[slot] === key) {
      if (count > this.counts[slot]) this.counts[slot] = count;
      return;
    }
    this.keys[slot] = key;
    this.counts[slot] = count;
    this.slots[this.used++] = slot;
    if (this.used * 2 > this.mask) this.grow();
  }

  /** Uses up one occurrence of `key` if any is left; says whether it did. */
  take(key: number): boolean {
    const slot = this.slotOf(key);
    if (this.keys[slot] === key && this.counts[slot] > 0) {
      this.counts[slot]--;
      return true;
    }
    return false;
  }

  /** Calls `visit` for every key with its count. */
  forEach(visit: (key: number, count: number) => void): void {
    for (let index = 0; index < this.used; index++) {
      const slot = this.slots[index];
      visit(this.keys[slot], this.counts[slot]);
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldCounts = this.counts;
    const oldSlots = this.slots.subarray(0, this.used);
    const size = oldKeys.length * 2;
    this.keys = new Float64Array(size).fill(EMPTY);
    this.counts = new Int32Array(size);
    const slots = new Int32Array(size);
    this.mask = size - 1;
    oldSlots.forEach((oldSlot, index) => {
      const slot = this.slotOf(oldKeys[oldSlot]);
      this.keys[slot] = oldKeys[oldSlot];
      this.counts[slot] = oldCounts[oldSlot];
      slots[index] = slot;
    });
    this.slots = slots;
  }
}

/** Gives the units (words or characters) of one segment small integer ids 0…size−1; `begin()` starts a segment. */
export class SegmentEncoder {
  // A fresh small Map per segment measured faster than one long-lived table (and than clearing one).
  private ids = new Map<string, number>();

  get size(): number {
    return this.ids.size;
  }

  begin(): void {
    if (this.ids.size > 0) this.ids = new Map();
  }

  encode(units: readonly string[]): Int32Array {
    const ids = this.ids;
    const encoded = new Int32Array(units.length);
    for (let index = 0; index < units.length; index++) {
      const unit = units[index];
      let id = ids.get(unit);
      if (id === undefined) {
        id = ids.size;
        ids.set(unit, id);
      }
      encoded[index] = id;
    }
    return encoded;
  }
}

/**
 * Per-segment token ids straight from spans of source strings: an FNV-1a hash computed over the span, checked
 * character by character on a hit, so repeated tokens cost no substring and no Map lookup.
 */
export class SpanEncoder {
  private hashes = new Int32Array(256);
  private starts = new Int32Array(256);
  private lengths = new Int32Array(256);
  private ids = new Int32Array(256).fill(EMPTY);
  private sources: string[] = new Array<string>(256);
  private usedSlots: number[] = [];
  private mask = 255;
  private buffer = new Int32Array(256);
  private count = 0;
  size = 0;

  /** Starts a new segment: forgets every id. */
  begin(): void {
    for (const slot of this.usedSlots) this.ids[slot] = EMPTY;
    this.usedSlots.length = 0;
    this.size = 0;
  }

  /** Encodes one text of the segment: `feed` passes its tokens to `add`. */
  encode(feed: (sink: SpanEncoder) => void): Int32Array {
    this.count = 0;
    feed(this);
    return this.buffer.slice(0, this.count);
  }

  add(source: string, start: number, end: number, hash = spanHash(source, start, end)): void {
    const length = end - start;
    let slot = (hash ^ (hash >>> 16)) & this.mask;
    for (;;) {
      const id = this.ids[slot];
      if (id === EMPTY) break;
      if (this.hashes[slot] === hash && this.lengths[slot] === length && this.sameSpan(slot, source, start, length)) {
        this.push(id);
        return;
      }
      slot = (slot + 1) & this.mask;
    }
    const id = this.size++;
    this.ids[slot] = id;
    this.hashes[slot] = hash;
    this.starts[slot] = start;
    this.lengths[slot] = length;
    this.sources[slot] = source;
    this.usedSlots.push(slot);
    this.push(id);
    if (this.usedSlots.length * 2 > this.mask) this.grow();
  }

  private sameSpan(slot: number, source: string, start: number, length: number): boolean {
    const other = this.sources[slot];
    const otherStart = this.starts[slot];
    for (let offset = 0; offset < length; offset++) {
      if (other.charCodeAt(otherStart + offset) !== source.charCodeAt(start + offset)) return false;
    }
    return true;
  }

  private push(id: number): void {
    if (this.count === this.buffer.length) {
      const grown = new Int32Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.count++] = id;
  }

  private grow(): void {
    const old = { hashes: this.hashes, starts: this.starts, lengths: this.lengths, ids: this.ids, sources: this.sources };
    const size = (this.mask + 1) * 2;
    this.hashes = new Int32Array(size);
    this.starts = new Int32Array(size);
    this.lengths = new Int32Array(size);
    this.ids = new Int32Array(size).fill(EMPTY);
    this.sources = new Array<string>(size);
    this.mask = size - 1;
    const slots = this.usedSlots;
    this.usedSlots = [];
    for (const oldSlot of slots) {
      const hash = old.hashes[oldSlot];
      let slot = (hash ^ (hash >>> 16)) & this.mask;
      while (this.ids[slot] !== EMPTY) slot = (slot + 1) & this.mask;
      this.hashes[slot] = hash;
      this.starts[slot] = old.starts[oldSlot];
      this.lengths[slot] = old.lengths[oldSlot];
      this.ids[slot] = old.ids[oldSlot];
      this.sources[slot] = old.sources[oldSlot];
      this.usedSlots.push(slot);
    }
  }
}

/**
 * A multiset of n-grams over one segment's ids (orders up to `maxOrder` share it: keys never collide).
 * `reset(vocabularySize)` starts a new segment.
 */
export class NgramCounts {
  private readonly table = new CountTable();
  private readonly fallback = new Map<string, number>();
  private base = 1;
  private exact = true;

  constructor(private readonly maxOrder: number) {}

  reset(vocabularySize: number): void {
    this.base = vocabularySize + 1;
    this.exact = this.base ** this.maxOrder < MAX_EXACT_KEY;
    this.table.clear();
    this.fallback.clear();
  }

  /** Adds every n-gram of `ids` of orders 1…maxOrder (keys built incrementally, one pass). */
  addAll(ids: Int32Array): void {
    const length = ids.length;
    const maxOrder = this.maxOrder;
    if (!this.exact) {
      for (let order = 1; order <= maxOrder; order++) {
        for (let start = 0; start + order <= length; start++) {
          const key = ids.subarray(start, start + order).join(',');
          this.fallback.set(key, (this.fallback.get(key) ?? 0) + 1);
        }
      }
      return;
    }
    const base = this.base;
    const table = this.table;
    for (let start = 0; start < length; start++) {
      const end = Math.min(length, start + maxOrder);
      let key = 0;
      for (let index = start; index < end; index++) {
        key = key * base + ids[index] + 1;
        table.add(key);
      }
    }
  }

  /** Keeps, per n-gram, the larger of this count and the other's (BLEU's multi-reference clipping). */
  raiseTo(other: NgramCounts): void {
    if (this.exact) {
      other.table.forEach((key, count) => this.table.raise(key, count));
    } else {
      for (const [key, count] of other.fallback) {
        if (count > (this.fallback.get(key) ?? 0)) this.fallback.set(key, count);
      }
    }
  }

  /**
   * For each order n = 1…maxOrder, Σ over the n-grams of `ids` of min(count in ids, count here), written to
   * matches[n − 1]; uses the counts up.
   */
  takeMatches(ids: Int32Array, matches: number[]): void {
    const length = ids.length;
    const maxOrder = this.maxOrder;
    for (let order = 1; order <= maxOrder; order++) matches[order - 1] = 0;
    if (!this.exact) {
      for (let order = 1; order <= maxOrder; order++) {
        for (let start = 0; start + order <= length; start++) {
          const key = ids.subarray(start, start + order).join(',');
          const count = this.fallback.get(key);
          if (count !== undefined && count > 0) {
            this.fallback.set(key, count - 1);
            matches[order - 1]++;
          }
        }
      }
      return;
    }
    const base = this.base;
    const table = this.table;
    for (let start = 0; start < length; start++) {
      const end = Math.min(length, start + maxOrder);
      let key = 0;
      for (let index = start; index < end; index++) {
        key = key * base + ids[index] + 1;
        if (table.take(key)) matches[index - start]++;
      }
    }
  }
}
