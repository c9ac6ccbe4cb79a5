import path from 'node:path';
import { cudaAvailable, demo, getNumThreads, setNumThreads, torchVersion, TunekitError, type DemoEvent, type DemoMethod, type DemoSystemResult, type report } from '../index.js';
import { Progress } from './progress.js';
import { flagBoolean, flagNumber, flagString, noExtraPositionals, parseArgs } from './args.js';
import type { Verb } from './verb.js';

const FLAGS = {
  model: 'value',
  dataset: 'value',
  template: 'value',
  methods: 'value',
  'train-size': 'value',
  'test-size': 'value',
  shots: 'value',
  steps: 'value',
  seed: 'value',
  output: 'value',
  device: 'value',
  nproc: 'value',
  threads: 'value',
  json: 'switch',
} as const;

type ForgettingRow = report.ForgettingRow;

const fixed = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(3));

function resultsTable(results: Record<string, DemoSystemResult>): string {
  const header = ['system', 'ROUGE-1', 'ROUGE-2', 'ROUGE-L', 'ROUGE-Lsum', 'BLEU', 'trainable', 'train s'];
  const rows = Object.entries(results).map(([name, r]) => [name, r.rouge1.toFixed(3), r.rouge2.toFixed(3), r.rougeL.toFixed(3), r.rougeLsum.toFixed(3), r.bleu.toFixed(1), String(r.trainable_parameters), r.train_seconds.toFixed(1)]);
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column].length)));
  return [header, ...rows].map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ')).join('\n');
}

export const demoVerb: Verb = {
  name: 'demo',
  summary: 'the whole story offline: pre-train a tiny base, prompt it, fine-tune it (full, LoRA, prompt tuning), compare, report',
  help: [
    'usage: tunekit demo [--methods full,lora,prompt_tuning] [--train-size N] [--output DIR] [--json]',
    '       tunekit demo --model google/flan-t5-small --dataset knkarthick/dialogsum',
    '',
    'Dialogue summarization told end to end, offline and in a few minutes on 2 cores: a small Llama that tunekit',
    'pre-trains on its own synthetic stories and conversations (cached after the first run), synthetic planning',
    'dialogues with rule-written summaries, a prompt template, a seeded train/validation/test split, zero- and',
    'few-shot prompting of the base, full fine-tuning, LoRA and prompt tuning, test ROUGE-1/2/L/Lsum and BLEU with',
    '95% bootstrap intervals and paired tests, catastrophic forgetting of the base task, the merged-LoRA check,',
    'and a report folder (report.html with plots, report.md, report.json) whose path is printed last.',
    '  --model ID|DIR      fine-tune this model instead of the demo base (a model folder or hub repo id)',
    '  --dataset SRC       {dialogue, summary} records (a JSONL/CSV/Parquet file, dataset folder or hub id)',
    '  --template T        a template file or bundled template name (default summarize_dialogue)',
    '  --methods LIST      comma-separated, from full, lora, qlora, prompt_tuning, ia3, adapter',
    '                      (default full,lora,prompt_tuning)',
    '  --train-size N      training examples (default 1200)',
    '  --test-size N       test examples (default 80)',
    '  --shots K           solved examples in the few-shot prompt (default 2)',
    '  --steps N           optimizer steps per method (default: one epoch at batch 8)',
    '  --seed S            seed of the data, the split and training (default 0)',
    '  --output DIR        the report folder (default ./tunekit-demo)',
    '  --device D          cpu (default); cuda is refused: the loops build batches on the CPU in this version',
    '  --nproc N           1: the demo trains in one process (data parallel training: tunekit train --nproc N)',
    '  --threads T         libtorch threads (default: 1 on machines with 2 cores or fewer, else the cores)',
    '  --json              JSON lines on stdout (the last: {"event":"done","report":…,"results":…})',
    '',
    'The base model is cached under $TUNEKIT_CACHE, else $XDG_CACHE_HOME/tunekit, else ~/.cache/tunekit.',
  ].join('\n'),
  async run(argv) {
    const args = parseArgs(argv, FLAGS);
    noExtraPositionals(args);
    const json = flagBoolean(args, 'json');
    const threads = flagNumber(args, 'threads', { integer: true, min: 1, max: 1024 });
    // Tiny models run fastest on one thread where there are few cores.
    setNumThreads(threads ?? (getNumThreads() <= 2 ? 1 : getNumThreads()));
    const device = flagString(args, 'device') ?? 'cpu';
    if (device !== 'cpu' && !/^cuda(:\d+)?$/.test(device)) throw new TunekitError('E_FLAG', `--device must be cpu or cuda[:N], got "${device}"`);
    if (device !== 'cpu' && !cudaAvailable()) throw new TunekitError('E_FLAG', `--device ${device}: this libtorch has no CUDA device (install a CUDA build of libtorch, see the README)`);
    // Models move to CUDA (loadModel's device), but the training and decoding loops still build batches on the CPU.
    if (device !== 'cpu') throw new TunekitError('E_FLAG', `--device ${device}: the demo's training and decoding loops build their batches on the CPU in this version, so they cannot drive a CUDA model yet`);
    const nproc = flagNumber(args, 'nproc', { integer: true, min: 1, max: 1024 }) ?? 1;
    if (nproc > 1) throw new TunekitError('E_FLAG', `--nproc ${nproc}: the demo trains its small model in one process; data parallel training is tunekit train --nproc N`);
    const methods = flagString(args, 'methods')?.split(',').map((name) => name.trim()) as DemoMethod[] | undefined;
    const output = path.resolve(flagString(args, 'output') ?? 'tunekit-demo');

    const emit = (record: object) => process.stdout.write(JSON.stringify(record) + '\n');
    const bars = new Map<string, Progress>();
    const onEvent = (event: DemoEvent) => {
      if (event.event === 'progress') {
        let bar = bars.get(event.stage);
        if (bar === undefined) {
          bar = new Progress({ total: event.total, label: event.stage, unit: event.stage.startsWith('generate') ? 'ex' : 'step', json, stream: process.stderr });
          bars.set(event.stage, bar);
        }
        bar.update(event.done, event.loss === undefined ? {} : { loss: Number(event.loss.toFixed(4)) });
        if (event.done >= event.total) bar.finish();
        return;
      }
      if (json) emit(event);
      else if (event.event === 'stage') {
        console.log(`[${event.stage}] ${event.message}`);
        if (event.stage === 'forgetting') for (const row of event.rows as ForgettingRow[]) console.log(`  ${row.system.padEnd(14)} ${`${row.task} ${row.metric}`.padEnd(44)} ${fixed(row.before)} → ${fixed(row.after)}  Δ ${fixed(row.delta.value)} [${fixed(row.delta.low)}, ${fixed(row.delta.high)}]`);
      }
    };
    if (json) emit({ event: 'start', torch: torchVersion(), threads: getNumThreads(), device });
    else console.log(`tunekit demo (libtorch ${torchVersion()}, ${getNumThreads()} thread${getNumThreads() === 1 ? '' : 's'}, ${device})`);
    const result = await demo.runDemo({
      model: flagString(args, 'model'),
      dataset: flagString(args, 'dataset'),
      template: flagString(args, 'template'),
      methods,
      trainSize: flagNumber(args, 'train-size', { integer: true, min: 2 }),
      testSize: flagNumber(args, 'test-size', { integer: true, min: 1 }),
      shots: flagNumber(args, 'shots', { integer: true, min: 0 }),
      steps: flagNumber(args, 'steps', { integer: true, min: 1 }),
      seed: flagNumber(args, 'seed', { integer: true, min: 0 }),
      device: device as 'cpu',
      outputDir: output,
      onEvent,
    });
    if (json) emit({ event: 'done', report: result.reportFile, results: result.results });
    else {
      console.log('');
      console.log(resultsTable(result.results));
      for (const check of result.report.checks ?? []) console.log(`${check.passed ? '✓' : '✗'} ${check.name}: ${check.detail}`);
      console.log(`\nreport: ${result.reportFile}`);
    }
    return result.checksPassed ? 0 : 1;
  },
};
