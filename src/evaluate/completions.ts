/**
 * Each system's answer to each test prompt: greedy (or beam) decoding in batches, causal prompts left-padded as
 * transformers' batched generate pads them, the text cut at the first end-of-sequence token and, optionally, at the
 * first stop string. Used by compare, sweep and the demo so every system is decoded the same way.
 */
import { generate, padRows } from '../generate/index.js';
import type { LanguageModel } from '../models/types.js';
import type { Tokenizer } from '../tokenize/index.js';

export interface CompletionOptions {
  /** New tokens per prompt (default 64). */
  maxNewTokens?: number;
  /** Prompts decoded together (default 8). */
  batchSize?: number;
  numBeams?: number;
  /** Cut each completion before the first of these strings (for example the few-shot delimiter "\n\n"). */
  stop?: string[];
  /** Prompts longer than this many tokens keep their last tokens (default: no limit). */
  maxPromptTokens?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface Completions {
  texts: string[];
  /** Generated tokens per prompt (up to the end of sequence, or the step a stop string appeared). */
  tokens: number[];
  seconds: number;
}

function cutAtStop(text: string, stop: readonly string[]): string {
  let end = text.length;
  for (const marker of stop) {
    const at = text.indexOf(marker);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end);
}

/** Decodes every prompt; the model is put in eval mode for the call and restored after. */
export function generateCompletions(model: LanguageModel, tokenizer: Tokenizer, prompts: readonly string[], options: CompletionOptions = {}): Completions {
  const started = performance.now();
  const batchSize = options.batchSize ?? 8;
  const maxNewTokens = options.maxNewTokens ?? 64;
  const eos = new Set(model.config.eosTokenIds ?? []);
  const pad = tokenizer.padTokenId ?? model.config.padTokenId ?? [...eos][0] ?? 0;
  const texts: string[] = [];
  const tokens: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < prompts.length; start += batchSize) {
      const rows = prompts.slice(start, start + batchSize).map((prompt) => {
        const ids = tokenizer.encode(prompt);
        return options.maxPromptTokens !== undefined && ids.length > options.maxPromptTokens ? ids.slice(ids.length - options.maxPromptTokens) : ids;
      });
      const inputs = padRows(rows, pad, model.kind === 'causal' ? 'left' : 'right');
      // generate stops a row once its text ends with a stop string; the text is still cut at the first one below.
      const decode = (ids: number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
      const { sequences } = generate(model, inputs, { maxNewTokens, numBeams: options.numBeams ?? 1, doSample: false, padTokenId: pad, stopStrings: options.stop, decode });
      sequences.forEach((sequence, row) => {
        const fresh = model.kind === 'causal' ? sequence.slice(inputs.inputIds[row].length) : sequence.slice(1);
        const end = fresh.findIndex((id) => eos.has(id));
        const kept = end < 0 ? fresh : fresh.slice(0, end);
        tokens.push(kept.length);
        texts.push(cutAtStop(decode(kept), options.stop ?? []).trim());
      });
      options.onProgress?.(Math.min(start + batchSize, prompts.length), prompts.length);
    }
  } finally {
    model.train(wasTraining);
  }
  return { texts, tokens, seconds: (performance.now() - started) / 1000 };
}
