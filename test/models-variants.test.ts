import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generate, openSession } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { causalLMLoss, seq2seqLoss } from '../src/models/loss.js';
import { shiftRight } from '../src/models/batch.js';
import type { LanguageModel } from '../src/models/types.js';
import { tensor, Tensor, tidy } from '../src/torch/index.js';
import { maxAbsDiff } from './helpers/compare.js';
import { repoRoot } from './helpers/paths.js';

// Tiny random models of the configurations the hf-tiny references do not ship (classic T5, tied Llama, rope theta and
// scaling, Qwen2, Mistral, explicit head_dim, Llama biases, GPT-2 variants, a bfloat16 checkpoint), each with the
// outputs of transformers 5.17 in golden.json. bench/peer/make_model_fixtures.py made them; see its docstring.
const root = path.join(repoRoot, 'test', 'fixtures', 'models');
const variants = existsSync(root) ? readdirSync(root).filter((name) => existsSync(path.join(root, name, 'golden.json'))).sort() : [];

/**
 * Tolerances by the checkpoint's dtype. float32: the hf-tiny rules (logits and beam scores 1e-4 absolute, loss 1e-4
 * relative). bfloat16 (llama_bf16, measured against transformers 5.17 on CPU with torch 2.13):
 * - tunekit computes attention with libtorch's fused SDPA, which keeps the softmax probabilities in float32; the
 *   eager goldens round them to bfloat16 before multiplying by V. transformers' own eager and sdpa logits differ by
 *   0.043 on this fixture (|logits| ≤ 3.5, std 1.0; one bf16 ulp is 0.0156 in [2, 4)), and tunekit's by the same
 *   0.043 from eager while it equals transformers' sdpa logits bit for bit on the CPU that made the goldens (max |Δ| 0; golden.json `logits_sdpa`). On an
 *   AMD EPYC, whose bf16 kernels accumulate in another order, the same comparison measured 0.0176 (just over one ulp).
 *   Bounds: eager logits 0.0625 (measured 0.043 + 50%, four ulps in [2, 4)), sdpa logits 0.03125 (two ulps in [2, 4)).
 *   A real bug moves these logits by 0.3–1 (a wrong rope theta or scaling does on the float32 fixtures).
 * - loss vs eager 1e-3 relative (measured 2.3e-4); vs sdpa 1e-4 relative (measured 0).
 * - beam sequences_scores 0.02 absolute (measured 0.0057: mean log-probabilities over ≤ 8 tokens of those logits).
 * Generated ids stay exact: the smallest greedy top-1/top-2 margin of the bf16 fixture is 0.047.
 */
const logitsTolerance: Record<string, number> = { float32: 1e-4, bfloat16: 0.0625 };
const sdpaLogitsTolerance = 0.03125;
const lossTolerance: Record<string, number> = { float32: 1e-4, bfloat16: 1e-3 };
const sdpaLossTolerance = 1e-4;
const scoreTolerance: Record<string, number> = { float32: 1e-4, bfloat16: 0.02 };

interface Inputs {
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids?: number[][];
  labels?: number[][];
}

interface Golden {
  settings: { dtype: string };
  files: { tensors: string[]; tied_parameters_not_saved: string[] };
  config: Record<string, unknown>;
  logits: Record<string, { inputs: Inputs; shape: number[]; logits: unknown }>;
  loss: { inputs: Inputs; loss: number };
  /** Reduced-precision fixtures only: transformers with attn_implementation="sdpa". */
  logits_sdpa?: Record<string, { shape: number[]; logits: unknown }>;
  loss_sdpa?: number;
  generate: {
    settings: { max_new_tokens: number; greedy: { num_beams: number }; beam3: { num_beams: number; early_stopping: boolean; length_penalty: number } };
    inputs: Record<string, Inputs>;
    greedy: Record<string, { sequences: number[][]; step_scores?: number[][][] }>;
    beam3: Record<string, { sequences: number[][]; sequences_scores: number[] }>;
  };
}

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int64' });

function logitsFor(model: LanguageModel, inputs: Inputs): Tensor {
  if (model.kind === 'causal') return model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask) });
  return model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask), decoderInputIds: ids(inputs.decoder_input_ids as number[][]) });
}

function lossFor(model: LanguageModel, inputs: Inputs): number {
  return tidy(() => {
    const labels = ids(inputs.labels as number[][]);
    if (model.kind === 'causal') return causalLMLoss(logitsFor(model, inputs), labels).item();
    const decoderInputIds = shiftRight(labels, model.config.decoderStartTokenId ?? 0, model.config.padTokenId ?? 0);
    const logits = model.forward(ids(inputs.input_ids), { attentionMask: ids(inputs.attention_mask), decoderInputIds });
    return seq2seqLoss(logits, labels).item();
  });
}


/**
 * transformers 5.17's beam search fills the positions after a finished beam's EOS with `pad_token_id or
 * eos_token_id[0]` (generation/utils.py, `_beam_search`): a pad id of 0 is falsy there, so those positions get EOS.
 * transformers 4.x, and 5.17 itself with a non-zero pad id, write EOS once and then pad, which is what tunekit does.
 * Maps the goldens (pad id 0) to that convention; every generated token up to and including the EOS stays exact.
 */
function beamFillAsTransformers4(sequences: number[][], inputs: Inputs, model: LanguageModel): number[][] {
  const pad = model.config.padTokenId ?? 0;
  const eos = model.config.eosTokenIds;
  if (pad !== 0) return sequences;
  const prefixLength = model.kind === 'causal' ? inputs.input_ids[0].length : 1;
  return sequences.map((row) => {
    const end = row.findIndex((token, i) => i >= prefixLength && eos.includes(token));
    return end < 0 ? row : row.map((token, i) => (i > end && eos.includes(token) ? pad : token));
  });
}

/**
 * Variants that tunekit does not load correctly yet, by the bug in src/ that breaks them. Their tests still run, as
 * TODO (reported, not failing the suite); delete the entry when src/ is fixed.
 */
const knownSourceBugs: Record<string, string> = {};

/** The input-embedding parameter an output head can be tied to, by architecture. */
const embeddingNames = ['model.embed_tokens.weight', 'transformer.wte.weight', 'shared.weight'];

for (const name of variants) {
  describe(`model variant ${name} equals transformers`, async () => {
    const folder = path.join(root, name);
    const golden = JSON.parse(readFileSync(path.join(folder, 'golden.json'), 'utf8')) as Golden;
    const dtype = golden.settings.dtype;
    const model = await loadModelFromFolder(folder);
    const options = knownSourceBugs[name] === undefined ? {} : { todo: knownSourceBugs[name] };

    it(`loads in the checkpoint's dtype (${dtype})`, options, () => {
      for (const [parameterName, parameter] of model.namedParameters()) assert.equal(parameter.dtype, dtype, parameterName);
    });

    it('ties exactly the parameters the checkpoint leaves out, to one shared tensor', options, () => {
      const parameters = new Map(model.namedParameters({ includeDuplicates: true }));
      const embeddingName = embeddingNames.find((candidate) => parameters.has(candidate));
      assert.ok(embeddingName !== undefined, 'no input embedding found');
      const embedding = parameters.get(embeddingName);
      const tied = new Set(golden.files.tied_parameters_not_saved);
      for (const parameterName of [...tied, 'lm_head.weight']) {
        const parameter = parameters.get(parameterName);
        assert.ok(parameter !== undefined, `no parameter ${parameterName}`);
        if (tied.has(parameterName)) assert.equal(parameter, embedding, `${parameterName} is not the same Tensor as ${embeddingName}`);
        else assert.notEqual(parameter, embedding, `${parameterName} is tied but the checkpoint has its own`);
      }
      // Every saved tensor is a distinct parameter: the untied head of a checkpoint was not replaced by the embedding.
      const unique = new Map(model.namedParameters());
      for (const key of golden.files.tensors) assert.ok(unique.has(key), `saved tensor ${key} is not a unique parameter`);
      assert.equal(unique.size, golden.files.tensors.length);
    });

    for (const [caseName, testCase] of Object.entries(golden.logits)) {
      it(`logits: ${caseName}`, options, () => {
        const logits = tidy(() => logitsFor(model, testCase.inputs));
        try {
          assert.deepEqual(logits.shape, testCase.shape);
          const difference = maxAbsDiff(logits, testCase.logits);
          assert.ok(difference <= logitsTolerance[dtype], `max |Δ| ${difference} > ${logitsTolerance[dtype]}`);
        } finally {
          logits.dispose();
        }
      });
    }

    for (const [caseName, testCase] of Object.entries(golden.logits_sdpa ?? {})) {
      it(`logits: ${caseName} (transformers sdpa attention, ${dtype})`, options, () => {
        const logits = tidy(() => logitsFor(model, golden.logits[caseName].inputs));
        try {
          assert.deepEqual(logits.shape, testCase.shape);
          const difference = maxAbsDiff(logits, testCase.logits);
          assert.ok(difference <= sdpaLogitsTolerance, `max |Δ| ${difference} > ${sdpaLogitsTolerance}`);
        } finally {
          logits.dispose();
        }
      });
    }

    if (golden.loss_sdpa !== undefined) {
      const expected = golden.loss_sdpa;
      it(`loss on the labelled batch (transformers sdpa attention, ${dtype})`, options, () => {
        const loss = lossFor(model, golden.loss.inputs);
        assert.ok(Math.abs(loss - expected) <= sdpaLossTolerance * Math.abs(expected), `loss ${loss} vs ${expected}`);
      });
    }

    it('loss on the labelled batch', options, () => {
      const loss = lossFor(model, golden.loss.inputs);
      const expected = golden.loss.loss;
      assert.ok(Math.abs(loss - expected) <= lossTolerance[dtype] * Math.abs(expected), `loss ${loss} vs ${expected}`);
    });

    const settings = golden.generate.settings;
    for (const mode of ['greedy', 'beam3'] as const) {
      for (const [caseName, expected] of Object.entries(golden.generate[mode])) {
        it(`generate ${mode}: ${caseName}`, options, () => {
          const inputs = golden.generate.inputs[caseName];
          const beams = mode === 'beam3' ? settings.beam3 : undefined;
          const result = generate(model, { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask }, {
            maxNewTokens: settings.max_new_tokens,
            numBeams: settings[mode].num_beams,
            lengthPenalty: beams?.length_penalty,
            earlyStopping: beams?.early_stopping,
          });
          if (mode === 'greedy') assert.deepEqual(result.sequences, expected.sequences);
          else assert.deepEqual(result.sequences, beamFillAsTransformers4(expected.sequences, inputs, model));
          const expectedScores = (expected as { sequences_scores?: number[] }).sequences_scores;
          if (expectedScores !== undefined) {
            const scores = result.sequenceScores as number[];
            expectedScores.forEach((score: number, i: number) =>
              assert.ok(Math.abs(scores[i] - score) <= scoreTolerance[dtype], `row ${i}: score ${scores[i]} vs ${score}`),
            );
          }
        });
      }
    }

    it('each greedy step\'s next-token logits equal transformers\' (KV cache path)', options, () => {
      const steps = golden.generate.greedy.single.step_scores as number[][][];
      const inputs = golden.generate.inputs.single;
      const sequence = golden.generate.greedy.single.sequences[0];
      const prefix = model.kind === 'causal' ? inputs.input_ids[0].length : 1;
      const session = openSession(model, { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask });
      try {
        let logits = session.start();
        steps.forEach((expected, step) => {
          const difference = maxAbsDiff(logits, expected);
          logits.dispose();
          assert.ok(difference <= logitsTolerance[dtype], `step ${step}: max |Δ| ${difference}`);
          if (step < steps.length - 1) logits = session.step([sequence[prefix + step]]);
        });
      } finally {
        session.dispose();
      }
    });
  });
}

it('the variant fixtures are present', () => {
  assert.ok(variants.length >= 14, `found ${variants.length} variant folders under ${root}`);
});
