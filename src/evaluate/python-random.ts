/**
 * Python's `random.Random`, bit for bit: lm-eval draws few-shot examples with `Random(1234).sample(docs, k)` and
 * bootstraps standard errors with `Random(i).choices(xs, k=n)`, so the same numbers need the same stream.
 * CPython seeds its Mersenne Twister from an int with init_by_array over the int's 32-bit words (least significant
 * first), draws below n by rejection on `getrandbits(n.bit_length())`, and builds floats from 27 + 26 bits.
 */
import { createHash } from 'node:crypto';
import { MersenneTwister } from '../train/sampler.js';

const N = 624;

function initGenrand(seed: number): Uint32Array {
  const state = new Uint32Array(N);
  state[0] = seed >>> 0;
  for (let i = 1; i < N; i++) {
    const previous = state[i - 1] ^ (state[i - 1] >>> 30);
    state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
  }
  return state;
}

/** CPython's init_by_array(key). */
function initByArray(key: number[]): Uint32Array {
  const state = initGenrand(19650218);
  let i = 1;
  let j = 0;
  for (let k = Math.max(N, key.length); k > 0; k--) {
    const previous = state[i - 1] ^ (state[i - 1] >>> 30);
    state[i] = ((state[i] ^ Math.imul(previous, 1664525)) + key[j] + j) >>> 0;
    i++;
    j++;
    if (i >= N) {
      state[0] = state[N - 1];
      i = 1;
    }
    if (j >= key.length) j = 0;
  }
  for (let k = N - 1; k > 0; k--) {
    const previous = state[i - 1] ^ (state[i - 1] >>> 30);
    state[i] = ((state[i] ^ Math.imul(previous, 1566083941)) - i) >>> 0;
    i++;
    if (i >= N) {
      state[0] = state[N - 1];
      i = 1;
    }
  }
  state[0] = 0x80000000;
  return state;
}

/** The 32-bit words of |seed|, least significant first ([0] for 0), as random_seed() splits a Python int. */
function seedWords(seed: number | bigint): number[] {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new RangeError(`a Python random seed must be an integer, got ${seed}`);
  let rest = BigInt(seed);
  if (rest < 0n) rest = -rest;
  const words: number[] = [];
  while (rest > 0n) {
    words.push(Number(rest & 0xffffffffn));
    rest >>= 32n;
  }
  return words.length === 0 ? [0] : words;
}

function bitLength(n: number): number {
  return n === 0 ? 0 : n.toString(2).length;
}

/** The int `random.seed(text)` (version 2) seeds with: the UTF-8 bytes then their SHA-512, read big-endian. */
export function pythonStringSeed(text: string): bigint {
  const bytes = Buffer.from(text, 'utf8');
  const digest = createHash('sha512').update(bytes).digest();
  return BigInt(`0x${Buffer.concat([bytes, digest]).toString('hex')}`);
}

export class PythonRandom {
  readonly #generator: MersenneTwister;

  /** `random.Random(seed)` for an integer or a text seed. */
  constructor(seed: number | bigint | string) {
    this.#generator = MersenneTwister.fromState(initByArray(seedWords(typeof seed === 'string' ? pythonStringSeed(seed) : seed)));
  }

  /** random.random(): a float in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.#generator.next() >>> 5;
    const b = this.#generator.next() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** random.getrandbits(k), as a bigint (any k ≥ 0). */
  getrandbits(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`getrandbits needs a non-negative integer, got ${k}`);
    if (k <= 32) return k === 0 ? 0n : BigInt(this.#generator.next() >>> (32 - k));
    let result = 0n;
    let shift = 0n;
    for (let left = k; left > 0; left -= 32) {
      let word = this.#generator.next();
      if (left < 32) word >>>= 32 - left;
      result |= BigInt(word) << shift;
      shift += 32n;
    }
    return result;
  }

  /** Random._randbelow(n) for 0 < n ≤ 2^53: rejection sampling on n.bit_length() bits. */
  randbelow(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`randbelow needs a positive safe integer, got ${n}`);
    const bits = bitLength(n);
    if (bits <= 32) {
      let r = bits === 0 ? 0 : this.#generator.next() >>> (32 - bits);
      while (r >= n) r = this.#generator.next() >>> (32 - bits);
      return r;
    }
    const limit = BigInt(n);
    let r = this.getrandbits(bits);
    while (r >= limit) r = this.getrandbits(bits);
    return Number(r);
  }

  /** random.sample(population, k): k distinct items, in selection order. */
  sample<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`Sample larger than population or is negative (k=${k}, population ${n})`);
    let setSize = 21;
    if (k > 5) setSize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    const result: T[] = [];
    if (n <= setSize) {
      const pool = [...population];
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result.push(pool[j]);
        pool[j] = pool[n - i - 1];
      }
      return result;
    }
    const selected = new Set<number>();
    for (let i = 0; i < k; i++) {
      let j = this.randbelow(n);
      while (selected.has(j)) j = this.randbelow(n);
      selected.add(j);
      result.push(population[j]);
    }
    return result;
  }

  /** random.shuffle(items), in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** random.choices(population, k=k) without weights: k draws with replacement. */
  choices<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    return Array.from({ length: k }, () => population[Math.floor(this.random() * n)]);
  }

  /** random.choice(sequence). */
  choice<T>(sequence: readonly T[]): T {
    if (sequence.length === 0) throw new RangeError('Cannot choose from an empty sequence');
    return sequence[this.randbelow(sequence.length)];
  }

  /** random.randint(a, b): an integer in [a, b]. */
  randint(a: number, b: number): number {
    return a + this.randbelow(b - a + 1);
  }
}

/**
 * numpy's legacy `RandomState(seed).permutation` for an integer seed: the generator seeded with init_genrand, and
 * Fisher–Yates from the end, each index drawn below i + 1 by masked rejection on 32-bit outputs.
 */
export class NumpyRandomState {
  readonly #generator: MersenneTwister;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`a numpy RandomState seed must be an integer in [0, 2**32), got ${seed}`);
    this.#generator = MersenneTwister.fromState(initGenrand(seed));
  }

  /** random_interval(max): an integer in [0, max]. */
  #interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    for (const shift of [1, 2, 4, 8, 16]) mask |= mask >>> shift;
    mask >>>= 0;
    for (;;) {
      const value = (this.#generator.next() & mask) >>> 0;
      if (value <= max) return value;
    }
  }

  permutation<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.#interval(i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
