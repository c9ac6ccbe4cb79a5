import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { generate } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import { saveModel } from '../src/models/save.js';
import type { CausalLM } from '../src/models/types.js';
import { loadTokenizer } from '../src/tokenize/index.js';
import { tensor, tidy } from '../src/torch/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const stories = path.join(sharedDir, 'reference', 'models', 'stories260K');
const present = hasShared && existsSync(stories);
const workDir = mkdtempSync(path.join(tmpdir(), 'tunekit-generate-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

describe('generation options', { skip: present ? false : 'no stories260K' }, async () => {
  const model = present ? await loadModelFromFolder(stories) : (undefined as never);
  const tokenizer = present ? loadTokenizer(stories) : (undefined as never);
  const prompt = present ? tokenizer.encode('Once upon a time') : [];

  it('sampling with a seed repeats; another seed differs; top-k 1 equals greedy', () => {
    const options = { maxNewTokens: 20, doSample: true, temperature: 0.9, topP: 0.95, seed: 11 };
    const first = generate(model, { inputIds: [prompt] }, options).sequences[0];
    const again = generate(model, { inputIds: [prompt] }, options).sequences[0];
    const other = generate(model, { inputIds: [prompt] }, { ...options, seed: 12 }).sequences[0];
    assert.deepEqual(again, first);
    assert.notDeepEqual(other, first);
    const greedy = generate(model, { inputIds: [prompt] }, { maxNewTokens: 20 }).sequences[0];
    assert.deepEqual(generate(model, { inputIds: [prompt] }, { maxNewTokens: 20, doSample: true, topK: 1, seed: 5 }).sequences[0], greedy);
  });

  it('sampled tokens stay inside the top-k set and the top-p nucleus', () => {
    const logits = tidy(() => (model as CausalLM).forward(tensor([prompt], { dtype: 'int64' }), { lastOnly: true }).squeeze(0).squeeze(0).softmax(-1).toFlatArray());
    const ranked = logits.map((p, id) => ({ p, id })).sort((a, b) => b.p - a.p);
    const top3 = new Set(ranked.slice(0, 3).map((r) => r.id));
    const nucleus = new Set<number>();
    let mass = 0;
    for (const { p, id } of ranked) {
      nucleus.add(id);
      mass += p;
      if (mass >= 0.5) break;
    }
    for (let seed = 0; seed < 20; seed++) {
      const next = (s: object) => generate(model, { inputIds: [prompt] }, { maxNewTokens: 1, doSample: true, seed, ...s }).sequences[0][prompt.length];
      assert.ok(top3.has(next({ topK: 3 })));
      assert.ok(nucleus.has(next({ topP: 0.5 })));
    }
  });

  it('streams each step\'s tokens, stops on a stop string and on EOS', () => {
    const streamed: number[] = [];
    const result = generate(model, { inputIds: [prompt] }, { maxNewTokens: 30, onTokens: (tokens) => streamed.push(tokens[0]) });
    assert.deepEqual(streamed, result.sequences[0].slice(prompt.length));
    const stopped = generate(model, { inputIds: [prompt] }, { maxNewTokens: 30, stopStrings: ['Lily'], decode: (ids) => tokenizer.decode(ids) });
    assert.ok(tokenizer.decode(stopped.sequences[0].slice(prompt.length)).endsWith('Lily'));
    assert.ok(stopped.sequences[0].length < result.sequences[0].length);
    const eos = result.sequences[0][prompt.length + 3];
    const early = generate(model, { inputIds: [prompt] }, { maxNewTokens: 30, eosTokenIds: [eos] });
    assert.equal(early.sequences[0].length, prompt.length + 4);
    assert.throws(() => generate(model, { inputIds: [prompt] }, { stopStrings: ['x'] }), /need a tokenizer/);
  });

  it('maxLength bounds prompt + new tokens; early-stopping beam search returns as many beams as asked', () => {
    assert.equal(generate(model, { inputIds: [prompt] }, { maxLength: prompt.length + 5, maxNewTokens: 50 }).sequences[0].length, prompt.length + 5);
    const beams = generate(model, { inputIds: [prompt] }, { numBeams: 4, numReturnSequences: 2, earlyStopping: true, maxNewTokens: 10 });
    assert.equal(beams.sequences.length, 2);
    assert.ok((beams.sequenceScores as number[])[0] >= (beams.sequenceScores as number[])[1]);
    assert.throws(() => generate(model, { inputIds: [prompt] }, { numBeams: 2, numReturnSequences: 3 }), /cannot exceed numBeams/);
  });

  it('saves in bfloat16 and float32, single file or shards, and loads back the same weights', async () => {
    const single = path.join(workDir, 'single');
    await saveModel(model, single);
    assert.deepEqual(JSON.parse(readFileSync(path.join(single, 'config.json'), 'utf8')).tie_word_embeddings, true);
    assert.ok(existsSync(path.join(single, 'tokenizer.json')));
    const reloaded = await loadModelFromFolder(single);
    for (const [key, value] of model.stateDict()) assert.deepEqual((reloaded.stateDict().get(key) as typeof value).bytes(), value.bytes(), key);
    const bf16 = await loadModelFromFolder(stories, { dtype: 'bfloat16' });
    const sharded = path.join(workDir, 'sharded');
    const files = await saveModel(bf16, sharded, { maxShardBytes: 100_000 });
    assert.ok(files.includes('model.safetensors.index.json'));
    assert.equal(JSON.parse(readFileSync(path.join(sharded, 'config.json'), 'utf8')).dtype, 'bfloat16');
    const back = await loadModelFromFolder(sharded);
    assert.equal(back.parameters()[0].dtype, 'bfloat16');
    for (const [key, value] of bf16.stateDict()) assert.deepEqual((back.stateDict().get(key) as typeof value).bytes(), value.bytes(), key);
    const greedyBf16 = generate(back, { inputIds: [prompt] }, { maxNewTokens: 8 }).sequences[0];
    assert.equal(greedyBf16.length, prompt.length + 8);
  });
});
