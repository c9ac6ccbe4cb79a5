/**
 * Seeded train/validation/test splits and a leakage report.
 *
 * Sizes are ratios (`0.8,0.1,0.1`, summing to 1) or counts (`rest,100,100`: at most one `rest`). Ratios become
 * counts by the largest-remainder rule, so sizes are exact: 0.8/0.1/0.1 of 1001 records is 801/100/100. Records are
 * shuffled with a Fisher–Yates shuffle driven by xoshiro128** from the seed, so a seed gives the same split on every
 * run and machine. Stratified by a field, every class is split in the same proportions: each class's count in a
 * split is its quota rounded down or up (within ±1), and the split sizes stay exact. Without a split (`sizes`
 * undefined), everything is `train`, in its original order.
 */
import { TunekitError } from '../errors.js';
import { SeededRandom, checkSeed, shuffleInPlace } from './random.js';
import { pythonStr } from './template.js';

export const SPLIT_ERROR = 'E_SPLIT';

export type SplitSizes = { ratios: number[] } | { counts: (number | 'rest')[] };

export interface SplitOptions {
  /** `'0.8,0.1,0.1'`, `'rest,100,100'`, `[0.9, 0.1]`, `{ratios}` or `{counts}`; undefined keeps everything as train. */
  sizes?: string | readonly number[] | SplitSizes;
  /** Split names; default train/test for two sizes, train/validation/test for three. */
  names?: readonly string[];
  seed: number;
  /** A field whose classes keep the same proportions in every split. */
  stratifyBy?: string;
  /** false: no shuffle, contiguous slices in input order (per class when stratified). Default true. */
  shuffle?: boolean;
}

export interface DatasetSplits<T> {
  /** Split names, in order. */
  names: string[];
  splits: Record<string, T[]>;
}

function splitError(message: string): TunekitError {
  return new TunekitError(SPLIT_ERROR, message);
}

/** Parses `'0.8,0.1,0.1'` (ratios) or `'rest,100,100'` / `'800,100,100'` (counts). */
export function parseSplitSizes(text: string): SplitSizes {
  const items = text.split(',').map((item) => item.trim());
  if (items.length < 1 || items.some((item) => item === '')) throw splitError(`split sizes '${text}': expected comma-separated ratios (0.8,0.1,0.1) or counts (rest,100,100)`);
  if (items.includes('rest')) {
    return {
      counts: items.map((item) => {
        if (item === 'rest') return 'rest';
        if (!/^[0-9]+$/.test(item)) throw splitError(`split sizes '${text}': '${item}' is not a count`);
        return Number(item);
      }),
    };
  }
  const numbers = items.map((item) => {
    const value = Number(item.endsWith('%') ? item.slice(0, -1) : item) / (item.endsWith('%') ? 100 : 1);
    if (!Number.isFinite(value) || value < 0) throw splitError(`split sizes '${text}': '${item}' is not a non-negative number`);
    return value;
  });
  return sizesFromNumbers(numbers, `'${text}'`);
}

function sizesFromNumbers(numbers: readonly number[], what: string): SplitSizes {
  const sum = numbers.reduce((total, value) => total + value, 0);
  if (numbers.every((value) => value <= 1) && Math.abs(sum - 1) < 1e-9) return { ratios: [...numbers] };
  if (numbers.every((value) => Number.isInteger(value))) return { counts: [...numbers] };
  throw splitError(`split sizes ${what}: ratios must sum to 1 (these sum to ${sum}); counts must be whole numbers`);
}

/** Largest-remainder allocation of `total` by `weights` (summing to 1); ties go to the earlier entry. */
function allocate(total: number, weights: readonly number[]): number[] {
  const quotas = weights.map((weight) => total * weight);
  const counts = quotas.map((quota) => Math.floor(quota + 1e-9));
  let left = total - counts.reduce((sum, count) => sum + count, 0);
  const order = quotas.map((quota, index) => ({ index, fraction: quota - counts[index] })).sort((a, b) => b.fraction - a.fraction || a.index - b.index);
  for (const { index } of order) {
    if (left <= 0) break;
    counts[index]++;
    left--;
  }
  return counts;
}

/** Exact split sizes for `total` records. */
export function splitCounts(total: number, sizes: SplitSizes): number[] {
  if ('ratios' in sizes) {
    if (sizes.ratios.some((ratio) => !(ratio >= 0))) throw splitError(`split ratios must be non-negative, got ${sizes.ratios.join(',')}`);
    const sum = sizes.ratios.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-9) throw splitError(`split ratios must sum to 1, got ${sizes.ratios.join(',')} (sum ${sum})`);
    return allocate(total, sizes.ratios);
  }
  const rests = sizes.counts.filter((count) => count === 'rest').length;
  if (rests > 1) throw splitError(`at most one split size may be 'rest', got ${sizes.counts.join(',')}`);
  const fixed = sizes.counts.reduce<number>((sum, count) => sum + (count === 'rest' ? 0 : count), 0);
  if (sizes.counts.some((count) => count !== 'rest' && !(Number.isInteger(count) && count >= 0))) throw splitError(`split counts must be whole numbers, got ${sizes.counts.join(',')}`);
  if (fixed > total || (rests === 0 && fixed !== total)) {
    throw splitError(`split counts ${sizes.counts.join(',')} need ${fixed} records${rests === 0 ? ' exactly' : ''}, but there are ${total}${rests === 0 ? " (use 'rest' for one split)" : ''}`);
  }
  return sizes.counts.map((count) => (count === 'rest' ? total - fixed : count));
}

function resolveSizes(sizes: SplitOptions['sizes']): SplitSizes | undefined {
  if (sizes === undefined) return undefined;
  if (typeof sizes === 'string') return parseSplitSizes(sizes);
  if (Array.isArray(sizes)) return sizesFromNumbers(sizes as number[], `[${sizes.join(',')}]`);
  return sizes as SplitSizes;
}

function defaultNames(count: number): string[] {
  if (count === 1) return ['train'];
  if (count === 2) return ['train', 'test'];
  if (count === 3) return ['train', 'validation', 'test'];
  throw splitError(`${count} split sizes need split names (names: [...])`);
}

function whereOf(record: unknown, index: number): string {
  const where = (record as { where?: unknown } | null)?.where;
  return typeof where === 'string' ? where : `record ${index + 1}`;
}

/**
 * Cell counts per (class, split) with row sums = class sizes and column sums = split sizes, each cell its quota
 * rounded down or up: floors first, then the remaining ones by the Gale–Ryser construction (largest class
 * remainder first, to the splits that still need the most, larger fractions first).
 */
function stratifiedCounts(classSizes: number[], splitSizes: number[], total: number): number[][] {
  const weights = splitSizes.map((size) => (total === 0 ? 0 : size / total));
  const cells = classSizes.map((size) => weights.map((weight) => Math.floor(size * weight + 1e-9)));
  const fractions = classSizes.map((size, c) => weights.map((weight, s) => size * weight - cells[c][s]));
  const rowNeed = classSizes.map((size, c) => size - cells[c].reduce((a, b) => a + b, 0));
  const columnNeed = splitSizes.map((size, s) => size - cells.reduce((sum, row) => sum + row[s], 0));
  const rows = rowNeed.map((need, c) => ({ c, need })).sort((a, b) => b.need - a.need || a.c - b.c);
  for (const { c, need } of rows) {
    const columns = splitSizes
      .map((_, s) => s)
      .sort((a, b) => Number(columnNeed[b] > 0) - Number(columnNeed[a] > 0) || columnNeed[b] - columnNeed[a] || fractions[c][b] - fractions[c][a] || a - b);
    for (const s of columns.slice(0, need)) {
      cells[c][s]++;
      columnNeed[s]--;
    }
  }
  return cells;
}

/** Splits records by the options (see the module comment). */
export function splitRecords<T>(records: readonly T[], options: SplitOptions): DatasetSplits<T> {
  const seed = checkSeed(options.seed);
  const sizes = resolveSizes(options.sizes);
  if (sizes === undefined) return { names: ['train'], splits: { train: [...records] } };
  const length = 'ratios' in sizes ? sizes.ratios.length : sizes.counts.length;
  const names = options.names === undefined ? defaultNames(length) : [...options.names];
  if (names.length !== length) throw splitError(`${length} split sizes but ${names.length} names (${names.join(', ')})`);
  if (new Set(names).size !== names.length) throw splitError(`split names must differ, got ${names.join(', ')}`);
  const counts = splitCounts(records.length, sizes);
  const shuffle = options.shuffle ?? true;
  const random = new SeededRandom(seed);
  const assigned: number[][] = names.map(() => []);
  if (options.stratifyBy === undefined) {
    const order = records.map((_, index) => index);
    if (shuffle) shuffleInPlace(order, random);
    let start = 0;
    counts.forEach((count, s) => {
      assigned[s] = order.slice(start, start + count);
      start += count;
    });
  } else {
    const field = options.stratifyBy;
    const classes = new Map<string, number[]>();
    records.forEach((record, index) => {
      const value = (record as Record<string, unknown> | null)?.[field];
      if (value === undefined) throw splitError(`${whereOf(record, index)}: cannot stratify by '${field}': the record has no such field`);
      const key = typeof value === 'string' ? value : (() => { try { return pythonStr(value, field); } catch { return JSON.stringify(value); } })();
      let members = classes.get(key);
      if (members === undefined) classes.set(key, (members = []));
      members.push(index);
    });
    const groups = [...classes.values()];
    const cells = stratifiedCounts(groups.map((group) => group.length), counts, records.length);
    groups.forEach((group, c) => {
      if (shuffle) shuffleInPlace(group, random);
      let start = 0;
      cells[c].forEach((count, s) => {
        assigned[s].push(...group.slice(start, start + count));
        start += count;
      });
    });
    for (const indices of assigned) {
      if (shuffle) shuffleInPlace(indices, random);
      else indices.sort((a, b) => a - b);
    }
  }
  const splits: Record<string, T[]> = {};
  names.forEach((name, s) => {
    splits[name] = assigned[s].map((index) => records[index]);
  });
  return { names, splits };
}

/** Trims and collapses runs of whitespace to one space: the comparison the leakage report makes. */
export function normalizeWhitespace(text: string): string {
  return text.trim().replace(/\s+/gu, ' ');
}

export interface LeakageOptions {
  /** The input to compare: a field name, or a function of the record. Default: `prompt`, or a chat's non-assistant messages. */
  key?: string | ((record: Record<string, unknown>) => string);
  /** How many leaked inputs to list (all are counted). Default 10. */
  maxExamples?: number;
  /** How many `where`s to list per leaked input. Default 3. */
  maxWheres?: number;
}

export interface LeakedInput {
  /** The normalized input. */
  input: string;
  /** How many records of each split hold it (only splits that do). */
  counts: Record<string, number>;
  /** Where some of them are. */
  where: string[];
}

export interface LeakageReport {
  /** What was compared (a field name, `prompt`, or `custom`). */
  key: string;
  /** Distinct inputs found in two splits or more. */
  leakedInputs: number;
  /** Per split: its records whose input is also in another split. */
  leakedRecords: Record<string, number>;
  /** Per pair of splits (`train/test`): distinct inputs they share. */
  pairs: Record<string, number>;
  /** The first `maxExamples` leaked inputs, most records first. */
  examples: LeakedInput[];
}

function defaultKey(record: Record<string, unknown>, where: string): string {
  if (typeof record.prompt === 'string') return record.prompt;
  if (Array.isArray(record.messages)) {
    return record.messages
      .filter((message) => (message as { role?: unknown }).role !== 'assistant')
      .map((message) => String((message as { content?: unknown }).content))
      .join('\n');
  }
  throw splitError(`${where}: the leakage report compares 'prompt' by default, which this record lacks; name a field with key`);
}

/** Inputs (after whitespace normalization) that appear in more than one split. */
export function leakageReport(splits: Record<string, readonly Record<string, unknown>[]>, options: LeakageOptions = {}): LeakageReport {
  const names = Object.keys(splits);
  const key = options.key;
  const inputOf = (record: Record<string, unknown>, where: string): string => {
    if (key === undefined) return defaultKey(record, where);
    if (typeof key === 'function') return key(record);
    const value = record[key];
    if (value === undefined) throw splitError(`${where}: the leakage report compares '${key}', which this record lacks`);
    return typeof value === 'string' ? value : pythonStr(value, key);
  };
  const seen = new Map<string, { counts: Record<string, number>; where: string[] }>();
  for (const name of names) {
    splits[name].forEach((record, index) => {
      const where = whereOf(record, index);
      const input = normalizeWhitespace(inputOf(record, where));
      let entry = seen.get(input);
      if (entry === undefined) seen.set(input, (entry = { counts: {}, where: [] }));
      entry.counts[name] = (entry.counts[name] ?? 0) + 1;
      if (entry.where.length < (options.maxWheres ?? 3)) entry.where.push(`${name}: ${where}`);
    });
  }
  const leakedRecords: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  const pairs: Record<string, number> = {};
  const leaked: LeakedInput[] = [];
  for (const [input, entry] of seen) {
    const present = names.filter((name) => entry.counts[name] !== undefined);
    if (present.length < 2) continue;
    leaked.push({ input, counts: entry.counts, where: entry.where });
    for (const name of present) leakedRecords[name] += entry.counts[name];
    for (let i = 0; i < present.length; i++) for (let j = i + 1; j < present.length; j++) pairs[`${present[i]}/${present[j]}`] = (pairs[`${present[i]}/${present[j]}`] ?? 0) + 1;
  }
  const total = (item: LeakedInput) => Object.values(item.counts).reduce((a, b) => a + b, 0);
  leaked.sort((a, b) => total(b) - total(a) || (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
  return {
    key: key === undefined ? 'prompt' : typeof key === 'string' ? key : 'custom',
    leakedInputs: leaked.length,
    leakedRecords,
    pairs,
    examples: leaked.slice(0, options.maxExamples ?? 10),
  };
}
