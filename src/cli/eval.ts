import path from 'node:path';
import { checkDestination, evaluate, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, requireFlag, type ParsedArgs } from './args.js';
import { adapterList, HOLISTIC_FLAGS, HOLISTIC_FLAGS_HELP, holisticFromFlags, holisticTable, runHolistic } from './eval-holistic.js';
import { ADAPTER_FLAG_HELP, ADAPTER_FLAGS, adapterFromFlags, loadModelFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const FLAGS = {
  ...MODEL_FLAGS,
  ...ADAPTER_FLAGS,
  tasks: 'value',
  'include-path': 'value',
  'data-files': 'value',
  'list-tasks': 'switch',
  'num-fewshot': 'value',
  limit: 'value',
  'batch-size': 'value',
  'max-length': 'value',
  'bootstrap-iters': 'value',
  'fewshot-seed': 'value',
  'output-path': 'value',
  'log-samples': 'switch',
  json: 'switch',
  ...HOLISTIC_FLAGS,
} as const;

/** --include-path: one folder, or several separated by commas. */
function includePaths(args: ParsedArgs): string[] {
  const value = flagString(args, 'include-path');
  return value === undefined ? [] : value.split(',').filter((part) => part !== '');
}

/** --data-files SPLIT=FILE[,SPLIT=FILE…]: local files every task reads instead of its dataset. */
function dataFiles(args: ParsedArgs): Record<string, string[]> | undefined {
  const value = flagString(args, 'data-files');
  if (value === undefined) return undefined;
  const bySplit: Record<string, string[]> = {};
  for (const part of value.split(',').filter((item) => item !== '')) {
    const match = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(part);
    if (match === null) throw new TunekitError('E_FLAG', `--data-files expects SPLIT=FILE entries separated by commas (e.g. test=test.jsonl), got "${part}"`);
    (bySplit[match[1]] ??= []).push(match[2]);
  }
  if (Object.keys(bySplit).length === 0) throw new TunekitError('E_FLAG', '--data-files needs at least one SPLIT=FILE');
  return bySplit;
}

function listTasks(args: ParsedArgs): number {
  const index = new evaluate.TaskIndex(includePaths(args));
  const entries = index.list();
  if (flagBoolean(args, 'json')) {
    console.log(JSON.stringify(entries.map(({ name, kind, file, members }) => ({ name, kind, file, members }))));
    return 0;
  }
  if (entries.length === 0) {
    console.log('no tasks found (give --include-path DIR with lm-eval task YAML files)');
    return 0;
  }
  for (const entry of entries) console.log(`${entry.kind.padEnd(5)}  ${entry.name}${entry.kind === 'task' ? `  ${entry.file}` : `  (${entry.members.join(', ')})`}`);
  return 0;
}

function formatValue(value: unknown): string {
  return typeof value === 'number' ? value.toFixed(4) : String(value);
}

/** lm-eval's results table (make_table), as Markdown. */
function resultsTable(results: evaluate.EvaluationResults): string {
  const lines = ['|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|', '|-----|------:|------|-----:|------|---|----:|---|-----:|'];
  for (const [task, metrics] of Object.entries(results.results)) {
    let first = true;
    for (const [key, value] of Object.entries(metrics)) {
      if (!key.includes(',') || key.includes('_stderr,')) continue;
      const [metric, filter] = key.split(',');
      const stderr = metrics[`${metric}_stderr,${filter}`];
      const better = results.higher_is_better[task]?.[metric] === false ? '↓' : '↑';
      const name = first ? String(metrics.alias ?? task) : '';
      const version = first ? String(results.versions[task]) : '';
      const shots = first ? String(results['n-shot'][task]) : '';
      lines.push(`|${name}|${version}|${filter}|${shots}|${metric}|${better}|${formatValue(value)}|±|${formatValue(stderr)}|`);
      first = false;
    }
  }
  return lines.join('\n');
}

function progressReporter(json: boolean): (event: evaluate.EvaluateEvent) => void {
  const bars = new Map<string, Progress>();
  return (event) => {
    if (event.type === 'requests') {
      if (json) process.stderr.write(JSON.stringify({ event: 'task', ...event }) + '\n');
      else process.stderr.write(`${event.task}: ${event.documents} documents, ${event.requests} requests, ${event.numFewshot}-shot\n`);
    } else if (event.type === 'progress') {
      let bar = bars.get(event.kind);
      if (bar === undefined) {
        bar = new Progress({ total: event.total, label: event.kind, unit: 'req', json, stream: process.stderr });
        bars.set(event.kind, bar);
      }
      bar.update(event.done);
      if (event.done >= event.total) bar.finish();
    }
  };
}

export const evalVerb: Verb = {
  name: 'eval',
  summary: 'evaluate a model on lm-evaluation-harness tasks (its task YAML, its numbers, its results layout)',
  help: [
    'usage: tunekit eval --model ID|DIR --tasks t1,t2|FILE.yaml|TASK.json [--include-path DIR] [options]',
    '       tunekit eval --model ID|DIR --tasks LIST --holistic [--adapter A1,A2] [--perturbations LIST] [options]',
    '       tunekit eval --list-tasks [--include-path DIR]',
    '',
    'Runs lm-evaluation-harness tasks as its hf backend does: the same prompts, few-shot examples, log-likelihoods,',
    'generations, metrics and standard errors. Tasks are lm-eval task YAML files (include:, Jinja doc_to_text /',
    'doc_to_target / doc_to_choice with lm-eval\'s regex_replace filter, metric_list, filter_list, generation_kwargs);',
    '!function entries are refused. Bundled tasks (lm-eval\'s prompts and metrics): mmlu (57 subjects, 4 category',
    'groups), boolq cb copa multirc record sglue_rte wic wsc (tag super-glue-lm-eval-v1), cola mnli mnli_mismatch mrpc',
    'qnli qqp rte sst2 wnli (tag glue), hellaswag, arc_easy arc_challenge, gsm8k, and dialogsum samsum (ROUGE). A BIG-bench',
    'task.json (FILE.json, or FILE.json#multiple_choice / #generate_until) runs as lm-eval\'s bigbench tasks do.',
    ...MODEL_FLAGS_HELP,
    ADAPTER_FLAG_HELP,
    '  --tasks LIST           comma-separated task, tag or group names (bundled or from --include-path), .yaml task',
    '                         files, or BIG-bench task.json files',
    '  --include-path DIR     folder(s) of task YAML, searched recursively (comma-separated for several); their names',
    '                         win over bundled ones',
    '  --data-files S=F,...   read split S from local file F (.json/.jsonl, .csv, .parquet) instead of each task\'s',
    '                         dataset, e.g. --tasks gsm8k --data-files test=gsm8k/test.jsonl,train=gsm8k/train.jsonl',
    '  --list-tasks           list the bundled tasks, tags and groups and those of --include-path',
    '  --num-fewshot K        few-shot examples per prompt (overrides the tasks\' num_fewshot, except a fixed 0)',
    '  --limit N              evaluate the first N documents of each task (a number below 1: that share)',
    '  --batch-size B         requests per forward pass (default 1)',
    '  --max-length L         context length for requests (default: from config.json, as lm-eval reads it)',
    '  --bootstrap-iters N    bootstrap resamples for perplexity-like standard errors (default 100000; 0: none)',
    '  --fewshot-seed S       seed of the few-shot sampler (default 1234, as lm-eval)',
    '  --output-path DIR      write DIR/<model>/results_<date>.json (and samples_<task>_<date>.jsonl with --log-samples)',
    '  --log-samples          keep per-document samples (prompt, continuations, log-likelihoods or generation, metrics)',
    '  --json                 print the results JSON (lm-eval\'s layout) instead of the table; progress as JSON lines',
    ...HOLISTIC_FLAGS_HELP,
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, FLAGS);
    noExtraPositionals(args);
    if (flagBoolean(args, 'list-tasks')) return listTasks(args);
    const json = flagBoolean(args, 'json');
    const tasks = requireFlag(args, 'tasks', 'LIST (task names or .yaml files)').split(',').map((name) => name.trim()).filter((name) => name !== '');
    if (tasks.length === 0) throw new TunekitError('E_FLAG', '--tasks needs at least one task name');
    const numFewshot = flagNumber(args, 'num-fewshot', { integer: true, min: 0, max: 10_000 });
    const limit = flagNumber(args, 'limit', { min: 0, exclusiveMin: true });
    if (limit !== undefined && limit >= 1 && !Number.isInteger(limit)) throw new TunekitError('E_FLAG', `--limit expects a whole number of documents or a share below 1, got ${limit}`);
    const batchSize = flagNumber(args, 'batch-size', { integer: true, min: 1, max: 65_536 });
    const maxLength = flagNumber(args, 'max-length', { integer: true, min: 2 });
    const bootstrapIterations = flagNumber(args, 'bootstrap-iters', { integer: true, min: 0, max: 10_000_000 });
    const fewshotSeed = flagNumber(args, 'fewshot-seed', { integer: true, min: 0 });
    const outputPath = flagString(args, 'output-path');
    const data = dataFiles(args);
    const logSamples = flagBoolean(args, 'log-samples');
    if (logSamples && outputPath === undefined && !json) throw new TunekitError('E_FLAG', '--log-samples needs --output-path DIR (or --json, which prints the samples with the results)');
    const modelId = requireFlag(args, 'model', 'ID|DIR (a model folder or a hub repo id)');
    const holistic = holisticFromFlags(args);
    const adapters = adapterList(args, holistic);
    const adapter = adapters[0];
    if (outputPath !== undefined) checkDestination(outputPath, { kind: 'directory', overwrite: true, inputs: [modelId, ...adapters] });
    const startTime = performance.now();
    const date = Date.now() / 1000;
    const loaded = await loadModelFromFlags(args, { json });
    try {
      const options = {
        includePaths: includePaths(args),
        dataFiles: data,
        numFewshot,
        limit,
        batchSize,
        maxLength,
        bootstrapIterations,
        fewshotSeed,
        logSamples,
        generationConfig: loaded.generationConfig,
        onEvent: progressReporter(json),
      };
      let view: evaluate.HolisticView | undefined;
      let results: evaluate.EvaluationResults;
      if (holistic !== null) {
        // Each run (system, task, perturbation) gets its own progress bars.
        let reporter = progressReporter(json);
        const onEvent = (event: evaluate.HolisticEvent) => {
          if (event.type !== 'holistic-run') return reporter(event);
          reporter = progressReporter(json);
          const what = { system: event.system, task: event.task, perturbation: event.perturbation };
          process.stderr.write(json ? JSON.stringify({ event: 'holistic-run', ...what }) + '\n' : `holistic: ${event.system} on ${event.task}${event.perturbation === null ? '' : ` (${event.perturbation})`}\n`);
        };
        ({ results, holistic: view } = await runHolistic(holistic, loaded, adapters, tasks, { ...options, onEvent }));
      } else {
        const peft = await adapterFromFlags(args, loaded);
        results = await evaluate.runEvaluation(peft ?? loaded.model, loaded.tokenizer, tasks, options);
      }
      const holisticKey = view === undefined ? {} : { holistic: view };
      if (outputPath !== undefined) {
        const modelArgs = `pretrained=${modelId}${adapter === undefined ? '' : `,peft=${adapter}`}`;
        const config = { model: 'hf', model_args: modelArgs, batch_size: batchSize ?? 1, limit: limit ?? null, bootstrap_iters: bootstrapIterations ?? 100000, fewshot_seed: fewshotSeed ?? 1234 };
        const timing = { date, total_evaluation_time_seconds: String((performance.now() - startTime) / 1000) };
        const files = await evaluate.writeEvaluationOutput(outputPath, modelId, results, { config, ...timing, ...holisticKey });
        const written = [files.results, ...files.samples].map((file) => path.relative(process.cwd(), file) || file);
        if (!json) console.error(`wrote ${written.join(', ')}`);
      }
      if (json) console.log(JSON.stringify({ ...results, ...holisticKey }, null, 2));
      else console.log(resultsTable(results) + (view === undefined ? '' : `\n\n${holisticTable(view)}`));
      return 0;
    } finally {
      loaded.model.dispose();
    }
  },
};
