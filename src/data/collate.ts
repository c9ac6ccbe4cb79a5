/**
 * Batches of tokenized examples, as TRL 1.13's DataCollatorForLanguageModeling (trl/trainer/sft_trainer.py) builds
 * them for SFTTrainer: right padding always (the tokenizer's padding_side is not consulted), input ids padded with
 * the pad id, labels with -100, an attention mask of 1 over each example's own length, optional pad_to_multiple_of.
 * The labels come from the examples (sft.ts already set -100 where no loss is wanted), so a pad id equal to the eos
 * id (TRL's fallback: pad_token or else eos_token) never masks the real EOS: padding is told apart by length, not id.
 *
 * Padding-free (TRL: padding_free, forced on by packing with "bfd"/"bfd_split"): the batch is one row, the
 * examples concatenated, position_ids restarting at 0 at every packed sequence (from seq_lengths), no attention
 * mask, and every label at a position id 0 set to -100 (the first token of a sequence is never predicted from the
 * previous one).
 */
import { TunekitError } from '../errors.js';
import type { Tokenizer } from '../tokenize/index.js';

export interface CollateExample {
  input_ids: readonly number[];
  labels?: readonly number[];
  /** Lengths of the sequences packed into this example (packing.ts); position ids restart at each. */
  seq_lengths?: readonly number[];
}

export interface CollateOptions {
  padTokenId: number;
  padToMultipleOf?: number;
  paddingFree?: boolean;
  /** Also return position ids in padded mode (TRL's return_position_ids). */
  returnPositionIds?: boolean;
}

export interface CollatedBatch {
  inputIds: number[][];
  labels: number[][];
  /** Absent in padding-free mode, as in TRL. */
  attentionMask?: number[][];
  positionIds?: number[][];
}

/** The pad id SFTTrainer gives its collator: the tokenizer's pad token, else its eos token. */
export function sftPadTokenId(tokenizer: Tokenizer): { padTokenId: number; from: 'pad_token' | 'eos_token' } {
  if (tokenizer.padTokenId !== undefined) return { padTokenId: tokenizer.padTokenId, from: 'pad_token' };
  const eos = tokenizer.eosTokenId;
  const id = Array.isArray(eos) ? undefined : eos;
  if (id === undefined) {
    throw new TunekitError('pad-token-missing', `${tokenizer.folder}: the tokenizer has neither a pad token nor a single eos token to pad with; pass padTokenId`);
  }
  return { padTokenId: id, from: 'eos_token' };
}

function paddedLength(length: number, multiple: number | undefined): number {
  if (multiple === undefined) return length;
  if (!Number.isInteger(multiple) || multiple < 1) throw new TunekitError('invalid-option', `padToMultipleOf must be a positive integer, got ${multiple}`);
  return Math.ceil(length / multiple) * multiple;
}

function padRight(rows: ReadonlyArray<readonly number[]>, value: number, multiple: number | undefined): number[][] {
  const length = paddedLength(Math.max(0, ...rows.map((row) => row.length)), multiple);
  return rows.map((row) => [...row, ...new Array<number>(length - row.length).fill(value)]);
}

/** Position ids restarting at 0 at each of `seqLengths` (TRL's get_position_ids_from_packed_seq_lengths). */
export function positionIdsFromSeqLengths(seqLengths: readonly number[]): number[] {
  return seqLengths.flatMap((length) => Array.from({ length }, (_, index) => index));
}

export function collateLanguageModeling(examples: readonly CollateExample[], options: CollateOptions): CollatedBatch {
  if (examples.length === 0) throw new TunekitError('invalid-input', 'collate needs at least one example');
  const inputIds = examples.map((example) => [...example.input_ids]);
  const labels = examples.map((example, index) => {
    const own = example.labels ?? example.input_ids;
    if (own.length !== example.input_ids.length) throw new TunekitError('invalid-input', `example ${index + 1}: labels has ${own.length} items, input_ids ${example.input_ids.length}`);
    return [...own];
  });
  const hasSeqLengths = examples[0].seq_lengths !== undefined;
  const positions = options.paddingFree || options.returnPositionIds
    ? examples.map((example) => (hasSeqLengths ? positionIdsFromSeqLengths(example.seq_lengths ?? []) : example.input_ids.map((_, index) => index)))
    : undefined;
  const multiple = options.padToMultipleOf;
  if (options.paddingFree) {
    const positionIds = padRight([positions!.flat()], 0, multiple);
    const flatLabels = padRight([labels.flat()], -100, multiple);
    flatLabels[0] = flatLabels[0].map((label, index) => (positionIds[0][index] === 0 ? -100 : label));
    return { inputIds: padRight([inputIds.flat()], options.padTokenId, multiple), labels: flatLabels, positionIds };
  }
  const batch: CollatedBatch = {
    inputIds: padRight(inputIds, options.padTokenId, multiple),
    labels: padRight(labels, -100, multiple),
    attentionMask: padRight(inputIds.map((row) => row.map(() => 1)), 0, multiple),
  };
  if (positions) batch.positionIds = padRight(positions, 0, multiple);
  return batch;
}

/**
 * Seq2seq batches (transformers' DataCollatorForSeq2Seq with label_pad_token_id -100): input ids padded with the pad
 * id, labels padded with -100 to their own longest length; the model builds decoder_input_ids from the labels
 * (shift right, decoder_start_token_id first, -100 read as pad). Right padding.
 */
export function collateSeq2Seq(examples: readonly CollateExample[], options: Pick<CollateOptions, 'padTokenId' | 'padToMultipleOf'>): Required<Pick<CollatedBatch, 'inputIds' | 'labels' | 'attentionMask'>> {
  if (examples.length === 0) throw new TunekitError('invalid-input', 'collate needs at least one example');
  return {
    inputIds: padRight(examples.map((example) => example.input_ids), options.padTokenId, options.padToMultipleOf),
    attentionMask: padRight(examples.map((example) => example.input_ids.map(() => 1)), 0, options.padToMultipleOf),
    labels: padRight(examples.map((example) => example.labels ?? []), -100, options.padToMultipleOf),
  };
}
