import type { SeededRandom } from '../random.js';

/** One element of a non-empty list, uniformly. */
export function pick<T>(random: SeededRandom, items: readonly T[]): T {
  return items[random.nextInt(items.length)];
}

/** `count` distinct elements, in the order drawn. */
export function pickDistinct<T>(random: SeededRandom, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const chosen: T[] = [];
  for (let index = 0; index < count; index++) chosen.push(pool.splice(random.nextInt(pool.length), 1)[0]);
  return chosen;
}

/** True with probability `probability`. */
export function chance(random: SeededRandom, probability: number): boolean {
  return random.nextUint32() / 4294967296 < probability;
}

/** "Anna", "Anna and Ben", "Anna, Ben and Carl". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}
