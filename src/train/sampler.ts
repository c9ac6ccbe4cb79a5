/**
 * The training order of transformers' Trainer, reproduced without touching libtorch's global generator.
 *
 * Trainer._get_train_sampler returns a RandomSampler; accelerate's prepare_data_loader (Trainer's default
 * accelerator_config has use_seedable_sampler=True) swaps it for a SeedableRandomSampler whose generator is seeded
 * with `data_seed ?? torch.random.initial_seed()` (= args.seed, which Trainer.__init__ passes to set_seed) plus the
 * epoch, and which draws `torch.randperm(n, generator)` each epoch. libtorch's CPU generator is an MT19937 seeded with
 * the low 32 bits of the seed, and CPU randperm (for n < 2^32/20) is a Fisher–Yates shuffle taking
 * `random() % (n - i)` per position, so both are written out here and checked against the addon's randperm.
 */

const N = 624;
const M = 397;

/** libtorch's at::mt19937 (the standard 32-bit Mersenne Twister, seeded as init_with_uint32 seeds it). */
export class MersenneTwister {
  readonly #state = new Uint32Array(N);
  #index = N;

  constructor(seed: number) {
    this.#state[0] = seed >>> 0;
    for (let j = 1; j < N; j++) {
      const previous = this.#state[j - 1] ^ (this.#state[j - 1] >>> 30);
      // 1812433253 * previous + j in uint32 arithmetic, split so the product stays exact in doubles.
      this.#state[j] = ((((previous & 0xffff0000) >>> 16) * 1812433253) << 16) + (previous & 0x0000ffff) * 1812433253 + j;
    }
  }

  /** A generator that continues from a raw 624-word state (as Python's init_by_array leaves one), at its end. */
  static fromState(state: Uint32Array): MersenneTwister {
    if (state.length !== N) throw new RangeError(`a Mersenne Twister state has ${N} words, got ${state.length}`);
    const generator = new MersenneTwister(0);
    generator.#state.set(state);
    generator.#index = N;
    return generator;
  }

  /** The next 32-bit output (CPUGeneratorImpl::random). */
  next(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  #twist(): void {
    const s = this.#state;
    for (let k = 0; k < N; k++) {
      const y = (s[k] & 0x80000000) | (s[(k + 1) % N] & 0x7fffffff);
      s[k] = s[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#index = 0;
  }
}

/** torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on CPU, for seeds below 2^53. */
export function torchRandperm(n: number, seed: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n >= 0xffffffff / 20) throw new RangeError(`randperm size must be an integer in [0, 2^32/20), got ${n}`);
  const low = Number(BigInt.asUintN(32, BigInt(seed)));
  const generator = new MersenneTwister(low);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n - 1; i++) {
    const z = generator.next() % (n - i);
    [order[i], order[z + i]] = [order[z + i], order[i]];
  }
  return order;
}

/** The example order Trainer's SeedableRandomSampler gives in `epoch` (0-based). */
export function trainerEpochOrder(examples: number, seed: number, epoch: number): number[] {
  return torchRandperm(examples, seed + epoch);
}
