/**
 * Evaluation throughput, tunekit eval vs lm-evaluation-harness's hf backend (same model, task and settings, same
 * run): a multiple-choice task written here (4 choices, 5-shot by default) on stories260K or --model DIR.
 * Prints one JSON line with documents/s of each and `ratio` (tunekit ÷ lm-eval), plus tunekit without shared
 * contexts (every choice re-reads the prompt, as lm-eval does), and checks both give the same acc.
 *
 *   npm run bench:eval -- --json [--model DIR] [--threads N] [--shots K] [--documents N] [--repeats R] [--batch-size B]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as evaluate from '../src/evaluate/index.js';
import { loadModel } from '../src/models/load.js';
import { defaultNumThreads, getNumThreads, setNumThreads, torchVersion } from '../src/torch/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const model = String(flags.get('model') ?? path.join(root, '..', 'shared', 'reference', 'models', 'stories260K'));
const threads = Number(flags.get('threads') ?? defaultNumThreads());
const shots = Number(flags.get('shots') ?? 5);
const documents = Number(flags.get('documents') ?? 40);
const repeats = Number(flags.get('repeats') ?? 3);
const batchSize = Number(flags.get('batch-size') ?? 1);
const python = process.env.PYTHON ?? 'python3';
const peer = path.join(root, 'bench', 'peer', 'lm_eval_bench.py');

const names = ['Lily', 'Tom', 'Ben', 'Mia', 'Sue', 'Max', 'Anna', 'Tim'];
const places = ['park', 'beach', 'forest', 'garden', 'store', 'school'];
const things = ['ball', 'kite', 'cake', 'dog', 'tree', 'boat', 'hat', 'book'];
function record(i: number) {
  const name = names[i % names.length];
  const place = places[(i * 7) % places.length];
  const choices = [0, 1, 2, 3].map((k) => things[(i * 3 + k) % things.length]);
  return { story: `One day, ${name} went to the ${place} with a friend. They looked around and saw a big`, choices, label: i % 4 };
}

const folder = mkdtempSync(path.join(tmpdir(), 'tunekit-bench-eval-'));
const jsonl = (from: number, count: number) => Array.from({ length: count }, (_, i) => JSON.stringify(record(from + i))).join('\n') + '\n';
writeFileSync(path.join(folder, 'train.jsonl'), jsonl(1000, 20));
writeFileSync(path.join(folder, 'test.jsonl'), jsonl(0, documents));
writeFileSync(
  path.join(folder, 'bench_mc.yaml'),
  ['task: bench_mc', 'dataset_path: json', `dataset_kwargs: {data_files: {train: ${path.join(folder, 'train.jsonl')}, test: ${path.join(folder, 'test.jsonl')}}}`,
    'training_split: train', 'test_split: test', 'output_type: multiple_choice', 'doc_to_text: "{{story}}"', 'doc_to_choice: choices', 'doc_to_target: label'].join('\n') + '\n',
);

setNumThreads(threads);
const { model: lm, tokenizer } = await loadModel(model);

async function measure(shareContexts: boolean): Promise<{ rate: number; acc: number }> {
  const rates: number[] = [];
  let acc = 0;
  for (let run = 0; run <= repeats; run++) {
    const start = performance.now();
    const results = await evaluate.runEvaluation(lm, tokenizer, ['bench_mc'], { includePaths: [folder], numFewshot: shots, bootstrapIterations: 0, batchSize, shareContexts });
    const seconds = (performance.now() - start) / 1000;
    if (run > 0) rates.push(documents / seconds);
    acc = results.results.bench_mc['acc,none'] as number;
  }
  return { rate: rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)], acc };
}

const shared = await measure(true);
const unshared = await measure(false);
const hasPeer = spawnSync(python, ['-c', 'import lm_eval, torch, transformers, datasets'], { stdio: 'ignore' }).status === 0;
let theirs: { docs_per_s: number; acc: number; lm_eval: string } | null = null;
if (hasPeer) {
  const spec = { model, tasks_dir: folder, task: 'bench_mc', num_fewshot: shots, threads, repeats, batch_size: batchSize };
  theirs = JSON.parse(execFileSync(python, [peer, JSON.stringify(spec)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop() as string);
}
rmSync(folder, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: 'eval',
    model: path.basename(model),
    task: `multiple_choice, 4 choices, ${shots}-shot, ${documents} documents`,
    batchSize,
    repeats,
    threads: getNumThreads(),
    libtorch: torchVersion(),
    tunekit_docs_per_s: Number(shared.rate.toFixed(2)),
    tunekit_unshared_docs_per_s: Number(unshared.rate.toFixed(2)),
    lm_eval_docs_per_s: theirs === null ? null : Number(theirs.docs_per_s.toFixed(2)),
    ratio: theirs === null ? null : Number((shared.rate / theirs.docs_per_s).toFixed(3)),
    same_acc: theirs === null ? null : theirs.acc === shared.acc && shared.acc === unshared.acc,
    note: theirs === null ? `${python} lacks lm_eval (pip install --no-deps lm-eval): the lm-eval side is skipped` : undefined,
  }),
);
