// tunekit's task runner against lm-evaluation-harness 0.4.13 (hf backend) on the same models, tasks and settings:
// goldens made by test/fixtures/evaluate/make.py on stories260K (causal, BOS added), a tiny GPT-2 (no BOS, 64
// positions: prompts cut from the left, many rolling windows) and hf-tiny's T5 (seq2seq), zero- and few-shot, for
// every output type. Prompts, hashes, generations, acc/acc_norm/exact_match and their stderr must be
// equal; log-likelihoods and the perplexities built from them within 1e-4 relative.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { evaluate, loadModel, setNumThreads, type LoadedModel } from '../src/index.js';
import { assertResultsMatch, assertSamplesMatch, evaluateFixtures, evaluateTasksDir, t5EvalFolder, type LmEvalGolden } from './helpers/lm-eval.js';
import { hasShared, sharedDir } from './helpers/paths.js';


// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-eval-goldens-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const hasGsm8k = existsSync(path.join(sharedDir, 'data', 'gsm8k', 'test.jsonl'));
const goldenNames = ['stories-0shot', 'stories-2shot', 'stories-group-1shot', 'stories-binary-2shot', 'gpt2-2shot', 't5-0shot', 't5-2shot', ...(hasGsm8k ? ['stories-gsm8k'] : [])];
const models = new Map<string, Promise<LoadedModel>>();

function modelFor(kind: LmEvalGolden['model']): Promise<LoadedModel> {
  let loaded = models.get(kind);
  if (loaded === undefined) {
    const folders = { stories: () => path.join(sharedDir, 'reference', 'models', 'stories260K'), gpt2: () => path.join(evaluateFixtures, 'gpt2-tiny'), t5: () => t5EvalFolder(scratch) };
    loaded = loadModel(folders[kind]());
    models.set(kind, loaded);
  }
  return loaded;
}

describe('tunekit eval equals lm-evaluation-harness 0.4.13 (hf backend)', { skip: hasShared ? false : 'no ../shared reference models' }, () => {
  for (const name of goldenNames) {
    const golden = JSON.parse(readFileSync(path.join(evaluateFixtures, 'goldens', `${name}.json`), 'utf8')) as LmEvalGolden;
    describe(`${name}: ${golden.tasks.join(', ')}`, () => {
      let results: evaluate.EvaluationResults;
      before(async () => {
        const { model, tokenizer, generationConfig } = await modelFor(golden.model);
        results = await evaluate.runEvaluation(model, tokenizer, golden.tasks, {
          includePaths: [evaluateTasksDir],
          numFewshot: golden.num_fewshot ?? undefined,
          limit: golden.limit ?? undefined,
          bootstrapIterations: golden.bootstrap_iters ?? 100000,
          logSamples: true,
          generationConfig,
        });
      });

      it('has the same layout, groups, n-shot, versions, higher_is_better, n-samples and configs', () => {
        const { samples: _samples, ...layout } = results;
        assert.deepEqual(Object.keys(layout), ['results', ...(golden.groups ? ['groups'] : []), 'group_subtasks', 'configs', 'versions', 'n-shot', 'higher_is_better', 'n-samples']);
        assert.deepEqual(Object.keys(results.results), Object.keys(golden.results));
        assert.deepEqual(results.group_subtasks, golden.group_subtasks);
        for (const [group, row] of Object.entries(golden.groups ?? {})) {
          assert.deepEqual(Object.keys(results.groups?.[group] ?? {}), Object.keys(row));
          for (const [key, value] of Object.entries(row)) {
            if (typeof value === 'number') assert.ok(Math.abs((results.groups?.[group][key] as number) - value) <= 1e-12, `${group} ${key}`);
            else assert.deepEqual(results.groups?.[group][key], value, `${group} ${key}`);
          }
        }
        assert.deepEqual(results['n-shot'], golden['n-shot']);
        assert.deepEqual(results.versions, golden.versions);
        assert.deepEqual(results.higher_is_better, golden.higher_is_better);
        assert.deepEqual(results['n-samples'], golden['n-samples']);
        for (const [task, config] of Object.entries(golden.configs)) {
          const expected = structuredClone(config);
          const metadata = expected.metadata as Record<string, unknown>;
          metadata.config_source = path.join(evaluateTasksDir, path.basename(metadata.config_source as string));
          assert.deepEqual(results.configs[task], expected, `configs.${task}`);
        }
      });

      for (const task of Object.keys(golden.samples)) {
        it(`${task}: every document's prompt, responses, filtered responses, metrics and hashes`, () => assertSamplesMatch(results, golden, task));
        it(`${task}: aggregated metrics and standard errors`, () => assertResultsMatch(results, golden, task));
      }
    });
  }

  // Not T5 generation: there lm-eval's own budget depends on the batch (max_length is the padded context length plus
  // max_gen_toks), so batch 4 and batch 1 legitimately differ.
  for (const [name, tasks] of [['stories-2shot', ['stories_mc', 'stories_gen', 'stories_ll']], ['t5-0shot', ['stories_mc', 'stories_ll']]] as const) {
    it(`${name}: batches of 4 (right-padded scoring, left-padded generation, no shared contexts) give lm-eval's batch-1 numbers`, async () => {
      const golden = JSON.parse(readFileSync(path.join(evaluateFixtures, 'goldens', `${name}.json`), 'utf8')) as LmEvalGolden;
      const { model, tokenizer, generationConfig } = await modelFor(golden.model);
      const options = { includePaths: [evaluateTasksDir], numFewshot: golden.num_fewshot ?? undefined, logSamples: true, batchSize: 4, shareContexts: false, generationConfig };
      const batched = await evaluate.runEvaluation(model, tokenizer, tasks, options);
      for (const task of tasks) {
        assertSamplesMatch(batched, golden, task);
        assertResultsMatch(batched, golden, task);
      }
    });
  }
});
