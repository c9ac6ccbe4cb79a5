import path from 'node:path';
import { evaluate, readRunConfigFile, type report, TunekitError } from '../index.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs, requireFlag } from './args.js';
import { threadsFromFlags } from './model-options.js';
import { Progress } from './progress.js';
import type { Verb } from './verb.js';

const FLAGS = {
  config: 'value',
  vary: 'value',
  output: 'value',
  test: 'value',
  'test-split': 'value',
  limit: 'value',
  'max-new-tokens': 'value',
  'batch-size': 'value',
  'num-beams': 'value',
  metrics: 'value',
  'bootstrap-samples': 'value',
  seed: 'value',
  overwrite: 'switch',
  json: 'switch',
  threads: 'value',
} as const;

const fixed = (value: number) => value.toFixed(4);

/** One row per run: each metric with its interval, the paired difference against the first run, parameters, seconds. */
function sweepTable(result: report.ComparisonReport): string {
  const header = ['Run', ...result.metrics.flatMap((metric) => [metric, `Δ ${metric} [interval]`]), 'Trainable', 'Train s', 'Final loss'];
  const lines = [`|${header.join('|')}|`, `|${header.map(() => '---').join('|')}|`];
  for (const system of result.systems) {
    const cells = [system.name];
    for (const metric of result.metrics) {
      const score = system.metrics[metric];
      cells.push(`${fixed(score.value)} [${fixed(score.low)}, ${fixed(score.high)}]`);
      const paired = system.significance?.[metric];
      cells.push(paired === undefined ? '(baseline)' : `${paired.difference > 0 ? '+' : ''}${fixed(paired.difference)} [${fixed(paired.low)}, ${fixed(paired.high)}] p=${paired.pValue.toFixed(3)}`);
    }
    cells.push(system.trainableParameters?.toLocaleString('en-US') ?? '', system.trainSeconds?.toFixed(1) ?? '', system.loss?.train.at(-1)?.[1].toFixed(4) ?? '');
    lines.push(`|${cells.join('|')}|`);
  }
  return lines.join('\n');
}

function progressReporter(json: boolean): (event: evaluate.SweepEvent) => void {
  let bar: Progress | undefined;
  return (event) => {
    if (event.type === 'run') {
      if (json) process.stderr.write(JSON.stringify({ event: 'run', index: event.index, runs: event.runs, name: event.name, output_dir: event.outputDir }) + '\n');
      else process.stderr.write(`run ${event.index + 1}/${event.runs}: ${event.name} → ${event.outputDir}\n`);
    } else if (event.type === 'train-start') {
      bar = new Progress({ total: event.maxSteps, label: `${event.name} train`, json, stream: process.stderr });
    } else if (event.type === 'train' && event.event.event === 'step') {
      bar?.update(event.event.step, { loss: Number(event.event.loss.toFixed(4)) });
    } else if (event.type === 'generate') {
      if (bar !== undefined) {
        bar.finish();
        bar = undefined;
      }
      if (event.done >= event.total) process.stderr.write(json ? JSON.stringify({ event: 'generated', name: event.name, prompts: event.total }) + '\n' : `${event.name}: decoded ${event.total} test prompts\n`);
    }
  };
}

export const sweepVerb: Verb = {
  name: 'sweep',
  summary: 'train one run per value of one setting (LoRA rank, virtual tokens, training-set size, model size…) and compare them on one test set',
  help: [
    'usage: tunekit sweep --config base.yaml --vary KEY=V1,V2,... [--output DIR] [--test FILE | --test-split test|validation] [options]',
    '',
    'Each value of KEY is one run of the base config (a `tunekit train` config) with KEY set to it, in its own',
    'output_dir (DIR/runs/NN-VALUE/). Every run is trained, then decodes the same test prompts (greedy); the runs end in',
    'one comparison report (DIR/report.json): one system per value, the first value the baseline, each metric with its',
    'bootstrap interval and paired difference against the baseline, trainable parameters, train seconds, artifact',
    'bytes and loss curves. A config with forgetting_tasks also measures forgetting for each run.',
    '  --vary KEY=V1,V2,...     any run-config key (unknown keys are refused as `tunekit train` refuses them), dotted',
    '                           for a nested one: r=1,2,4,8,16,32  num_virtual_tokens=10,50,100',
    '                           max_train_samples=100,500,1000  model=DIR1,DIR2 (a family)  target_modules=[q_proj],[q_proj,v_proj]',
    '                           values are read as YAML (numbers, lists, null)',
    '  --output DIR             the sweep\'s folder (default: sweep-KEY)',
    '  --test FILE              test records (prompt/completion, rendered with the config\'s template); default: the',
    '  --test-split S           config\'s own test set (test_dataset, or the test part of split); or its validation set',
    '  --limit N                decode the first N test prompts',
    '  --max-new-tokens N       new tokens per prompt (default: generation_max_length, else 64)',
    '  --batch-size B           prompts decoded together (default 8)',
    '  --num-beams N            beam search (default: generation_num_beams, else greedy)',
    `  --metrics LIST           of ${evaluate.COMPARISON_METRICS.join(', ')} (default ${evaluate.DEFAULT_COMPARISON_METRICS.join(',')})`,
    '  --bootstrap-samples N    bootstrap resamples over test documents (default 1000)',
    '  --seed S                 bootstrap seed (default 12345)',
    '  --overwrite              replace runs already in the sweep\'s folder (overwrite_output_dir for every run)',
    '  --json                   print the report JSON; progress as JSON lines on stderr',
    '  --threads T              libtorch threads',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, FLAGS);
    noExtraPositionals(args);
    threadsFromFlags(args);
    const json = flagBoolean(args, 'json');
    const configFile = requireFlag(args, 'config', 'FILE (the base run config)');
    const variation = evaluate.parseVariation(requireFlag(args, 'vary', 'KEY=V1,V2,... (the setting to vary and its values)'));
    const testFile = flagString(args, 'test');
    const testSplit = flagString(args, 'test-split');
    if (testSplit !== undefined && testFile === undefined && testSplit !== 'test' && testSplit !== 'validation') throw new TunekitError('E_FLAG', `--test-split must be test or validation (the config's own sets), got "${testSplit}"`);
    const test: evaluate.SweepTestSource | undefined = testFile !== undefined ? { file: testFile, split: testSplit } : testSplit !== undefined ? { split: testSplit as 'test' | 'validation' } : undefined;
    const metricNames = flagString(args, 'metrics')?.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const output = flagString(args, 'output') ?? `sweep-${variation.key.replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
    const bootstrap = { samples: flagNumber(args, 'bootstrap-samples', { integer: true, min: 1, max: 10_000_000 }), seed: flagNumber(args, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 }) };
    const result = await evaluate.runSweep(readRunConfigFile(configFile), configFile, variation, {
      outputDir: output,
      test,
      limit: flagNumber(args, 'limit', { integer: true, min: 1 }),
      generation: {
        maxNewTokens: flagNumber(args, 'max-new-tokens', { integer: true, min: 1, max: 65_536 }),
        batchSize: flagNumber(args, 'batch-size', { integer: true, min: 1, max: 65_536 }),
        numBeams: flagNumber(args, 'num-beams', { integer: true, min: 1, max: 256 }),
      },
      metrics: metricNames as evaluate.ComparisonMetric[] | undefined,
      bootstrap,
      overwrite: flagBoolean(args, 'overwrite'),
      onEvent: progressReporter(json),
    });
    if (json) console.log(JSON.stringify(result.report, null, 2));
    else {
      console.log(sweepTable(result.report));
      console.error(`wrote ${result.reportFiles.map((file) => path.relative(process.cwd(), file) || file).join(', ')}`);
    }
    return 0;
  },
};
