// Seeded mutations shared by the fuzz tests.

export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;
export const pick = <T>(rand: Random, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
export const integer = (rand: Random, below: number) => Math.floor(rand() * below);

export const WEIRD_VALUES: readonly unknown[] = [
  0, -1, 1, 2, 3, 7, 1.5, -0.5, 1e-12, 1e9, 1e10, 2 ** 31, 2 ** 53, 1e300, -1e300, '', 'x', 'float8', 'bfloat16', null, true, false, [], [1, 2], {}, { rope_type: 'yarn' },
  { rope_type: 'llama3', factor: 8 }, 'NaN',
];

export function mutateBytes(rand: Random, bytes: Uint8Array, start: number, end: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  const flips = 1 + integer(rand, 4);
  for (let index = 0; index < flips; index++) copy[start + integer(rand, Math.max(1, end - start))] = integer(rand, 256);
  return copy;
}

/** Replaces a random value somewhere inside `value` (objects and arrays) with a weird one, in place. */
export function mutateJson(rand: Random, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || (depth > 0 && rand() < 0.3)) return structuredClone(pick(rand, WEIRD_VALUES));
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, index) => index) : Object.keys(value);
  if (keys.length === 0) return structuredClone(pick(rand, WEIRD_VALUES));
  const key = pick(rand, keys) as string;
  const container = value as Record<string, unknown>;
  if (rand() < 0.1 && !Array.isArray(value)) delete container[key];
  else container[key] = mutateJson(rand, container[key], depth + 1);
  return value;
}

