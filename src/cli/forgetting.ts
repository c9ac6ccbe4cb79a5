import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkDestination, evaluate, loadModel, PeftModel, type DType, type report, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, requireFlag, takeRepeatedFlags, type ParsedArgs } from './args.js';
import { threadsFromFlags } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const FLAGS = {
  base: 'value',
  revision: 'value',
  dtype: 'value',
  threads: 'value',
  tasks: 'value',
  'include-path': 'value',
  text: 'value',
  limit: 'value',
  'num-fewshot': 'value',
  'fewshot-seed': 'value',
  'batch-size': 'value',
  'max-length': 'value',
  'bootstrap-samples': 'value',
  confidence: 'value',
  seed: 'value',
  output: 'value',
  json: 'switch',
} as const;

/** The flags that may repeat, one tuned system each, in the order given. */
const SYSTEM_FLAGS = ['tuned', 'adapter'] as const;

interface TunedSpec {
  kind: (typeof SYSTEM_FLAGS)[number];
  name: string;
  source: string;
}

/** Takes every --tuned / --adapter out of argv (they may repeat); the rest is parsed strictly. */
function takeSystems(argv: string[]): { rest: string[]; specs: TunedSpec[] } {
  const { rest, taken } = takeRepeatedFlags(argv, SYSTEM_FLAGS);
  return { rest, specs: taken.map(({ flag, value }) => ({ kind: flag as TunedSpec['kind'], ...systemName(value) })) };
}

/** NAME=DIR names a system; a bare DIR (or hub id) is named by its last path part. */
function systemName(value: string): { name: string; source: string } {
  const named = /^([A-Za-z0-9_.+-]+)=(.+)$/.exec(value);
  if (named !== null && !existsSync(value)) return { name: named[1], source: named[2] };
  return { name: path.basename(value.replace(/[\\/]+$/, '')) || value, source: value };
}

function includePaths(args: ParsedArgs): string[] {
  const value = flagString(args, 'include-path');
  return value === undefined ? [] : value.split(',').filter((part) => part !== '');
}

const fixed = (value: number) => (Number.isFinite(value) ? value.toFixed(4) : String(value));

/** system × task: before, after, delta [low, high]. */
export function forgettingTable(rows: readonly report.ForgettingRow[]): string {
  const lines = ['|System|Task|Metric| |Before|After|Delta|95% interval|Documents|', '|------|----|------|---|-----:|----:|----:|------------|--------:|'];
  for (const row of rows) {
    const sign = row.delta.value > 0 ? '+' : '';
    lines.push(`|${row.system}|${row.task}|${row.metric}|${row.higherIsBetter ? '↑' : '↓'}|${fixed(row.before)}|${fixed(row.after)}|${sign}${fixed(row.delta.value)}|[${fixed(row.delta.low)}, ${fixed(row.delta.high)}]|${row.documents}|`);
  }
  return lines.join('\n');
}

function progressReporter(json: boolean): (event: evaluate.ForgettingEvent) => void {
  let bar: Progress | undefined;
  const bars = (label: string, done: number, total: number) => {
    if (bar === undefined) bar = new Progress({ total, label, unit: 'req', json, stream: process.stderr });
    bar.update(done);
    if (done >= total) {
      bar.finish();
      bar = undefined;
    }
  };
  return (event) => {
    if (event.type === 'system') {
      if (json) process.stderr.write(JSON.stringify({ event: 'system', system: event.system, index: event.index, systems: event.systems }) + '\n');
      else process.stderr.write(`scoring ${event.system} (${event.index + 1}/${event.systems})\n`);
    } else if (event.type === 'evaluate' && event.event.type === 'progress') bars(`${event.system} ${event.event.kind}`, event.event.done, event.event.total);
    else if (event.type === 'text-progress') bars(`${event.system} general text`, event.done, event.total);
  };
}

export const forgettingVerb: Verb = {
  name: 'forgetting',
  summary: 'measure catastrophic forgetting: held-out tasks and general-text perplexity before and after fine-tuning, with paired bootstrap intervals',
  help: [
    'usage: tunekit forgetting --base ID|DIR (--tuned [NAME=]DIR | --adapter [NAME=]DIR)... --tasks t1,t2 [options]',
    '',
    'Scores the base model and each tuned system on the same documents of held-out lm-eval tasks (same prompts, same',
    'few-shot examples) and, with --text, the perplexity of general text; reports each change after − before with a',
    'paired bootstrap interval over documents. A task is scored by its first metric (e.g. acc), aggregated as the task',
    'aggregates it; general text gives word_perplexity and bits_per_byte (lower is better) from rolling log-likelihoods.',
    '  --base ID|DIR            the model before fine-tuning (folder or hub repo id)',
    '  --tuned [NAME=]DIR       a fine-tuned model folder (full fine-tuning); repeatable',
    '  --adapter [NAME=]DIR     a PEFT adapter folder on the base; repeatable (e.g. --tuned full=out-full --adapter lora=out-lora)',
    '                           systems are named by NAME, else by the folder\'s name',
    '  --tasks LIST             comma-separated task, tag or group names from --include-path, or .yaml task files',
    '  --include-path DIR       folder(s) of task YAML, searched recursively (comma-separated for several)',
    '  --text FILE              general text: .jsonl records with "text", a .json list, or plain text in paragraphs',
    '                           separated by blank lines (one document per line when there is no blank line)',
    '  --limit N                the first N documents of each task and of the text',
    '  --num-fewshot K          few-shot examples per prompt (overrides the tasks\' num_fewshot, except a fixed 0)',
    '  --fewshot-seed S         seed of the few-shot sampler (default 1234, as lm-eval)',
    '  --batch-size B           requests per forward pass (default 1)',
    '  --max-length L           context length for requests (default: from config.json, as lm-eval reads it)',
    '  --bootstrap-samples N    paired bootstrap resamples over documents (default 1000)',
    '  --confidence C           interval width (default 0.95)',
    '  --seed S                 bootstrap seed (default 12345)',
    '  --output DIR             write DIR/report.json (a comparison report: one system per model, forgetting rows)',
    '  --json                   print the forgetting rows as JSON instead of the table; progress as JSON lines',
    '  --revision REV           hub revision of --base',
    '  --dtype D                float32 or bfloat16 (default: the checkpoint\'s)',
    '  --threads T              libtorch threads',
  ].join('\n'),
  async run(argv) {
    const { rest, specs } = takeSystems(argv);
    const args = parseArgs(rest, FLAGS);
    noExtraPositionals(args);
    threadsFromFlags(args);
    const json = flagBoolean(args, 'json');
    const baseId = requireFlag(args, 'base', 'ID|DIR (the model before fine-tuning)');
    if (specs.length === 0) throw new TunekitError('E_FLAG', 'give at least one tuned system: --tuned DIR (a fine-tuned model) or --adapter DIR (a PEFT adapter on --base)');
    const tasks = (flagString(args, 'tasks') ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '');
    const textFile = flagString(args, 'text');
    if (tasks.length === 0 && textFile === undefined) throw new TunekitError('E_FLAG', '--tasks LIST (held-out tasks) or --text FILE (general text) is required');
    const limit = flagNumber(args, 'limit', { integer: true, min: 1 });
    const dtype = flagString(args, 'dtype');
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'bfloat16') throw new TunekitError('E_FLAG', `--dtype must be float32 or bfloat16, got "${dtype}"`);
    const options: evaluate.ForgettingOptions = {
      includePaths: includePaths(args),
      limit,
      textLimit: limit,
      numFewshot: flagNumber(args, 'num-fewshot', { integer: true, min: 0, max: 10_000 }),
      fewshotSeed: flagNumber(args, 'fewshot-seed', { integer: true, min: 0 }),
      batchSize: flagNumber(args, 'batch-size', { integer: true, min: 1, max: 65_536 }),
      maxLength: flagNumber(args, 'max-length', { integer: true, min: 2 }),
      samples: flagNumber(args, 'bootstrap-samples', { integer: true, min: 1, max: 10_000_000 }),
      confidence: flagNumber(args, 'confidence', { min: 0, exclusiveMin: true, max: 0.999999 }),
      seed: flagNumber(args, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 }),
      onEvent: progressReporter(json),
    };
    const output = flagString(args, 'output');
    if (output !== undefined) checkDestination(output, { kind: 'directory', overwrite: true, inputs: [baseId, ...specs.map((spec) => spec.source)] });
    const generalText = textFile === undefined ? undefined : await evaluate.readGeneralText(textFile);
    const loadOptions = { dtype: dtype as DType | undefined, hub: { revision: flagString(args, 'revision') } };
    const base = await loadModel(baseId, loadOptions);
    try {
      const tuned: evaluate.ForgettingSystem[] = specs.map((spec) => ({
        name: spec.name,
        label: spec.name,
        load:
          spec.kind === 'tuned'
            ? async () => loadModel(spec.source, { dtype: loadOptions.dtype })
            : async () => {
                // A fresh base for each adapter: wrapping adds the adapter's layers to the base model itself.
                const fresh = await loadModel(baseId, loadOptions);
                return { model: await PeftModel.fromPretrained(fresh.model, spec.source, { onWarning: (message) => console.error(`tunekit: warning: ${message}`) }), tokenizer: fresh.tokenizer };
              },
        details: { [spec.kind === 'tuned' ? 'model' : 'adapter']: spec.source },
      }));
      const result = await evaluate.forgettingReport({ base: { model: base.model, tokenizer: base.tokenizer, name: 'base' }, tuned, tasks, generalText, options });
      result.notes = [`base: ${baseId}`, ...(result.notes ?? [])];
      if (output !== undefined) {
        const written = await evaluate.saveComparisonReport(output, result);
        if (!json) console.error(`wrote ${written.map((file) => path.relative(process.cwd(), file) || file).join(', ')}`);
      }
      if (json) console.log(JSON.stringify(result.forgetting, null, 2));
      else console.log(forgettingTable(result.forgetting ?? []));
      return 0;
    } finally {
      base.model.dispose();
    }
  },
};
