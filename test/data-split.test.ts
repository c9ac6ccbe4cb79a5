/** Seeded splits (ratios, counts, stratified), the leakage report, and multitask mixtures. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { formatMixture, mixTasks, mixtureRates, streamMixture, type MixtureTask } from '../src/data/mixture.js';
import { bundledTemplate } from '../src/data/templates/index.js';
import { leakageReport, normalizeWhitespace, parseSplitSizes, splitCounts, splitRecords } from '../src/data/split.js';

const RECORDS = Array.from({ length: 1001 }, (_, index) => ({ id: index, label: ['a', 'b', 'c'][index % 7 === 0 ? 2 : index % 2], where: `d.jsonl:${index + 1}` }));

const ids = (records: readonly { id: number }[]) => records.map((record) => record.id);

test('splits: the same seed gives the same split, another seed another; every record lands once', () => {
  const first = splitRecords(RECORDS, { sizes: '0.8,0.1,0.1', seed: 42 });
  const again = splitRecords(RECORDS, { sizes: '0.8,0.1,0.1', seed: 42 });
  const other = splitRecords(RECORDS, { sizes: '0.8,0.1,0.1', seed: 43 });
  assert.deepEqual(first.names, ['train', 'validation', 'test']);
  assert.deepEqual(ids(first.splits.test), ids(again.splits.test));
  assert.notDeepEqual(ids(first.splits.test), ids(other.splits.test));
  const all = [...ids(first.splits.train), ...ids(first.splits.validation), ...ids(first.splits.test)].sort((a, b) => a - b);
  assert.deepEqual(all, RECORDS.map((record) => record.id));
  // Pinned, so that a change of generator or shuffle (which would change every user's split) is seen.
  assert.deepEqual(ids(first.splits.test).slice(0, 8), PINNED_TEST_IDS);
});

const PINNED_TEST_IDS = [185, 275, 22, 329, 304, 981, 16, 766];

test('splits: ratio and count sizes are exact', () => {
  const bySize = (sizes: Parameters<typeof splitRecords>[1]['sizes']) => {
    const { names, splits } = splitRecords(RECORDS, { sizes, seed: 1 });
    return names.map((name) => splits[name].length);
  };
  assert.deepEqual(bySize('0.8,0.1,0.1'), [801, 100, 100]);
  assert.deepEqual(bySize([0.9, 0.1]), [901, 100]);
  assert.deepEqual(bySize('rest,100,100'), [801, 100, 100]);
  assert.deepEqual(bySize({ counts: [1, 1000] }), [1, 1000]);
  assert.deepEqual(bySize('70%,30%'), [701, 300]);
  assert.deepEqual(splitCounts(10, { ratios: [1 / 3, 1 / 3, 1 / 3] }), [4, 3, 3]);
  assert.deepEqual(splitCounts(7, { ratios: [0.7, 0.2, 0.1] }), [5, 1, 1]);
  assert.deepEqual(parseSplitSizes('800,100,101'), { counts: [800, 100, 101] });
  assert.throws(() => bySize('0.8,0.1'), (error: unknown) => error instanceof TunekitError && error.code === 'E_SPLIT' && /sum to 1/.test(error.message));
  assert.throws(() => bySize('800,100'), /need 900 records exactly, but there are 1001 \(use 'rest' for one split\)/);
  assert.throws(() => bySize('rest,rest'), /at most one/);
  assert.throws(() => splitRecords(RECORDS, { sizes: '0.5,0.5', names: ['a', 'b', 'c'], seed: 0 }), /2 split sizes but 3 names/);
  assert.throws(() => splitRecords(RECORDS, { sizes: '0.5,0.5', seed: 1.5 }), /seed must be an integer/);
});

test('splits: without sizes, order is kept; with shuffle false, slices are contiguous', () => {
  const none = splitRecords(RECORDS, { seed: 1 });
  assert.deepEqual(none.names, ['train']);
  assert.deepEqual(ids(none.splits.train), RECORDS.map((record) => record.id));
  const ordered = splitRecords(RECORDS, { sizes: '0.9,0.1', seed: 1, shuffle: false });
  assert.deepEqual(ids(ordered.splits.test), RECORDS.slice(901).map((record) => record.id));
});

test('splits: stratified, each class keeps its proportion within ±1, and the sizes stay exact', () => {
  const classCounts = (records: readonly { label: string }[]) => {
    const counts: Record<string, number> = {};
    for (const record of records) counts[record.label] = (counts[record.label] ?? 0) + 1;
    return counts;
  };
  const totals = classCounts(RECORDS);
  for (const seed of [0, 1, 2]) {
    for (const sizes of ['0.8,0.1,0.1', '0.6,0.25,0.15', 'rest,37,50']) {
      const { names, splits } = splitRecords(RECORDS, { sizes, seed, stratifyBy: 'label' });
      const expected = splitCounts(RECORDS.length, parseSplitSizes(sizes));
      assert.deepEqual(names.map((name) => splits[name].length), expected, sizes);
      names.forEach((name, s) => {
        const counts = classCounts(splits[name]);
        for (const [label, total] of Object.entries(totals)) {
          const quota = (total * expected[s]) / RECORDS.length;
          assert.ok(Math.abs((counts[label] ?? 0) - quota) <= 1, `${sizes} ${name} ${label}: ${counts[label]} vs ${quota}`);
        }
      });
    }
  }
  const again = splitRecords(RECORDS, { sizes: '0.8,0.1,0.1', seed: 5, stratifyBy: 'label' });
  assert.deepEqual(ids(again.splits.validation), ids(splitRecords(RECORDS, { sizes: '0.8,0.1,0.1', seed: 5, stratifyBy: 'label' }).splits.validation));
  assert.throws(() => splitRecords([{ label: 'a', where: 'x.jsonl:1' }, { where: 'x.jsonl:2' }], { sizes: '0.5,0.5', seed: 0, stratifyBy: 'label' }), /x\.jsonl:2: cannot stratify by 'label'/);
});

test('leakage report: inputs in two splits, after whitespace normalization, with counts and examples', () => {
  const splits = {
    train: [
      { prompt: 'What is  2+2?\n', completion: '4', where: 't.jsonl:1' },
      { prompt: 'Name a color.', completion: 'red', where: 't.jsonl:2' },
      { prompt: 'What is 2+2?', completion: 'four', where: 't.jsonl:3' },
      { prompt: 'Unique.', completion: 'x', where: 't.jsonl:4' },
    ],
    validation: [{ prompt: ' Name a\tcolor. ', completion: 'blue', where: 'v.jsonl:1' }],
    test: [
      { prompt: 'What is 2+2?', completion: '4', where: 's.jsonl:1' },
      { prompt: 'Name a color.', completion: 'green', where: 's.jsonl:2' },
    ],
  };
  const report = leakageReport(splits);
  assert.equal(normalizeWhitespace(' a \n\t b '), 'a b');
  assert.equal(report.key, 'prompt');
  assert.equal(report.leakedInputs, 2);
  assert.deepEqual(report.leakedRecords, { train: 3, validation: 1, test: 2 });
  assert.deepEqual(report.pairs, { 'train/test': 2, 'train/validation': 1, 'validation/test': 1 });
  assert.deepEqual(report.examples[0], { input: 'Name a color.', counts: { train: 1, validation: 1, test: 1 }, where: ['train: t.jsonl:2', 'validation: v.jsonl:1', 'test: s.jsonl:2'] });
  assert.deepEqual(report.examples[1].counts, { train: 2, test: 1 });
  const byCompletion = leakageReport(splits, { key: 'completion' });
  assert.equal(byCompletion.leakedInputs, 1);
  assert.deepEqual(byCompletion.examples[0].counts, { train: 1, test: 1 });
  const chat = leakageReport({ a: [{ messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'x' }] }], b: [{ messages: [{ role: 'user', content: 'hi ' }, { role: 'assistant', content: 'y' }] }] });
  assert.equal(chat.leakedInputs, 1);
  assert.throws(() => leakageReport({ a: [{ text: 'x', where: 'a.jsonl:1' }] }), /a\.jsonl:1: the leakage report compares 'prompt' by default/);
});

const task = (name: string, size: number): MixtureTask => ({ name, records: Array.from({ length: size }, (_, index) => ({ id: index, where: `${name}.jsonl:${index + 1}` })) });
const close = (actual: Record<string, number>, expected: Record<string, number>, tolerance: number) => {
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const name of Object.keys(expected)) assert.ok(Math.abs(actual[name] - expected[name]) <= tolerance, `${name}: ${actual[name]} vs ${expected[name]}`);
};

test('mixture rates: proportional, capped, temperature (T=1 is proportional, large T tends to uniform)', () => {
  const sizes = { a: 100, b: 300, c: 600 };
  close(mixtureRates(sizes), { a: 0.1, b: 0.3, c: 0.6 }, 1e-12);
  close(mixtureRates(sizes, { cap: 200 }), { a: 0.2, b: 0.4, c: 0.4 }, 1e-12);
  close(mixtureRates(sizes, { method: 'temperature', temperature: 1 }), mixtureRates(sizes), 1e-12);
  close(mixtureRates(sizes, { method: 'temperature', temperature: 1, cap: 200 }), mixtureRates(sizes, { cap: 200 }), 1e-12);
  const root = Math.sqrt(100) + Math.sqrt(300) + Math.sqrt(600);
  close(mixtureRates(sizes, { method: 'temperature', temperature: 2 }), { a: 10 / root, b: Math.sqrt(300) / root, c: Math.sqrt(600) / root }, 1e-12);
  close(mixtureRates(sizes, { method: 'temperature', temperature: 1000 }), { a: 1 / 3, b: 1 / 3, c: 1 / 3 }, 0.002);
  const flatter = [1, 2, 5, 20].map((temperature) => mixtureRates(sizes, { method: 'temperature', temperature }).c);
  for (let index = 1; index < flatter.length; index++) assert.ok(flatter[index] < flatter[index - 1]);
  close(mixtureRates({ a: 0, b: 5 }), { a: 0, b: 1 }, 0);
  assert.throws(() => mixtureRates({ a: 0 }), (error: unknown) => error instanceof TunekitError && error.code === 'E_MIXTURE');
  assert.throws(() => mixtureRates(sizes, { method: 'temperature' }), /positive finite temperature/);
  assert.throws(() => mixtureRates(sizes, { temperature: 2 }), /use method 'temperature'/);
});

test('mixtures: realized proportions match the rates for a large sample; the cap is respected', () => {
  const tasks = [task('small', 50), task('medium', 400), task('large', 5000)];
  const capped = mixTasks(tasks, { seed: 11, cap: 1000, count: 60000 });
  close(capped.rates, { small: 50 / 1450, medium: 400 / 1450, large: 1000 / 1450 }, 1e-12);
  close(Object.fromEntries(Object.entries(capped.realized).map(([name, value]) => [name, value.proportion])), capped.rates, 0.01);
  assert.equal(Object.values(capped.realized).reduce((sum, value) => sum + value.count, 0), 60000);
  // The default count is Σ min(n_i, cap): one capped pass.
  const pass = mixTasks(tasks, { seed: 11, cap: 1000 });
  assert.equal(pass.records.length, 1450);
  const hot = mixTasks(tasks, { seed: 11, method: 'temperature', temperature: 50, count: 60000 });
  close(Object.fromEntries(Object.entries(hot.realized).map(([name, value]) => [name, value.proportion])), hot.rates, 0.01);
  assert.ok(hot.realized.small.proportion > 0.25);
  const table = formatMixture(capped);
  assert.match(table.split('\n')[0], /^task\s+rate\s+realized\s+count$/);
  assert.equal(table.split('\n').length, 4);
});

test('mixtures: seeded, interleaved, without replacement within a pass, with task names and templates', () => {
  const tasks = [task('a', 10), task('b', 30)];
  const first = mixTasks(tasks, { seed: 4, count: 200 }).records;
  assert.deepEqual(mixTasks(tasks, { seed: 4, count: 200 }).records, first);
  assert.notDeepEqual(mixTasks(tasks, { seed: 5, count: 200 }).records, first);
  assert.deepEqual([...streamMixture(tasks, { seed: 4, count: 50 })], first.slice(0, 50));
  const fromA = first.filter((record) => record.task === 'a').map((record) => (record as unknown as { id: number }).id);
  assert.ok(fromA.length >= 20);
  assert.deepEqual([...fromA.slice(0, 10)].sort((x, y) => x - y), Array.from({ length: 10 }, (_, index) => index));
  assert.deepEqual([...fromA.slice(10, 20)].sort((x, y) => x - y), Array.from({ length: 10 }, (_, index) => index));
  assert.ok(new Set(first.slice(0, 20).map((record) => record.task)).size === 2, 'interleaved');
  const nli = { name: 'nli', records: [{ premise: 'A cat sleeps.', hypothesis: 'An animal rests.', label: 'entailment', where: 'nli.jsonl:1' }], templates: bundledTemplate('nli') };
  const qa = { name: 'qa', records: [{ context: 'Paris is in France.', question: 'Where is Paris?', answer: 'France' }], templates: bundledTemplate('extractive_qa'), templateOptions: { format: 'messages' as const } };
  const mixed = mixTasks([nli, qa], { seed: 0, count: 20 });
  for (const record of mixed.records) {
    if (record.task === 'nli') assert.ok('prompt' in record && (record as { completion: string }).completion === ' entailment' && (record as { where?: string }).where === 'nli.jsonl:1');
    else assert.ok('messages' in record && (record as { messages: { content: string }[] }).messages[1].content.trim() === 'France');
  }
  assert.throws(() => mixTasks([task('a', 1), task('a', 2)], { seed: 0 }), /two mixture tasks are named 'a'/);
});
