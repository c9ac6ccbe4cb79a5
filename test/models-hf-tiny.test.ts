import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generate, openSession } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { causalLMLoss, seq2seqLoss } from '../src/models/loss.js';
import { shiftRight } from '../src/models/batch.js';
import type { LanguageModel } from '../src/models/types.js';
import { tensor, Tensor, tidy } from '../src/torch/index.js';
import { maxAbsDiff } from './helpers/compare.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const root = path.join(sharedDir, 'reference', 'models', 'hf-tiny');
const models = ['llama', 'gpt2', 't5_flan'].filter((name) => hasShared && existsSync(path.join(root, name, 'golden.json')));

interface Inputs {
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids?: number[][];
  labels?: number[][];
}

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int64' });

function logitsFor(model: LanguageModel, inputs: Inputs): Tensor {
  if (model.kind === 'causal') return model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask) });
  return model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask), decoderInputIds: ids(inputs.decoder_input_ids as number[][]) });
}

function lossFor(model: LanguageModel, inputs: Inputs): Tensor {
  const labels = ids(inputs.labels as number[][]);
  if (model.kind === 'causal') return causalLMLoss(logitsFor(model, inputs), labels);
  const decoderInputIds = shiftRight(labels, model.config.decoderStartTokenId ?? 0, model.config.padTokenId ?? 0);
  const logits = model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask), decoderInputIds });
  return seq2seqLoss(logits, labels);
}


for (const name of models) {
  describe(`hf-tiny ${name} equals transformers`, async () => {
    const golden = JSON.parse(readFileSync(path.join(root, name, 'golden.json'), 'utf8'));
    const model = await loadModelFromFolder(path.join(root, name));

    for (const [caseName, testCase] of Object.entries(golden.logits as Record<string, { inputs: Inputs; shape: number[]; logits: unknown }>)) {
      it(`logits: ${caseName}`, () => {
        const logits = tidy(() => logitsFor(model, testCase.inputs));
        assert.deepEqual(logits.shape, testCase.shape);
        assert.ok(maxAbsDiff(logits, testCase.logits) <= 1e-4);
        logits.dispose();
      });
    }

    it('loss and gradient norms', () => {
      model.zeroGrad();
      const loss = tidy(() => {
        const value = lossFor(model, golden.loss.inputs);
        value.backward();
        return value.item();
      });
      assert.ok(Math.abs(loss - golden.loss.loss) <= 1e-4 * Math.abs(golden.loss.loss), `loss ${loss} vs ${golden.loss.loss}`);
      let total = 0;
      const parameters = new Map(model.namedParameters());
      for (const [parameterName, expected] of Object.entries(golden.grad_norms.all as Record<string, number>)) {
        const parameter = parameters.get(parameterName);
        assert.ok(parameter !== undefined, `no parameter ${parameterName}`);
        const norm = tidy(() => (parameter.grad as Tensor).double().norm().item());
        total += norm * norm;
        assert.ok(Math.abs(norm - expected) <= 1e-4 * Math.max(expected, 1e-3), `${parameterName}: ${norm} vs ${expected}`);
      }
      assert.ok(Math.abs(Math.sqrt(total) - golden.grad_norms.total_norm) <= 1e-4 * golden.grad_norms.total_norm);
      model.zeroGrad();
    });

    const settings = golden.generate.settings;
    for (const mode of ['greedy', 'beam3'] as const) {
      for (const [caseName, expected] of Object.entries(golden.generate[mode] as Record<string, { sequences: number[][]; sequences_scores?: number[] }>)) {
        it(`generate ${mode}: ${caseName}`, () => {
          const inputs = golden.generate.inputs[caseName] as Inputs;
          const result = generate(model, { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask }, {
            maxNewTokens: settings.max_new_tokens,
            numBeams: settings[mode].num_beams,
            lengthPenalty: settings[mode].length_penalty,
            earlyStopping: settings[mode].early_stopping,
          });
          assert.deepEqual(result.sequences, expected.sequences);
          if (expected.sequences_scores !== undefined) {
            expected.sequences_scores.forEach((score, i) => assert.ok(Math.abs((result.sequenceScores as number[])[i] - score) <= 1e-4));
          }
        });
      }
    }

    it('every greedy step\'s next-token logits equal the recorded step scores (KV cache path)', () => {
      const steps = golden.generate.greedy.single.step_scores as number[][][];
      const inputs = golden.generate.inputs.single as Inputs;
      const sequence = (golden.generate.greedy.single.sequences as number[][])[0];
      const prefix = model.kind === 'causal' ? inputs.input_ids[0].length : 1;
      const session = openSession(model, { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask });
      try {
        let logits = session.start();
        steps.forEach((expected, step) => {
          assert.ok(maxAbsDiff(logits, expected) <= 1e-4, `step ${step}`);
          logits.dispose();
          if (step < steps.length - 1) logits = session.step([sequence[prefix + step]]);
        });
      } finally {
        session.dispose();
      }
    });
  });
}
