/**
 * A look at the first examples of a dataset as the trainer will see them: tokenized by tokenizeSftDataset's rules
 * (TRL's SFTTrainer), each token marked with whether it carries loss, and warnings about what silently goes wrong
 * in fine-tuning: examples with no supervised token (dropped), completions cut by max_length, and a pad token that
 * is also EOS (harmless with TRL's collator, fatal to learning EOS with a collator that masks pad ids).
 */
import { TunekitError } from '../errors.js';
import type { Tokenizer } from '../tokenize/index.js';
import { sftPadTokenId } from './collate.js';
import { type SftDatasetOptions, type SftExample, type SftFormat, tokenizeSftDataset, tokenizeSftRecord } from './sft.js';

export interface InspectedToken {
  id: number;
  /** The vocabulary piece (`▁the`, `Ġthe`, `<0x0A>`, `</s>`). */
  token: string;
  /** Carries loss: its label is not -100. */
  supervised: boolean;
}

export interface InspectedExample {
  /** 1-based position in the dataset. */
  record: number;
  where: string;
  /** What the trainer feeds: decoder-only, input ids with their labels; seq2seq, the encoder input (no loss). */
  tokens: InspectedToken[];
  /** Seq2seq only: the decoder targets. */
  targetTokens?: InspectedToken[];
  supervised: number;
  /** max_length cut this example. */
  truncated: boolean;
  /** Supervised tokens max_length cut away (the completion's end with keep_start). */
  supervisedCut: number;
  /** No supervised token left: the trainer leaves the example out (its tokens are shown as cut to max_length). */
  dropped: boolean;
}

export type InspectWarningKind = 'no-supervised-tokens' | 'truncated-completion' | 'pad-is-eos';

export interface InspectWarning {
  kind: InspectWarningKind;
  /** 1-based record numbers it concerns. */
  records: number[];
  message: string;
}

export interface SftInspection {
  format: SftFormat;
  completionOnlyLoss: boolean;
  /** The pad id SFTTrainer's collator gets (sftPadTokenId), or null when the tokenizer has neither pad nor one eos. */
  padTokenId: number | null;
  examples: InspectedExample[];
  warnings: InspectWarning[];
}

export interface InspectOptions extends SftDatasetOptions {
  /** How many records from the start to inspect; default 3. */
  count?: number;
}

const UNLIMITED = Number.MAX_SAFE_INTEGER;

function marked(tokenizer: Tokenizer, ids: readonly number[], labels: readonly number[] | null): InspectedToken[] {
  return ids.map((id, index) => ({ id, token: tokenizer.idToToken(id) ?? `<id ${id}>`, supervised: labels !== null && labels[index] !== -100 }));
}

const supervisedCount = (labels: readonly number[]) => labels.filter((label) => label !== -100).length;

/** The example as the trainer sees it; a dropped one rebuilt from its untruncated form cut to max_length. */
function shownExample(trained: SftExample | null, full: SftExample, options: InspectOptions): SftExample {
  if (trained !== null) return trained;
  const maxLength = options.maxLength === undefined ? 1024 : options.maxLength;
  if (maxLength === null || full.input_ids.length <= maxLength) return full;
  const cut = <T>(items: T[]) => (options.truncationMode === 'keep_end' ? items.slice(items.length - maxLength) : items.slice(0, maxLength));
  return { input_ids: cut(full.input_ids), labels: cut(full.labels), attention_mask: cut(full.attention_mask) };
}

function eosIds(tokenizer: Tokenizer): number[] {
  const eos = tokenizer.eosTokenId;
  return eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
}

function padWarning(tokenizer: Tokenizer, padTokenId: number, examples: InspectedExample[], seq2seq: boolean): InspectWarning | null {
  if (!eosIds(tokenizer).includes(padTokenId)) return null;
  const records = examples.filter((example) => (seq2seq ? example.targetTokens ?? [] : example.tokens).some((token) => token.supervised && token.id === padTokenId)).map((example) => example.record);
  if (records.length === 0) return null;
  const origin = tokenizer.padTokenId === undefined ? 'the tokenizer has no pad token, so SFTTrainer pads with eos_token' : 'the tokenizer\'s pad token is its EOS token';
  return {
    kind: 'pad-is-eos',
    records,
    message:
      `the pad id ${padTokenId} is also the EOS id (${origin}), and EOS carries loss in record${records.length === 1 ? '' : 's'} ${records.join(', ')}. ` +
      'TRL\'s SFTTrainer collator (and tunekit\'s) pads labels with -100 by length, so EOS keeps its loss there; a collator that masks ' +
      'pad ids in the labels (transformers\' DataCollatorForLanguageModeling sets labels equal to pad_token_id to -100) would drop the loss on ' +
      'every EOS and the model would not learn to stop. Set a pad token distinct from EOS before using such a collator',
  };
}

/** The first `count` records tokenized as the trainer would, tokens marked, with warnings naming the records. */
export function inspectSftExamples(tokenizer: Tokenizer, records: readonly unknown[], options: InspectOptions = {}): SftInspection {
  const count = options.count ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new TunekitError('invalid-option', `count must be a positive integer, got ${count}`);
  const where = options.where ?? ((index: number) => `record ${index + 1}`);
  const shown = records.slice(0, count);
  // The dataset-wide decisions (format, completion_only_loss default) come from the first record, as in training.
  const { format, completionOnlyLoss } = tokenizeSftDataset(tokenizer, shown, { ...options, where });
  const recordOptions = { ...options, completionOnlyLoss };
  const examples = shown.map((record, index): InspectedExample => {
    const trained = tokenizeSftRecord(tokenizer, record, recordOptions, where(index));
    const full = tokenizeSftRecord(tokenizer, record, { ...recordOptions, maxLength: null, maxTargetLength: UNLIMITED }, where(index)).example as SftExample;
    const example = shownExample(trained.example, full, options);
    const supervisedCut = supervisedCount(full.labels) - (trained.example === null ? 0 : supervisedCount(trained.example.labels));
    const base = { record: index + 1, where: where(index), truncated: trained.truncated, supervisedCut, dropped: trained.example === null };
    if (options.seq2seq) {
      return { ...base, tokens: marked(tokenizer, example.input_ids, null), targetTokens: marked(tokenizer, example.labels, example.labels), supervised: supervisedCount(example.labels) };
    }
    return { ...base, tokens: marked(tokenizer, example.input_ids, example.labels), supervised: supervisedCount(example.labels) };
  });

  const warnings: InspectWarning[] = [];
  const maxLength = options.seq2seq ? `max_target_length ${options.maxTargetLength ?? 128}` : `max_length ${options.maxLength === undefined ? 1024 : options.maxLength}`;
  for (const example of examples) {
    const name = `record ${example.record} (${example.where})`;
    if (example.supervised === 0) {
      const why = example.supervisedCut > 0 ? `${maxLength} cut all ${example.supervisedCut} of its supervised tokens` : 'every label is -100';
      const effect = example.dropped ? 'the trainer drops it' : 'it adds nothing to the loss';
      warnings.push({ kind: 'no-supervised-tokens', records: [example.record], message: `${name} has no supervised token (${why}): ${effect}` });
    } else if (example.supervisedCut > 0) {
      const side = options.truncationMode === 'keep_end' ? 'start' : 'end';
      warnings.push({
        kind: 'truncated-completion',
        records: [example.record],
        message: `${name}: ${maxLength} cut ${example.supervisedCut} of its ${example.supervised + example.supervisedCut} supervised tokens from the ${side}, so the model never learns how the completion ${side === 'end' ? 'ends' : 'starts'}`,
      });
    }
  }
  let padTokenId: number | null = null;
  try {
    padTokenId = sftPadTokenId(tokenizer).padTokenId;
  } catch {
    // Neither a pad token nor a single eos: the trainer asks for padTokenId; nothing here depends on it.
  }
  const pad = padTokenId === null ? null : padWarning(tokenizer, padTokenId, examples, options.seq2seq === true);
  if (pad !== null) warnings.push(pad);
  return { format, completionOnlyLoss, padTokenId, examples, warnings };
}
