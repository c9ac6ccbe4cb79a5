// Comparing tunekit's evaluation output with lm-evaluation-harness's (goldens from test/fixtures/evaluate/make.py).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { evaluate } from '../../src/index.js';
import { repoRoot, sharedDir } from './paths.js';

export const evaluateFixtures = path.join(repoRoot, 'test', 'fixtures', 'evaluate');
export const evaluateTasksDir = path.join(evaluateFixtures, 'tasks');

/** What make.py writes per run. */
export interface LmEvalGolden {
  model: 'stories' | 'gpt2' | 't5';
  tasks: string[];
  /** null: each task's own num_fewshot. */
  num_fewshot: number | null;
  limit: number | null;
  /** lm-eval's bootstrap_iters for the run (absent in older goldens: 100000). */
  bootstrap_iters?: number;
  results: Record<string, Record<string, unknown>>;
  groups?: Record<string, Record<string, unknown>> | null;
  group_subtasks?: Record<string, string[]>;
  'n-shot': Record<string, number>;
  versions: Record<string, unknown>;
  higher_is_better: Record<string, Record<string, boolean>>;
  'n-samples': Record<string, unknown>;
  configs: Record<string, Record<string, unknown>>;
  samples: Record<string, Record<string, unknown>[]>;
}

/** hf-tiny's T5 weights with the small Unigram tokenizer fixture, as make.py assembles them. */
export function t5EvalFolder(scratch: string): string {
  const model = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 't5_flan');
  const tokenizer = path.join(repoRoot, 'test', 'fixtures', 'tokenize', 't5-unigram');
  const target = mkdtempSync(path.join(scratch, 't5-'));
  for (const name of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(path.join(model, name), path.join(target, name));
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(path.join(tokenizer, name), path.join(target, name));
  return target;
}

// Metrics computed from log-likelihoods (not from argmax decisions): float32 differences carry into them.
const LOGLIKELIHOOD_METRICS = ['perplexity', 'word_perplexity', 'byte_perplexity', 'bits_per_byte', 'brier_score'];

function close(actual: unknown, expected: unknown, what: string, tolerance = 1e-4): void {
  assert.equal(typeof actual, 'number', `${what}: ${JSON.stringify(actual)} is not a number`);
  const a = actual as number;
  const e = expected as number;
  assert.ok(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)), `${what}: ${a} vs lm-eval ${e}`);
}

/** Responses: numbers (log-likelihoods) within 1e-4 relative, everything else (greedy flags, text) equal. */
function closeDeep(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected === 'number') return close(actual, expected, what);
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${what}: ${JSON.stringify(actual)} vs lm-eval ${JSON.stringify(expected)}`);
    expected.forEach((item, i) => closeDeep((actual as unknown[])[i], item, `${what}[${i}]`));
    return;
  }
  assert.deepEqual(actual, expected, what);
}

/** Every logged sample: prompts, hashes, targets and metric names equal; responses and metric values close. */
export function assertSamplesMatch(results: evaluate.EvaluationResults, golden: LmEvalGolden, task: string): void {
  const ours = results.samples?.[task] ?? [];
  const theirs = golden.samples[task];
  assert.equal(ours.length, theirs.length);
  theirs.forEach((expected, i) => {
    const actual = ours[i] as unknown as Record<string, unknown>;
    const where = `${task} sample ${i} (doc ${String(expected.doc_id)}, filter ${String(expected.filter)})`;
    for (const key of ['doc_id', 'doc', 'target', 'filter', 'metrics', 'doc_hash', 'prompt_hash', 'target_hash']) assert.deepEqual(actual[key], expected[key], `${where}: ${key}`);
    assert.deepEqual(actual.arguments, expected.arguments, `${where}: arguments (the prompts)`);
    closeDeep(actual.resps, expected.resps, `${where}: resps`);
    closeDeep(actual.filtered_resps, expected.filtered_resps, `${where}: filtered_resps`);
    // lm-eval writes a Brier score's per-document probabilities as numpy's str() of an array; its aggregate is checked.
    for (const metric of expected.metrics as string[]) if (metric !== 'brier_score') closeDeep(actual[metric], expected[metric], `${where}: ${metric}`);
  });
}

/** A task's aggregates: the same keys in the same order; log-likelihood metrics 1e-4 relative, the rest 1e-12. */
export function assertResultsMatch(results: evaluate.EvaluationResults, golden: LmEvalGolden, task: string): void {
  const ours = results.results[task];
  const theirs = golden.results[task];
  assert.deepEqual(Object.keys(ours), Object.keys(theirs));
  for (const [key, expected] of Object.entries(theirs)) {
    const metric = key.split(',')[0].replace(/_stderr$/, '');
    if (typeof expected !== 'number') assert.deepEqual(ours[key], expected, key);
    else if (LOGLIKELIHOOD_METRICS.includes(metric)) close(ours[key], expected, `${task} ${key}`);
    else close(ours[key], expected, `${task} ${key}`, 1e-12);
  }
}
