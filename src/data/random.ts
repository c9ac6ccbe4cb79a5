/**
 * Seeded randomness for the data layer, built on the metrics layer's SeededRandom (xoshiro128**), so that splits,
 * template choices and mixtures repeat exactly for a seed on every machine.
 */
import { TunekitError } from '../errors.js';
import { SeededRandom } from '../metrics/random.js';
import { nearestName } from '../nearest.js';

export { SeededRandom };

/** Checks that a seed is an integer (any sign; it is used modulo 2^32). */
export function checkSeed(seed: unknown, what = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new TunekitError('E_SEED', `${what} must be an integer, got ${JSON.stringify(seed)}`);
  return seed;
}

function mix32(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A generator for one record: depends only on (seed, stream, index), so record 7 gets the same choice whether the
 * records are read in one go or streamed, on any machine. `stream` separates independent uses of one seed.
 */
export function recordRandom(seed: number, index: number, stream = 0): SeededRandom {
  const high = Math.floor(index / 4294967296);
  return new SeededRandom(mix32(mix32(mix32(seed >>> 0) ^ (stream >>> 0)) ^ mix32(index >>> 0) ^ Math.imul(high, 0x9e3779b9)));
}

/** Fisher–Yates shuffle in place (from the end, j uniform in [0, i]). */
export function shuffleInPlace<T>(items: T[], random: SeededRandom): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = random.nextInt(index + 1);
    const held = items[index];
    items[index] = items[other];
    items[other] = held;
  }
  return items;
}

/** `k` distinct indices from [0, n), in the order drawn, skipping `exclude`. */
export function sampleIndices(n: number, k: number, random: SeededRandom, exclude?: number): number[] {
  const available = n - (exclude !== undefined && exclude >= 0 && exclude < n ? 1 : 0);
  if (k > available) throw new TunekitError('E_SAMPLE', `cannot draw ${k} distinct items from ${available}`);
  const chosen: number[] = [];
  if (k * 2 <= available) {
    const seen = new Set<number>();
    while (chosen.length < k) {
      const pick = random.nextInt(n);
      if (pick === exclude || seen.has(pick)) continue;
      seen.add(pick);
      chosen.push(pick);
    }
    return chosen;
  }
  const pool: number[] = [];
  for (let index = 0; index < n; index++) if (index !== exclude) pool.push(index);
  for (let index = 0; index < k; index++) {
    const other = index + random.nextInt(pool.length - index);
    const held = pool[index];
    pool[index] = pool[other];
    pool[other] = held;
    chosen.push(pool[index]);
  }
  return chosen;
}

/** " (did you mean 'x'?)" for the closest known name when one is close, else ''. */
export function suggestNearest(name: string, known: readonly string[]): string {
  const best = nearestName(name, known);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}
