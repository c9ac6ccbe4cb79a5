import path from 'node:path';
import { evaluate, readInstructionRecords, report, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, requireFlag, takeRepeatedFlags } from './args.js';
import { threadsFromFlags } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const FLAGS = {
  model: 'value',
  test: 'value',
  'test-split': 'value',
  template: 'value',
  limit: 'value',
  'fewshot-pool': 'value',
  'fewshot-split': 'value',
  baseline: 'value',
  metrics: 'value',
  'max-new-tokens': 'value',
  'batch-size': 'value',
  'bootstrap-samples': 'value',
  seed: 'value',
  forgetting: 'value',
  title: 'value',
  output: 'value',
  threads: 'value',
  json: 'switch',
} as const;

/** NAME=zero-shot | NAME=few-shot:K | NAME=DIR (a model folder, an adapter folder or a training output_dir). */
export function parseSystem(spec: string): evaluate.CompareSystem {
  const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(spec);
  if (match === null) throw new TunekitError('E_FLAG', `--system ${spec}: write NAME=zero-shot, NAME=few-shot:K or NAME=DIR`);
  const [, name, what] = match;
  if (what === 'zero-shot') return { name, shots: 0 };
  const shots = /^few-shot:(\d+)$/.exec(what);
  if (shots !== null) return { name, shots: Number(shots[1]) };
  if (what.startsWith('few-shot')) throw new TunekitError('E_FLAG', `--system ${spec}: few-shot needs its count, as few-shot:3`);
  return { name, path: path.resolve(what) };
}

async function pairs(source: string, options: { template?: string; split?: string; seed: number; limit?: number }, what: string): Promise<evaluate.InstructionPair[]> {
  const { records } = await readInstructionRecords(source, { template: options.template ?? null, seed: options.seed, split: options.split, limit: options.limit });
  return records.map((record, index) => {
    if (typeof record.prompt !== 'string' || typeof record.completion !== 'string') throw new TunekitError('E_FLAG', `${what} ${source}: record ${index + 1} is not a {prompt, completion} record of strings (give --template to make one from raw records)`);
    return { prompt: record.prompt, completion: record.completion };
  });
}

export const compareVerb: Verb = {
  name: 'compare',
  summary: 'several systems (prompting, full fine-tunes, adapters) on one test set: metrics with intervals, paired tests, a report',
  help: [
    'usage: tunekit compare --model BASE --test SRC [--template T] --system NAME=SPEC [--system …] [--output DIR] [--json]',
    '',
    'Decodes the same test prompts greedily with each system and compares them: ROUGE-1/2/L/Lsum (Porter stemmer) and',
    'BLEU (sacreBLEU) with 95% bootstrap intervals over test documents, each system\'s paired difference against the',
    'baseline with its interval and p-value, trainable parameters, training time, peak memory and weights size (read',
    'from a training output_dir), loss curves, and the outputs side by side. --output writes report.html (plots),',
    'report.md and report.json.',
    '  --model ID|DIR         the base model: prompting systems prompt it, adapters attach to it',
    '  --system NAME=SPEC     repeatable; SPEC is zero-shot, few-shot:K, or a folder: a model (full fine-tune), a PEFT',
    '                         adapter, or a `tunekit train` / Trainer output_dir holding either',
    '  --test SRC             test records: {prompt, completion} (or raw records with --template); file, folder or hub id',
    '  --test-split S         the split of a hub dataset or folder (default test)',
    '  --template T           a template file or bundled name that turns raw records into prompt and completion',
    '  --limit N              the first N test records',
    '  --fewshot-pool SRC     solved examples for few-shot prompts (default: --test\'s train split)',
    '  --fewshot-split S      the pool\'s split (default train)',
    '  --baseline NAME        the system the others are tested against (default: the first)',
    '  --metrics LIST         from rouge1, rouge2, rougeL, rougeLsum, bleu, chrf (default all but chrf)',
    '  --max-new-tokens N     new tokens per prompt (default: the longest reference + 8)',
    '  --batch-size B         prompts decoded together (default 8)',
    '  --bootstrap-samples N  resamples for intervals and paired tests (default 1000)',
    '  --seed S               seed of the bootstrap and of template choice (default 12345)',
    '  --forgetting FILE      a `tunekit forgetting` report.json whose forgetting rows to include',
    '  --title TEXT           the report\'s title',
    '  --output DIR           write the report folder',
    '  --threads T            libtorch threads',
    '  --json                 print the report JSON on stdout',
  ].join('\n'),
  async run(argv) {
    // --system may repeat, so it is taken out before the strict parse.
    const { rest, taken } = takeRepeatedFlags(argv, ['system']);
    const specs = taken.map(({ value }) => value);
    const args = parseArgs(rest, FLAGS);
    noExtraPositionals(args);
    threadsFromFlags(args);
    const json = flagBoolean(args, 'json');
    const base = requireFlag(args, 'model', 'ID|DIR (the base model)');
    const testSource = requireFlag(args, 'test', 'SRC (test records)');
    if (specs.length === 0) throw new TunekitError('E_FLAG', 'give at least one --system NAME=SPEC (zero-shot, few-shot:K, or a model/adapter/output folder)');
    const systems = specs.map(parseSystem);
    const seed = flagNumber(args, 'seed', { integer: true, min: 0 }) ?? 12345;
    const template = flagString(args, 'template');
    const test = await pairs(testSource, { template, split: flagString(args, 'test-split') ?? 'test', seed, limit: flagNumber(args, 'limit', { integer: true, min: 1 }) }, '--test');
    const needsPool = systems.some((system) => 'shots' in system && system.shots > 0);
    const fewshotPool = needsPool ? await pairs(flagString(args, 'fewshot-pool') ?? testSource, { template, split: flagString(args, 'fewshot-split') ?? 'train', seed }, '--fewshot-pool') : undefined;
    const metrics = flagString(args, 'metrics')?.split(',').map((name) => name.trim()) as evaluate.ComparisonMetric[] | undefined;
    const forgettingFile = flagString(args, 'forgetting');
    const forgetting = forgettingFile === undefined ? undefined : ((await report.readReport(forgettingFile)).forgetting ?? []);
    const bars = new Map<string, Progress>();
    const result = await evaluate.compareOnTestSet({
      base,
      systems,
      test,
      fewshotPool,
      baseline: flagString(args, 'baseline'),
      metrics,
      bootstrap: { samples: flagNumber(args, 'bootstrap-samples', { integer: true, min: 1 }), seed },
      maxNewTokens: flagNumber(args, 'max-new-tokens', { integer: true, min: 1 }),
      batchSize: flagNumber(args, 'batch-size', { integer: true, min: 1 }),
      title: flagString(args, 'title'),
      forgetting,
      onEvent: (event) => {
        if (event.type !== 'progress') return;
        let bar = bars.get(event.name);
        if (bar === undefined) bars.set(event.name, (bar = new Progress({ total: event.total, label: `decode ${event.name}`, unit: 'ex', json, stream: process.stderr })));
        bar.update(event.done);
        if (event.done >= event.total) bar.finish();
      },
    });
    const output = flagString(args, 'output');
    const files = output === undefined ? null : await report.writeReport(output, result);
    if (json) process.stdout.write(report.reportJson(result));
    else {
      process.stdout.write(report.renderMarkdown(result));
      if (files !== null) console.log(`\nreport: ${files.html}`);
    }
    return 0;
  },
};
