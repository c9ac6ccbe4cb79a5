/**
 * A tiny Llama learns the synthetic pre-training text: its loss falls from chance within a hundred steps, and so does its
 * loss on the base task (a story's last sentence, from stories it never saw), which the demo's forgetting stage measures.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { evaluateModel, setNumThreads, LlamaForCausalLM, loadTokenizer, manualSeed, parseLlamaConfig, syntheticContinuations, syntheticPretrainingTexts, syntheticTokenizerCorpus, train, writeWordTokenizer } from '../src/index.js';

const STEPS = 100;
const BATCH = 8;

test('a 2-layer Llama pre-trained on the synthetic text with train() reaches a falling loss, on the text and on the base task', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-synthetic-pretrain-'));
  try {
    writeWordTokenizer(dir, syntheticTokenizerCorpus(0, { dialogues: 500, pretraining: 500, continuations: 200 }));
    const tokenizer = loadTokenizer(dir);
    const examples = syntheticPretrainingTexts(0, STEPS * BATCH).map((record) => ({ input_ids: tokenizer.encode(`${record.text}</s>`, { truncation: true, maxLength: 256 }) }));
    // The base task: only the last sentence is supervised.
    const baseTask = syntheticContinuations(0, 64).map((story) => {
      const context = tokenizer.encode(story.context);
      const input_ids = tokenizer.encode(`${story.context} ${story.continuation}</s>`);
      assert.deepEqual(input_ids.slice(0, context.length), context, 'the context tokenizes to a prefix of the whole story');
      return { input_ids, labels: input_ids.map((id, index) => (index < context.length ? -100 : id)) };
    });
    // One thread: on a busy 2-core machine two libtorch threads contend and run up to 20x slower.
    setNumThreads(1);
    manualSeed(0);
    const values = {
      model_type: 'llama', vocab_size: tokenizer.vocabSize, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 4, max_position_embeddings: 256, rms_norm_eps: 1e-5, tie_word_embeddings: false, bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenId,
    };
    const model = new LlamaForCausalLM(parseLlamaConfig({ values, source: 'the synthetic pre-training test' }));
    const baseTaskBefore = evaluateModel(model, baseTask, { per_device_eval_batch_size: 16 }, tokenizer.padTokenId ?? 0).loss;
    const losses: number[] = [];
    const started = performance.now();
    await train(
      model,
      examples,
      { max_steps: STEPS, per_device_train_batch_size: BATCH, learning_rate: 5e-3, weight_decay: 0.01, warmup_steps: 10, lr_scheduler_type: 'cosine', logging_steps: 1, seed: 0, save_strategy: 'no' },
      { padTokenId: tokenizer.padTokenId ?? 0, onEvent: (event) => (event.event === 'step' ? losses.push(event.loss) : undefined) },
    );
    const seconds = (performance.now() - started) / 1000;
    const baseTaskAfter = evaluateModel(model, baseTask, { per_device_eval_batch_size: 16 }, tokenizer.padTokenId ?? 0).loss;
    model.dispose();
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-10));
    console.log(`loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${losses.length} steps, ${seconds.toFixed(1)} s (chance ${Math.log(tokenizer.vocabSize).toFixed(3)}); base task ${baseTaskBefore.toFixed(3)} -> ${baseTaskAfter.toFixed(3)}`);
    assert.equal(losses.length, STEPS);
    assert.ok(first > Math.log(tokenizer.vocabSize) - 1, `first loss ${first} is near chance`);
    assert.ok(last < first / 2 && last < 2.5, `loss ${first} -> ${last}`);
    assert.ok(baseTaskAfter < baseTaskBefore / 2, `base task loss ${baseTaskBefore} -> ${baseTaskAfter}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
