import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { collateLanguageModeling, type CollatedBatch } from '../src/data/collate.js';
import { decoderMask, packedSequenceIndices } from '../src/models/attention.js';
import { loadModelFromFolder } from '../src/models/load.js';
import type { LanguageModel } from '../src/models/types.js';
import * as F from '../src/nn/functional.js';
import { getPeftModel, loraConfig, promptTuningConfig } from '../src/peft/index.js';
import { manualSeed, tensor, Tensor, tidy } from '../src/torch/index.js';
import { repoRoot, sharedDir } from './helpers/paths.js';
import { pythonHas, runPythonJson } from './helpers/python.js';

const fixtureModels = path.join(repoRoot, 'test', 'fixtures', 'models');
const fixturePath = path.join(repoRoot, 'test', 'fixtures', 'packing', 'packed-losses.json');
const peer = path.join(repoRoot, 'test', 'fixtures', 'packing', 'transformers_packed_loss.py');
const record = process.env.TUNEKIT_RECORD === '1';
const haveTransformers = pythonHas('transformers');
const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-packing-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Causal models with a recorded transformers golden: the repository's own fixtures always, the shared ones when present. */
const models: Record<string, string> = {
  mistral: path.join(fixtureModels, 'mistral'),
  qwen2: path.join(fixtureModels, 'qwen2'),
  llama_bias: path.join(fixtureModels, 'llama_bias'),
  gpt2_inner_scaled: path.join(fixtureModels, 'gpt2_inner_scaled'),
  stories260K: path.join(sharedDir, 'reference', 'models', 'stories260K'),
  'hf-tiny gpt2': path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'gpt2'),
  'hf-tiny llama': path.join(sharedDir, 'reference', 'models', 'hf-tiny', 'llama'),
};

// Three examples with their prompts masked, as sft.ts labels them (ids below every fixture's vocabulary of 128).
const examples = [
  { input_ids: [1, 17, 42, 9, 88, 23], labels: [-100, -100, -100, 9, 88, 23] },
  { input_ids: [1, 5, 77, 31, 64, 2, 99, 12, 3], labels: [-100, -100, 77, 31, 64, 2, 99, 12, 3] },
  { input_ids: [1, 120, 8, 2], labels: [-100, -100, 8, 2] },
];
const withSeqLengths = (group: typeof examples) => [{
  input_ids: group.flatMap((e) => e.input_ids),
  labels: group.flatMap((e) => e.labels),
  seq_lengths: group.map((e) => e.input_ids.length),
}];
const onePack = collateLanguageModeling(withSeqLengths(examples), { padTokenId: 0, paddingFree: true });
const padded = collateLanguageModeling(withSeqLengths(examples), { padTokenId: 0, paddingFree: true, padToMultipleOf: 8 });
// Two packed rows in one batch, the second cut to the first's length (each row's sequences are found on their own).
const rowA = collateLanguageModeling(withSeqLengths([examples[1], examples[2]]), { padTokenId: 0, paddingFree: true });
const rowB = collateLanguageModeling(withSeqLengths([examples[2], examples[0], examples[2]]), { padTokenId: 0, paddingFree: true });
const twoRows: CollatedBatch = {
  inputIds: [rowA.inputIds[0], rowB.inputIds[0].slice(0, rowA.inputIds[0].length)],
  labels: [rowA.labels[0], rowB.labels[0].slice(0, rowA.labels[0].length)],
  positionIds: [rowA.positionIds![0], rowB.positionIds![0].slice(0, rowA.positionIds![0].length)],
};
const cases: Record<string, CollatedBatch> = { 'three sequences in one row': onePack, 'padded to a multiple of 8': padded, 'two packed rows': twoRows };

interface PeerCase { loss: number; token_losses: number[] }
interface PeerResult { transformers: string; torch: string; results: Record<string, Record<string, PeerCase>> }
interface Fixture extends PeerResult { cases: Record<string, CollatedBatch> }

function runPeer(names: string[]): PeerResult {
  const casesFile = path.join(scratch, 'cases.json');
  writeFileSync(casesFile, JSON.stringify(Object.entries(cases).map(([name, batch]) => ({ name, input_ids: batch.inputIds, labels: batch.labels, position_ids: batch.positionIds }))));
  return runPythonJson<PeerResult>(peer, [casesFile, ...names.map((name) => `${name}=${models[name]}`)]);
}

if (record) {
  const present = Object.keys(models).filter((name) => existsSync(path.join(models[name], 'config.json')));
  writeFileSync(fixturePath, JSON.stringify({ ...runPeer(present), cases }, null, 1) + '\n');
}
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as Fixture;

/** Supervised next-token losses of a batch, in the order the peer lists them (row-major over shifted labels). */
function tokenLosses(model: LanguageModel, batch: CollatedBatch): number[] {
  return tidy(() => {
    const logits = model.logits(batch);
    const [rows, length, vocab] = logits.shape;
    const targets = tensor(batch.labels.map((row) => row.slice(1)), { dtype: 'int64' }).reshape([-1]);
    const losses = F.crossEntropy(logits.narrow(1, 0, length - 1).reshape([rows * (length - 1), vocab]), targets, { reduction: 'none' }).toFlatArray();
    const labels = batch.labels.flatMap((row) => row.slice(1));
    return [...losses].filter((_, index) => labels[index] !== -100);
  });
}

/** Logits of each example run alone, concatenated in packed order [1, total, vocab]. */
function aloneLogits(model: LanguageModel, group: typeof examples): number[][] {
  return group.flatMap((example) => tidy(() => model.logits({ inputIds: [example.input_ids] }).squeeze(0).toArray() as number[][]));
}

function maxDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - b[i][j])))));
  return worst;
}

describe('packedSequenceIndices: transformers 5.17 find_packed_sequence_indices', () => {
  const indices = (rows: number[][]) => tidy(() => packedSequenceIndices(tensor(rows, { dtype: 'int64' }), rows.length)?.toArray() ?? null);
  it('numbers the sequences of a row where positions restart', () => {
    assert.deepEqual(indices([[0, 1, 2, 0, 1, 0]]), [[0, 0, 0, 1, 1, 2]]);
  });
  it('starts a sequence at any jump, not only a restart at 0 (position − previous ≠ 1)', () => {
    assert.deepEqual(indices([[3, 4, 9, 10, 10]]), [[0, 0, 1, 1, 2]]);
  });
  it('is null when no row packs two sequences (plain causal attention suffices)', () => {
    assert.equal(indices([[0, 1, 2, 3], [5, 6, 7, 8]]), null);
  });
  it('numbers every row when any row is packed', () => {
    assert.deepEqual(indices([[0, 1, 2, 3], [0, 1, 0, 1]]), [[0, 0, 0, 0], [0, 0, 1, 1]]);
  });
  it('the decoder mask is causal within each sequence only, and composes with a sliding window', () => {
    const visible = (window: number | null) =>
      tidy(() => {
        const segments = packedSequenceIndices(tensor([[0, 1, 2, 0, 1, 2]], { dtype: 'int64' }), 1);
        const mask = decoderMask({ batch: 1, length: 6, pastLength: 0, slidingWindow: window, segments, dtype: 'float32' }) as Tensor;
        return (mask.eq(0).long().squeeze(0).squeeze(0).toArray() as number[][]).map((row) => row.join(''));
      });
    assert.deepEqual(visible(null), ['100000', '110000', '111000', '000100', '000110', '000111']);
    assert.deepEqual(visible(2), ['100000', '110000', '011000', '000100', '000110', '000011']);
  });
  it('refuses position ids of another batch size', () => {
    assert.throws(() => tidy(() => packedSequenceIndices(tensor([[0, 1], [0, 1]], { dtype: 'int64' }), 3)), /positionIds must be \[3, length\] or \[1, length\], got \[2, 2\]/);
  });
});

for (const [name, folder] of Object.entries(models)) {
  const present = existsSync(path.join(folder, 'config.json'));
  const golden = fixture.results[name];
  describe(`packed rows: ${name}`, { skip: present ? false : `${folder} is absent` }, async () => {
    const model = present ? await loadModelFromFolder(folder) : (null as never);

    it('logits of a packed row equal each example run alone (≤ 1e-5)', () => {
      const packedLogits = tidy(() => model.logits(onePack).squeeze(0).toArray() as number[][]);
      assert.ok(maxDifference(packedLogits, aloneLogits(model, examples)) <= 1e-5);
    });

    it('without position ids the same row attends across examples (the mask is what separates them)', () => {
      const leaking = tidy(() => model.logits({ inputIds: onePack.inputIds }).squeeze(0).toArray() as number[][]);
      assert.ok(maxDifference(leaking, aloneLogits(model, examples)) > 1e-3);
    });

    for (const [caseName, batch] of Object.entries(cases)) {
      it(`loss equals transformers' recorded loss: ${caseName}`, { skip: golden === undefined ? 'not recorded' : false }, () => {
        assert.deepEqual(fixture.cases[caseName], batch, 'the recorded batch is the one built here');
        const loss = tidy(() => model.loss(batch).item());
        assert.ok(Math.abs(loss - golden[caseName].loss) <= 1e-5 * Math.max(1, Math.abs(golden[caseName].loss)), `${loss} vs ${golden[caseName].loss}`);
        const ours = tokenLosses(model, batch);
        assert.equal(ours.length, golden[caseName].token_losses.length);
        ours.forEach((value, i) => assert.ok(Math.abs(value - golden[caseName].token_losses[i]) <= 1e-5, `token ${i}: ${value} vs ${golden[caseName].token_losses[i]}`));
      });
    }
  });
}

describe('packed rows against transformers now', { skip: haveTransformers && !record ? false : 'transformers is not importable (or this run recorded the fixture)' }, () => {
  it('the live transformers loss equals the recorded one and ours', async () => {
    const names = Object.keys(models).filter((name) => existsSync(path.join(models[name], 'config.json')));
    const live = runPeer(names);
    for (const name of names) {
      const model = await loadModelFromFolder(models[name]);
      for (const [caseName, batch] of Object.entries(cases)) {
        const expected = live.results[name][caseName].loss;
        if (fixture.results[name] !== undefined) assert.ok(Math.abs(fixture.results[name][caseName].loss - expected) <= 1e-6, `${name} ${caseName}: recorded vs live`);
        const loss = tidy(() => model.loss(batch).item());
        assert.ok(Math.abs(loss - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `${name} ${caseName}: ${loss} vs ${expected}`);
      }
    }
  });
});

describe('packed rows train as the same examples padded', () => {
  it('a packed batch has the loss and gradients of the padded batch of its examples', async () => {
    const model = await loadModelFromFolder(path.join(fixtureModels, 'qwen2'));
    const gradients = (batch: CollatedBatch) => {
      model.zeroGrad();
      const loss = tidy(() => {
        const value = model.loss(batch);
        value.backward();
        return value.item();
      });
      const grads = model.parameters().map((parameter) => tidy(() => parameter.grad?.toFlatArray() ?? new Float32Array()));
      return { loss, grads };
    };
    const packedRun = gradients(onePack);
    const paddedRun = gradients(collateLanguageModeling(examples, { padTokenId: 0 }));
    assert.ok(Math.abs(packedRun.loss - paddedRun.loss) <= 1e-6, `${packedRun.loss} vs ${paddedRun.loss}`);
    let worst = 0;
    packedRun.grads.forEach((grad, i) => grad.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - paddedRun.grads[i][j])))));
    assert.ok(worst <= 1e-5, `largest gradient difference ${worst}`);
    assert.ok(packedRun.grads.some((grad) => grad.some((value) => value !== 0)));
    model.zeroGrad();
  });
});

describe('packed rows through adapters and other model kinds', () => {
  const mistral = path.join(fixtureModels, 'mistral');

  it('a LoRA model keeps packed examples apart too', async () => {
    manualSeed(3);
    const peft = getPeftModel(await loadModelFromFolder(mistral), loraConfig({ r: 4, targetModules: 'all-linear', initLoraWeights: false, taskType: 'CAUSAL_LM' }));
    const packedLogits = tidy(() => peft.logits(onePack).squeeze(0).toArray() as number[][]);
    assert.ok(maxDifference(packedLogits, aloneLogits(peft, examples)) <= 1e-5);
  });

  it('a soft prompt refuses packed rows (PEFT drops position_ids for prompt tuning) and ignores unpacked position ids as PEFT does', async () => {
    manualSeed(4);
    const peft = getPeftModel(await loadModelFromFolder(mistral), promptTuningConfig({ numVirtualTokens: 3, taskType: 'CAUSAL_LM' }));
    assert.throws(() => tidy(() => peft.loss(onePack)), /adapter "default" is a soft prompt: packed rows .* PEFT drops position_ids for prompt tuning/);
    const row = examples[1];
    const shifted = tidy(() => peft.logits({ inputIds: [row.input_ids], positionIds: [row.input_ids.map((_, i) => i + 5)] }).toArray() as number[][][]);
    const plain = tidy(() => peft.logits({ inputIds: [row.input_ids] }).toArray() as number[][][]);
    assert.deepEqual(shifted, plain);
  });

  it('an encoder-decoder batch refuses position ids', async () => {
    const t5 = await loadModelFromFolder(path.join(fixtureModels, 't5_classic_relu'));
    assert.throws(() => tidy(() => t5.loss({ inputIds: [[5, 6, 1]], labels: [[7, 1]], positionIds: [[0, 1, 2]] })), /t5 is an encoder-decoder model with relative positions: a batch for it takes no positionIds/);
  });

  it('position ids of the wrong shape are refused, naming both shapes', async () => {
    const model = await loadModelFromFolder(mistral);
    assert.throws(() => tidy(() => model.logits({ inputIds: [[1, 2, 3]], positionIds: [[0, 1]] })), /positionIds is \[1, 2\] but inputIds is \[1, 3\]/);
  });
});
