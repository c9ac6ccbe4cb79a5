// tunekit's task runner against lm-evaluation-harness 0.4.13 (hf backend) on the same models, tasks and settings:
// goldens made by test/fixtures/evaluate/make.py on stories260K (causal) and hf-tiny's T5 (seq2seq), zero- and
// few-shot, for every output type. Prompts, hashes, generations, acc/acc_norm/exact_match and their stderr must be
// equal; log-likelihoods and the perplexities built from them within 1e-4 relative.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, loadModel, type LoadedModel } from '../src/index.js';
import { hasShared, repoRoot, sharedDir } from './helpers/paths.js';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'evaluate');
const tasksDir = path.join(fixtures, 'tasks');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-eval-goldens-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Golden {
  model: 'stories' | 't5';
  tasks: string[];
  num_fewshot: number;
  limit: number | null;
  results: Record<string, Record<string, unknown>>;
  'n-shot': Record<string, number>;
  versions: Record<string, unknown>;
  higher_is_better: Record<string, Record<string, boolean>>;
  'n-samples': Record<string, unknown>;
  configs: Record<string, Record<string, unknown>>;
  samples: Record<string, Record<string, unknown>[]>;
}

/** hf-tiny's T5 weights with the small Unigram tokenizer fixture, as make.py assembles them. */
function t5Folder(): string {
  const model = path.join(sharedDir, 'reference', 'models', 'hf-tiny', 't5_flan');
  const tokenizer = path.join(repoRoot, 'test', 'fixtures', 'tokenize', 't5-unigram');
  const target = mkdtempSync(path.join(scratch, 't5-'));
  for (const name of ['config.json', 'generation_config.json', 'model.safetensors']) copyFileSync(path.join(model, name), path.join(target, name));
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(path.join(tokenizer, name), path.join(target, name));
  return target;
}

const LOGLIKELIHOOD_METRICS = ['perplexity', 'word_perplexity', 'byte_perplexity', 'bits_per_byte'];

function close(actual: unknown, expected: unknown, what: string, tolerance = 1e-4): void {
  assert.equal(typeof actual, 'number', `${what}: ${JSON.stringify(actual)} is not a number`);
  const a = actual as number;
  const e = expected as number;
  assert.ok(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)), `${what}: ${a} vs lm-eval ${e}`);
}

/** Responses: numbers (log-likelihoods) within 1e-4, everything else (greedy flags, text) equal. */
function closeDeep(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected === 'number') return close(actual, expected, what);
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual) && actual.length === expected.length, `${what}: ${JSON.stringify(actual)} vs lm-eval ${JSON.stringify(expected)}`);
    expected.forEach((item, i) => closeDeep((actual as unknown[])[i], item, `${what}[${i}]`));
    return;
  }
  assert.deepEqual(actual, expected, what);
}

const goldenFiles = existsSync(path.join(fixtures, 'goldens')) ? ['stories-0shot', 'stories-2shot', 't5-0shot', 't5-2shot'] : [];
const models = new Map<string, Promise<LoadedModel>>();

function modelFor(kind: 'stories' | 't5'): Promise<LoadedModel> {
  let loaded = models.get(kind);
  if (loaded === undefined) {
    loaded = loadModel(kind === 'stories' ? path.join(sharedDir, 'reference', 'models', 'stories260K') : t5Folder());
    models.set(kind, loaded);
  }
  return loaded;
}

describe('tunekit eval equals lm-evaluation-harness 0.4.13 (hf backend)', { skip: hasShared ? false : 'no ../shared reference models' }, () => {
  for (const name of goldenFiles) {
    const golden = JSON.parse(readFileSync(path.join(fixtures, 'goldens', `${name}.json`), 'utf8')) as Golden;
    describe(`${name}: ${golden.tasks.join(', ')}`, async () => {
      const { model, tokenizer, generationConfig } = await modelFor(golden.model);
      const results = await evaluate.runEvaluation(model, tokenizer, golden.tasks, {
        includePaths: [tasksDir],
        numFewshot: golden.num_fewshot,
        limit: golden.limit ?? undefined,
        logSamples: true,
        generationConfig,
      });

      it('has the same n-shot, versions, higher_is_better, n-samples and configs', () => {
        assert.deepEqual(results['n-shot'], golden['n-shot']);
        assert.deepEqual(results.versions, golden.versions);
        assert.deepEqual(results.higher_is_better, golden.higher_is_better);
        assert.deepEqual(results['n-samples'], golden['n-samples']);
        for (const [task, config] of Object.entries(golden.configs)) {
          const expected = structuredClone(config);
          const metadata = expected.metadata as Record<string, unknown>;
          metadata.config_source = path.join(tasksDir, path.basename(metadata.config_source as string));
          assert.deepEqual(results.configs[task], expected, `configs.${task}`);
        }
      });

      for (const task of golden.tasks) {
        it(`${task}: every document's prompt, responses, filtered responses, metrics and hashes`, () => {
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
            for (const metric of expected.metrics as string[]) closeDeep(actual[metric], expected[metric], `${where}: ${metric}`);
          });
        });

        it(`${task}: aggregated metrics and standard errors`, () => {
          const ours = results.results[task];
          const theirs = golden.results[task];
          assert.deepEqual(Object.keys(ours), Object.keys(theirs));
          for (const [key, expected] of Object.entries(theirs)) {
            const metric = key.split(',')[0].replace(/_stderr$/, '');
            if (typeof expected !== 'number') assert.deepEqual(ours[key], expected, key);
            else if (LOGLIKELIHOOD_METRICS.includes(metric)) close(ours[key], expected, `${task} ${key}`);
            else close(ours[key], expected, `${task} ${key}`, 1e-12);
          }
        });
      }
    });
  }
});
