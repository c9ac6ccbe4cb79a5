/**
 * Metric throughput: ROUGE (rouge1, rouge2, rougeL, rougeLsum with the Porter stemmer) and corpus BLEU on 10,000
 * DialogSum-sized pairs, against the Python reference run on the same pairs in the same session when a Python
 * with sacrebleu (and rouge_score, or NLTK for a labelled stand-in) is importable. ratio = ours ÷ Python.
 *
 * usage: npm run bench:metrics -- [--json] [--pairs N] [--repeats R] [--python PATH]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flagBoolean, flagNumber, flagString, parseArgs } from '../src/cli/args.js';
import { BLEU, RougeScorer, SeededRandom } from '../src/metrics/index.js';

const args = parseArgs(process.argv.slice(2), { json: 'switch', pairs: 'value', repeats: 'value', python: 'value' });
const json = flagBoolean(args, 'json');
const pairCount = flagNumber(args, 'pairs', { integer: true, min: 1 }) ?? 10_000;
const repeats = flagNumber(args, 'repeats', { integer: true, min: 1 }) ?? 3;
const python = flagString(args, 'python') ?? process.env.PYTHON ?? 'python3';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const repoRoot = findRepoRoot();
const sharedDir = process.env.TUNEKIT_SHARED ?? path.resolve(repoRoot, '..', 'shared');
const dialogsumDir = path.join(sharedDir, 'data', 'dialogsum');

function emit(record: Record<string, unknown>): void {
  if (json) console.log(JSON.stringify(record));
  else console.log(Object.entries(record).map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`).join(' '));
}

/** Summaries from DialogSum; each becomes a reference, and a seeded edit of it (or of another summary of the same dialogue) the prediction. */
function buildPairs(count: number): [string, string][] | null {
  if (!existsSync(dialogsumDir)) return null;
  const summaries: string[][] = [];
  for (const file of ['train.jsonl', 'validation.jsonl', 'test.jsonl']) {
    const full = path.join(dialogsumDir, file);
    if (!existsSync(full)) continue;
    for (const line of readFileSync(full, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      const texts = ['summary', 'summary1', 'summary2', 'summary3']
        .map((key) => record[key])
        .filter((value): value is string => typeof value === 'string');
      if (texts.length > 0) summaries.push(texts);
    }
  }
  if (summaries.length === 0) return null;
  const random = new SeededRandom(2024);
  const pairs: [string, string][] = [];
  for (let index = 0; index < count; index++) {
    const texts = summaries[index % summaries.length];
    const reference = texts[0];
    const source = texts.length > 1 ? texts[1 + random.nextInt(texts.length - 1)] : reference;
    const words = source.split(' ');
    const edited: string[] = [];
    for (const word of words) {
      const roll = random.nextInt(100);
      if (roll < 10) continue; // drop
      if (roll < 15) edited.push(summaries[random.nextInt(summaries.length)][0].split(' ')[0]); // substitute
      else edited.push(word);
      if (roll >= 95) edited.push(words[random.nextInt(words.length)]); // insert
    }
    pairs.push([edited.join(' '), reference]);
  }
  return pairs;
}

function bestSeconds(run: () => void): number {
  run(); // warm-up: JIT
  let best = Infinity;
  for (let repeat = 0; repeat < repeats; repeat++) {
    const start = performance.now();
    run();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return best;
}

interface PeerResult {
  python?: string;
  bleu?: { implementation?: string; pairs_per_second?: number; skipped?: string };
  rouge?: { implementation?: string; pairs_per_second?: number; skipped?: string };
  bleu_score?: number;
  rougeL_mean_f?: number;
}

function runPythonPeer(file: string, which: 'bleu' | 'rouge'): PeerResult | { skipped: string } {
  const run = spawnSync(python, [path.join(repoRoot, 'bench', 'metrics_peer.py'), file, String(repeats), which], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) return { skipped: `python peer failed: ${run.stderr.trim().split('\n').pop()}` };
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as PeerResult;
}

function main(): void {
  const pairs = buildPairs(pairCount);
  if (pairs === null) {
    emit({ bench: 'metrics', skipped: `DialogSum not found at ${dialogsumDir}` });
    return;
  }
  const predictions = pairs.map(([prediction]) => prediction);
  const references = pairs.map(([, reference]) => [reference]);
  const averageWords = pairs.reduce((sum, [p, r]) => sum + p.split(' ').length + r.split(' ').length, 0) / (2 * pairs.length);

  let rougeLMean = 0;
  const measureRouge = () =>
    bestSeconds(() => {
      const scorer = new RougeScorer({ useStemmer: true }); // fresh stem cache each run
      let total = 0;
      for (const [prediction, reference] of pairs) total += scorer.score(prediction, reference).rougeL.fmeasure;
      rougeLMean = total / pairs.length;
    });
  let bleuScore = 0;
  const measureBleu = () =>
    bestSeconds(() => {
      bleuScore = new BLEU().corpusScore(predictions, references).score;
    });

  const record: Record<string, unknown> = {
    bench: 'metrics',
    pairs: pairs.length,
    average_words: Number(averageWords.toFixed(1)),
    threads: 1,
    node: process.version,
    repeats,
  };
  const probe = spawnSync(python, ['-c', 'import sacrebleu'], { encoding: 'utf8' });
  const havePython = probe.error === undefined && probe.status === 0;
  if (!havePython) record.python = { skipped: `no Python with sacrebleu (${python}); pip install sacrebleu nltk` };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tunekit-bench-'));
  const file = path.join(dir, 'pairs.json');
  writeFileSync(file, JSON.stringify(pairs));
  const pythonResults: Record<string, unknown> = {};
  try {
    // Ours is timed just before and just after the Python run (best of both), so that load from other
    // processes on the machine hits both sides of the ratio alike.
    for (const metric of ['rouge', 'bleu'] as const) {
      const measure = metric === 'rouge' ? measureRouge : measureBleu;
      let seconds = measure();
      const entry: Record<string, unknown> =
        metric === 'rouge'
          ? { types: 'rouge1,rouge2,rougeL,rougeLsum', stemmer: true }
          : { kind: 'corpus', tokenize: '13a' };
      if (havePython) {
        const peer = runPythonPeer(file, metric);
        seconds = Math.min(seconds, measure());
        const result = 'skipped' in peer ? undefined : (peer as PeerResult)[metric];
        if (result?.pairs_per_second !== undefined) {
          pythonResults.version = (peer as PeerResult).python;
          pythonResults[metric] = { implementation: result.implementation, pairs_per_second: Math.round(result.pairs_per_second) };
          entry.ratio = Number((pairs.length / seconds / result.pairs_per_second).toFixed(2));
          const theirs = metric === 'rouge' ? (peer as PeerResult).rougeL_mean_f : (peer as PeerResult).bleu_score;
          const mine = metric === 'rouge' ? rougeLMean : bleuScore;
          entry.same_result_as_python = Math.abs((theirs ?? NaN) - mine) < 1e-9;
        } else {
          pythonResults[metric] = 'skipped' in peer ? peer : result;
        }
      }
      entry.pairs_per_second = Math.round(pairs.length / seconds);
      if (metric === 'rouge') entry.rougeL_mean_f = rougeLMean;
      else entry.score = bleuScore;
      record[metric] = entry;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (havePython) record.python = pythonResults;
  emit(record);
}

main();
