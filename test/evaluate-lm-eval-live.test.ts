// When lm-evaluation-harness is importable here, run it afresh (make.py, one small run on stories260K) and hold
// tunekit to what it prints now, not only to the recorded fixture; skipped cleanly without it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { evaluate, loadModel, setNumThreads } from '../src/index.js';
import { assertResultsMatch, assertSamplesMatch, evaluateFixtures, evaluateTasksDir, type LmEvalGolden } from './helpers/lm-eval.js';
import { hasShared, sharedDir } from './helpers/paths.js';
import { pythonHas } from './helpers/python.js';


// One libtorch thread: on this 2-core machine, shared with other work, two threads of a tiny model oversubscribe.
setNumThreads(1);
const available = hasShared && pythonHas('lm_eval', 'torch', 'transformers', 'datasets');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-lm-eval-live-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('tunekit eval against a live lm-evaluation-harness run', { skip: available ? false : 'lm_eval (with torch, transformers, datasets) is not importable, or no ../shared' }, () => {
  it('stories260K, a 1-shot group of two multiple-choice tasks: the same prompts, log-likelihoods, metrics and group row', async () => {
    execFileSync(process.env.PYTHON ?? 'python3', [path.join(evaluateFixtures, 'make.py'), scratch], {
      env: { ...process.env, GOLDENS: 'stories-group-1shot', HF_DATASETS_OFFLINE: '1', HF_HUB_OFFLINE: '1', OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
    const golden = JSON.parse(readFileSync(path.join(scratch, 'stories-group-1shot.json'), 'utf8')) as LmEvalGolden;
    const { model, tokenizer } = await loadModel(path.join(sharedDir, 'reference', 'models', 'stories260K'));
    const results = await evaluate.runEvaluation(model, tokenizer, golden.tasks, { includePaths: [evaluateTasksDir], numFewshot: golden.num_fewshot ?? undefined, logSamples: true });
    for (const task of Object.keys(golden.samples)) {
      assertSamplesMatch(results, golden, task);
      assertResultsMatch(results, golden, task);
    }
    assertResultsMatch(results, golden, 'stories_all');
  });
});
