import { TunekitError } from '../errors.js';
import { decoderStartToken, type LanguageModel } from '../models/types.js';
import { inferenceMode, manualSeed } from '../torch/runtime.js';
import { tensor } from '../torch/ops.js';
import { tidy } from '../torch/tensor.js';
import { BeamHypotheses } from './beam-hypotheses.js';
import { processLogits } from './logits.js';
import { type GenerationOptions, resolveGenerationOptions, type ResolvedGenerationOptions } from './options.js';
import { openSession, type SessionInputs } from './session.js';

export interface GenerationResult {
  /** Causal models: prompt (with its padding) + new tokens; seq2seq: decoder prefix + new tokens. Padded with pad. */
  sequences: number[][];
  /** Beam search: each returned sequence's length-normalized log-probability, as transformers' `sequences_scores`. */
  sequenceScores?: number[];
}

function repeatRows<T>(rows: T[] | undefined, times: number): T[] | undefined {
  return rows?.flatMap((row) => Array.from({ length: times }, () => row));
}

function expandInputs(inputs: SessionInputs, times: number): SessionInputs {
  if (times === 1) return inputs;
  return {
    inputIds: repeatRows(inputs.inputIds, times) as number[][],
    attentionMask: repeatRows(inputs.attentionMask, times),
    decoderInputIds: repeatRows(inputs.decoderInputIds, times),
    inputsEmbeds: inputs.inputsEmbeds?.repeatInterleave(times, 0),
  };
}

function prefixes(model: LanguageModel, inputs: SessionInputs): number[][] {
  if (model.kind === 'causal') return inputs.inputIds.map((row) => [...row]);
  return (inputs.decoderInputIds ?? inputs.inputIds.map(() => [decoderStartToken(model)])).map((row) => [...row]);
}

function newTokenBudget(options: ResolvedGenerationOptions, prefixLength: number, contextLength: number | null): number {
  const byLength = options.maxLength === undefined ? Infinity : options.maxLength - prefixLength;
  const byContext = contextLength === null ? Infinity : contextLength - prefixLength;
  return Math.max(0, Math.min(options.maxNewTokens, byLength, byContext));
}

/** Refuses token ids outside the vocabulary (before they reach an embedding) and prompts longer than the context. */
function checkInputs(model: LanguageModel, inputs: SessionInputs): void {
  const vocab = model.config.vocabSize;
  const rows: [string, number[][] | undefined][] = [['inputIds', inputs.inputIds], ['decoderInputIds', inputs.decoderInputIds]];
  for (const [name, ids] of rows) {
    ids?.forEach((row, r) =>
      row.forEach((id, position) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new TunekitError('E_TOKEN_ID', `${name}[${r}][${position}] is token id ${id}, outside the model's vocabulary (0 to ${vocab - 1})`);
        }
      }),
    );
  }
  const context = model.contextLength;
  const prompt = model.kind === 'causal' ? inputs.inputIds[0]?.length ?? 0 : 0;
  if (context !== null && prompt >= context) {
    throw new TunekitError('E_CONTEXT', `the prompt has ${prompt} tokens, which leaves no room in the model's context of ${context} positions`);
  }
}

function hitsStopString(options: ResolvedGenerationOptions, sequence: number[], prefixLength: number): boolean {
  if (options.stopStrings.length === 0 || options.decode === undefined) return false;
  const text = options.decode(sequence.slice(prefixLength));
  return options.stopStrings.some((stop) => text.endsWith(stop));
}

/** Greedy decoding, or sampling with temperature / top-k / top-p. */
function searchOneBest(model: LanguageModel, inputs: SessionInputs, options: ResolvedGenerationOptions): GenerationResult {
  const expanded = options.doSample ? expandInputs(inputs, options.numReturnSequences) : inputs;
  const sequences = prefixes(model, expanded);
  const prefixLength = sequences[0].length;
  const budget = newTokenBudget(options, prefixLength, model.kind === 'causal' ? model.contextLength : null);
  if (budget === 0) return { sequences };
  if (options.doSample && options.seed !== undefined) manualSeed(options.seed);
  const unfinished = sequences.map(() => true);
  const session = openSession(model, expanded);
  try {
    let logits = session.start();
    for (let generated = 0; generated < budget; generated++) {
      const picked = tidy(() => {
        const scores = processLogits(logits, sequences, generated, options, options.doSample);
        const choice = options.doSample ? scores.softmax(-1).multinomial(1).squeeze(1) : scores.argmax(-1);
        return choice.toFlatArray();
      });
      logits.dispose();
      const tokens = picked.map((token, row) => (unfinished[row] ? token : options.padTokenId));
      tokens.forEach((token, row) => {
        sequences[row].push(token);
        if (unfinished[row] && (options.eosTokenIds.includes(token) || hitsStopString(options, sequences[row], prefixLength))) unfinished[row] = false;
      });
      options.onTokens?.(tokens);
      if (!unfinished.some(Boolean) || generated === budget - 1) break;
      logits = session.step(tokens);
    }
  } finally {
    session.dispose();
  }
  return { sequences };
}

/** Beam search with transformers' scoring: length-normalized log-probabilities, EOS-ended hypotheses kept aside. */
function beamSearch(model: LanguageModel, inputs: SessionInputs, options: ResolvedGenerationOptions): GenerationResult {
  const beams = options.numBeams;
  const batch = inputs.inputIds.length;
  const expanded = expandInputs(inputs, beams);
  let sequences = prefixes(model, expanded);
  const prefixLength = sequences[0].length;
  const budget = newTokenBudget(options, prefixLength, model.kind === 'causal' ? model.contextLength : null);
  const hypotheses = Array.from({ length: batch }, () => new BeamHypotheses(beams, options.lengthPenalty, options.earlyStopping));
  const done = new Array<boolean>(batch).fill(false);
  // The first beam of each input starts alone; the others are copies that must not be picked at step one.
  let beamScores = new Float32Array(batch * beams).map((_, row) => (row % beams === 0 ? 0 : -1e9));
  const session = openSession(model, expanded);
  try {
    let logits = budget > 0 ? session.start() : null;
    for (let generated = 0; generated < budget && logits !== null; generated++) {
      const currentLength = sequences[0].length;
      const vocab = logits.shape[1];
      const current = logits;
      const { scores, indices } = tidy(() => {
        const logProbabilities = processLogits(current, sequences, generated, options, false).logSoftmax(-1);
        const total = logProbabilities.add(tensor(beamScores, { shape: [batch * beams, 1] }));
        const { values, indices: flat } = total.view([batch, beams * vocab]).topk(2 * beams, 1);
        return { scores: values.toFlatArray(), indices: flat.toFlatArray() };
      });
      logits.dispose();
      const nextScores = new Float32Array(batch * beams);
      const nextTokens: number[] = new Array(batch * beams).fill(options.padTokenId);
      const nextRows: number[] = new Array(batch * beams).fill(0);
      for (let b = 0; b < batch; b++) {
        if (done[b]) {
          for (let k = 0; k < beams; k++) nextRows[b * beams + k] = b * beams;
          continue;
        }
        let kept = 0;
        for (let rank = 0; rank < 2 * beams; rank++) {
          const score = scores[b * 2 * beams + rank];
          const flat = indices[b * 2 * beams + rank];
          const token = flat % vocab;
          const row = b * beams + Math.floor(flat / vocab);
          if (options.eosTokenIds.includes(token)) {
            if (rank >= beams) continue;
            hypotheses[b].add(sequences[row], score, currentLength + 1 - prefixLength);
          } else {
            nextScores[b * beams + kept] = score;
            nextTokens[b * beams + kept] = token;
            nextRows[b * beams + kept] = row;
            kept++;
          }
          if (kept === beams) break;
        }
        const best = Math.max(...scores.slice(b * 2 * beams, (b + 1) * 2 * beams));
        done[b] = done[b] || hypotheses[b].isDone(best, currentLength + 1 - prefixLength);
      }
      sequences = nextRows.map((row, i) => [...sequences[row], nextTokens[i]]);
      beamScores = nextScores;
      options.onTokens?.(nextTokens);
      if (done.every(Boolean) || generated === budget - 1) break;
      session.select(nextRows);
      logits = session.step(nextTokens);
    }
  } finally {
    session.dispose();
  }
  for (let b = 0; b < batch; b++) {
    if (done[b]) continue;
    for (let k = 0; k < beams; k++) {
      const row = b * beams + k;
      hypotheses[b].add(sequences[row], beamScores[row], sequences[row].length - prefixLength);
    }
  }
  const chosen: { tokens: number[]; score: number }[] = [];
  for (const hypothesis of hypotheses) chosen.push(...hypothesis.best(options.numReturnSequences));
  const longest = Math.max(...chosen.map((c) => c.tokens.length));
  const width = options.maxLength === undefined ? Math.min(longest + 1, prefixLength + budget) : Math.min(longest + 1, options.maxLength);
  const padded = chosen.map(({ tokens }) => {
    const row = [...tokens];
    if (row.length < width && options.eosTokenIds.length > 0) row.push(options.eosTokenIds[0]);
    while (row.length < width) row.push(options.padTokenId);
    return row;
  });
  return { sequences: padded, sequenceScores: chosen.map((c) => c.score) };
}

/**
 * Generates continuations as transformers' `generate` does: greedy, sampling, or beam search, with a KV cache,
 * left-padded causal batches (positions from the mask) and encoder masks for T5.
 */
export function generate(model: LanguageModel, inputs: SessionInputs, options: GenerationOptions = {}): GenerationResult {
  const resolved = resolveGenerationOptions(options, { eosTokenIds: model.config.eosTokenIds, padTokenId: model.config.padTokenId });
  checkInputs(model, inputs);
  const wasTraining = model.training;
  model.eval();
  try {
    return inferenceMode(() => (resolved.numBeams > 1 && !resolved.doSample ? beamSearch(model, inputs, resolved) : searchOneBest(model, inputs, resolved)));
  } finally {
    if (wasTraining) model.train();
  }
}

