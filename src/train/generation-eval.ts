/**
 * Evaluation by generation (Seq2SeqTrainer's predict_with_generate): each example's prompt is decoded greedily (or
 * with beams) and the text scored with ROUGE (rouge-score's numbers, Porter stemmer on) against the completion the
 * example holds. The prompt and the reference come from the tokenized example itself — causal: the tokens before
 * the first supervised label, and the supervised tokens; seq2seq: input_ids and labels — so every dataset format
 * TRL reads (prompt/completion, messages, pre-tokenized) is evaluated the same way.
 */
import { generate } from '../generate/index.js';
import { rouge } from '../metrics/index.js';
import type { LanguageModel } from '../models/types.js';
import type { Tokenizer } from '../tokenize/index.js';
import type { TrainExample } from './evaluation.js';

export interface GenerationEvalOptions {
  tokenizer: Tokenizer;
  /** New tokens per example (Seq2SeqTrainingArguments.generation_max_length); default: the longest reference + 16. */
  maxNewTokens?: number;
  numBeams?: number;
  /** Score only the first this many examples. */
  samples?: number;
}

export interface GenerationEvalResult {
  metrics: { rouge1: number; rouge2: number; rougeL: number; rougeLsum: number; gen_len: number };
  predictions: string[];
  references: string[];
}

function promptAndReference(model: LanguageModel, example: TrainExample): { prompt: number[]; reference: number[] } {
  const labels = example.labels ?? example.input_ids;
  if (model.kind === 'seq2seq') return { prompt: [...example.input_ids], reference: labels.filter((id) => id !== -100) };
  const first = labels.findIndex((label) => label !== -100);
  const start = first < 0 ? example.input_ids.length : first;
  return { prompt: example.input_ids.slice(0, start), reference: labels.slice(start).filter((id) => id !== -100) };
}

export function generationMetrics(model: LanguageModel, examples: readonly TrainExample[], options: GenerationEvalOptions): GenerationEvalResult {
  const chosen = examples.slice(0, options.samples ?? examples.length).map((example) => promptAndReference(model, example)).filter(({ prompt }) => prompt.length > 0);
  const references = chosen.map(({ reference }) => options.tokenizer.decode(reference, { skipSpecialTokens: true }).trim());
  const maxNewTokens = options.maxNewTokens ?? Math.max(1, ...chosen.map(({ reference }) => reference.length)) + 16;
  const wasTraining = model.training;
  model.eval();
  const predictions: string[] = [];
  const eos = new Set(model.config.eosTokenIds ?? []);
  let generated = 0;
  try {
    for (const { prompt } of chosen) {
      const result = generate(model, { inputIds: [prompt] }, { maxNewTokens, numBeams: options.numBeams ?? 1, doSample: false });
      const sequence = result.sequences[0];
      const fresh = model.kind === 'causal' ? sequence.slice(prompt.length) : sequence.slice(1);
      const end = fresh.findIndex((id) => eos.has(id));
      const tokens = end < 0 ? fresh : fresh.slice(0, end);
      generated += tokens.length;
      predictions.push(options.tokenizer.decode(tokens, { skipSpecialTokens: true }).trim());
    }
  } finally {
    model.train(wasTraining);
  }
  if (predictions.length === 0) return { metrics: { rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0, gen_len: 0 }, predictions, references };
  const { scores } = rouge(predictions, references, { useStemmer: true, types: ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] });
  return {
    metrics: {
      rouge1: scores.rouge1.fmeasure,
      rouge2: scores.rouge2.fmeasure,
      rougeL: scores.rougeL.fmeasure,
      rougeLsum: scores.rougeLsum.fmeasure,
      gen_len: generated / predictions.length,
    },
    predictions,
    references,
  };
}
