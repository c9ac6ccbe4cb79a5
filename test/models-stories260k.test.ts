import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { generate } from '../src/generate/index.js';
import { loadModelFromFolder } from '../src/models/load.js';
import type { CausalLM } from '../src/models/types.js';
import { tensor, tidy } from '../src/torch/index.js';
import { hasShared, sharedDir } from './helpers/paths.js';

const folder = path.join(sharedDir, 'reference', 'models', 'stories260K');
const present = hasShared && existsSync(path.join(folder, 'goldens.json'));

interface Beam {
  continuation_ids: number[];
  sequence_score: number;
}

describe('stories260K (a real pretrained Llama-2 model) equals llama2.c and transformers', { skip: present ? false : 'no stories260K reference' }, async () => {
  const goldens = present ? JSON.parse(readFileSync(path.join(folder, 'goldens.json'), 'utf8')) : { cases: [], logits: [] };
  const model = present ? await loadModelFromFolder(folder) : undefined;

  for (const testCase of goldens.cases as { id: string; prompt_ids: number[]; greedy: { max_new_tokens: number; continuation_ids: number[] }; beam_search: { num_beams: number; max_new_tokens: number; num_return_sequences: number; beams: Beam[] } }[]) {
    it(`greedy from prompt ids equals run.c: ${testCase.id}`, () => {
      const result = generate(model!, { inputIds: [testCase.prompt_ids] }, { maxNewTokens: testCase.greedy.max_new_tokens });
      assert.deepEqual(result.sequences[0], [...testCase.prompt_ids, ...testCase.greedy.continuation_ids]);
    });

    it(`beam search (3 beams, 3 returned) equals transformers: ${testCase.id}`, () => {
      const search = testCase.beam_search;
      const result = generate(model!, { inputIds: [testCase.prompt_ids] }, {
        numBeams: search.num_beams,
        maxNewTokens: search.max_new_tokens,
        numReturnSequences: search.num_return_sequences,
        lengthPenalty: 1,
        earlyStopping: false,
      });
      search.beams.forEach((beam, i) => {
        assert.deepEqual(result.sequences[i], [...testCase.prompt_ids, ...beam.continuation_ids], `beam ${i}`);
        assert.ok(Math.abs((result.sequenceScores as number[])[i] - beam.sequence_score) <= 1e-4, `beam ${i} score`);
      });
    });
  }

  it('left-padded batched greedy equals each row unbatched', () => {
    const batch = goldens.batched_greedy;
    const result = generate(model!, { inputIds: batch.input_ids, attentionMask: batch.attention_mask }, { maxNewTokens: batch.max_new_tokens, padTokenId: batch.pad_token_id });
    (batch.rows as { continuation_ids: number[] }[]).forEach((row, i) => {
      assert.deepEqual(result.sequences[i], [...batch.input_ids[i], ...row.continuation_ids], `row ${i}`);
    });
  });

  for (const entry of goldens.logits as { case_id: string; input_ids: number[]; logits: number[][] }[]) {
    it(`logits of the first positions: ${entry.case_id}`, () => {
      const difference = tidy(() => {
        const logits = (model as CausalLM).forward(tensor([entry.input_ids], { dtype: 'int64' }));
        return logits.squeeze(0).sub(tensor(entry.logits)).abs().amax().item();
      });
      assert.ok(difference <= 1e-4, `max abs diff ${difference}`);
    });
  }
});
