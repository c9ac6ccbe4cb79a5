/**
 * Can a tiny Llama pre-trained on tunekit's synthetic text learn the synthetic summaries? Pre-trains a 2-layer Llama
 * on the pre-training text, scores greedy summaries of held-out dialogues (ROUGE-L) zero-shot, fully fine-tunes it on
 * the summarize template, and scores again. Prints one JSON line with both scores and the seconds of each stage.
 *
 *   npm run build && node dist/bench/synthetic-summaries.js [--pretrain-steps N] [--finetune-steps N] [--test N] [--threads T]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  applyTemplate,
  bundledTemplate,
  generate,
  LlamaForCausalLM,
  loadTokenizer,
  manualSeed,
  parseLlamaConfig,
  setNumThreads,
  syntheticDialogues,
  syntheticPretrainingTexts,
  syntheticTokenizerCorpus,
  train,
  writeWordTokenizer,
  type Tokenizer,
  type TrainResult,
} from '../src/index.js';
import { RougeScorer } from '../src/metrics/index.js';
import { benchFlags } from './args.js';

const flags = benchFlags();
const pretrainSteps = Number(flags.get('pretrain-steps') ?? 300);
const finetuneSteps = Number(flags.get('finetune-steps') ?? 200);
const testSize = Number(flags.get('test') ?? 30);
setNumThreads(Number(flags.get('threads') ?? 1));
const batch = 8;

const dir = mkdtempSync(path.join(tmpdir(), 'tunekit-synthetic-bench-'));
writeWordTokenizer(dir, syntheticTokenizerCorpus(0));
const tokenizer = loadTokenizer(dir);
const eos = tokenizer.eosTokenId as number;
const pad = tokenizer.padTokenId as number;

manualSeed(0);
const model = new LlamaForCausalLM(
  parseLlamaConfig({
    values: {
      model_type: 'llama', vocab_size: tokenizer.vocabSize, hidden_size: 128, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 4, max_position_embeddings: 256, rms_norm_eps: 1e-5, tie_word_embeddings: false, bos_token_id: tokenizer.bosTokenId, eos_token_id: eos,
    },
    source: 'the synthetic summaries bench',
  }),
);
model.unfreeze();
const args = (steps: number, lr: number) => ({ max_steps: steps, per_device_train_batch_size: batch, learning_rate: lr, weight_decay: 0.01, warmup_steps: 10, lr_scheduler_type: 'cosine' as const, logging_steps: 10, seed: 0, save_strategy: 'no' as const });

/** The loss of the last logged step. */
function lastLoss(result: TrainResult): number {
  const steps = result.history.filter((event) => event.event === 'step');
  return steps[steps.length - 1]?.loss ?? NaN;
}

function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  return run().then((value) => [value, (performance.now() - started) / 1000]);
}

const templates = bundledTemplate('summarize_dialogue');
const records = syntheticDialogues(0, finetuneSteps * batch + testSize);
const rendered = records.map((record, index) => applyTemplate(templates, { ...record }, index, { seed: 0, templateName: 'summarize' }) as { prompt: string; completion: string });
const trainSet = rendered.slice(0, -testSize);
const testSet = rendered.slice(-testSize);

function rougeL(tok: Tokenizer): number {
  const scorer = new RougeScorer({ types: ['rougeL'] });
  let total = 0;
  for (const example of testSet) {
    const prompt = tok.encode(example.prompt);
    const output = generate(model, { inputIds: [prompt] }, { maxNewTokens: 64 }).sequences[0].slice(prompt.length);
    const end = output.indexOf(eos);
    total += scorer.score(tok.decode(end < 0 ? output : output.slice(0, end), { skipSpecialTokens: true }), example.completion).rougeL.fmeasure;
  }
  return total / testSet.length;
}

const pretrainExamples = syntheticPretrainingTexts(0, pretrainSteps * batch).map((record) => ({ input_ids: tokenizer.encode(`${record.text}</s>`) }));
const [pretrained, pretrainSeconds] = await timed(() => train(model, pretrainExamples, args(pretrainSteps, 5e-3), { padTokenId: pad }));
const zeroShot = rougeL(tokenizer);
const finetuneExamples = trainSet.map((example) => {
  const prompt = tokenizer.encode(example.prompt);
  const input_ids = tokenizer.encode(`${example.prompt}${example.completion}</s>`);
  return { input_ids, labels: input_ids.map((id, index) => (index < prompt.length ? -100 : id)) };
});
const [finetuned, finetuneSeconds] = await timed(() => train(model, finetuneExamples, args(finetuneSteps, 2e-3), { padTokenId: pad }));
const fineTuned = rougeL(tokenizer);
console.log(
  JSON.stringify({
    vocab: tokenizer.vocabSize, parameters: model.parameterCount().total, pretrainSteps, pretrainLoss: lastLoss(pretrained), pretrainSeconds,
    zeroShotRougeL: zeroShot, finetuneSteps, finetuneLoss: lastLoss(finetuned), finetuneSeconds, fineTunedRougeL: fineTuned,
  }),
);
model.dispose();
rmSync(dir, { recursive: true, force: true });
