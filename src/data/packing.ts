/**
 * Packing as TRL 1.13 does it (trl/data_utils.py: pack_dataset, _pack_bfd, _pack_wrapped; SFTConfig.packing_strategy
 * defaults to "bfd"). Packing runs on input_ids and labels after labels are built and instead of truncation.
 *
 * - "bfd" (best-fit decreasing): empty sequences are dropped, each sequence is cut to maxLength (the overflow is
 *   lost), sequences are taken longest first (ties in dataset order) and each goes into the open pack whose free
 *   space is the smallest that still fits it (among packs with equal space, the one that reached that space first),
 *   else into a new pack. No sequence is split across packs. Packs come out in the order they were opened, each with
 *   seq_lengths (the packed sequences' lengths in order).
 * - "bfd_split": as bfd, but a sequence longer than maxLength is first split into maxLength pieces (the last
 *   shorter), each packed as its own sequence.
 * - "wrapped": all ids concatenated and cut every maxLength ids, across sequence boundaries; no seq_lengths.
 *
 * What the model must do: with bfd/bfd_split TRL turns on padding-free collation (collate.ts, paddingFree): one row
 * per batch, position_ids restarting at each sequence, the first label of each sequence -100, and no attention mask.
 * Given such a batch (`positionIds`, no `attentionMask`), tunekit's causal models find the packed sequences from the
 * position ids and attend with a block-diagonal causal mask (models/attention.ts, packedSequenceIndices), as
 * transformers 5.17 does for sdpa/eager attention when it runs without a cache (SFTTrainer passes use_cache=False):
 * every packed sequence's logits equal those of the sequence alone.
 */
import { TunekitError } from '../errors.js';

export type PackingStrategy = 'bfd' | 'bfd_split' | 'wrapped';

export interface PackInput {
  input_ids: readonly number[];
  labels: readonly number[];
}

export interface PackedExample {
  input_ids: number[];
  labels: number[];
  /** bfd and bfd_split only. */
  seq_lengths?: number[];
}

interface Sequence {
  input_ids: number[];
  labels: number[];
}

function bestFitDecreasing(sequences: Sequence[], maxLength: number): PackedExample[] {
  const order = sequences.map((sequence, index) => ({ length: sequence.input_ids.length, index }));
  order.sort((a, b) => b.length - a.length); // stable: ties keep dataset order, as Arrow's sort does
  const bins: Array<{ ids: number[] }> = [];
  const bySpace = new Map<number, Array<{ ids: number[] }>>();
  const spaces: number[] = []; // free spaces of open packs (with a non-empty queue), ascending
  for (const { length, index } of order) {
    let space = maxLength;
    for (const candidate of spaces) {
      if (candidate >= length) {
        space = candidate;
        break;
      }
    }
    let bin: { ids: number[] };
    if (space < maxLength) {
      const queue = bySpace.get(space)!;
      bin = queue.shift()!;
      if (queue.length === 0) spaces.splice(spaces.indexOf(space), 1);
    } else {
      bin = { ids: [] };
      bins.push(bin);
    }
    bin.ids.push(index);
    const left = space - length;
    if (left > 0) {
      const queue = bySpace.get(left) ?? [];
      bySpace.set(left, queue);
      queue.push(bin);
      if (queue.length === 1) {
        let at = 0;
        while (at < spaces.length && spaces[at] < left) at++;
        spaces.splice(at, 0, left);
      }
    }
  }
  return bins.map((bin) => ({
    input_ids: bin.ids.flatMap((index) => sequences[index].input_ids),
    labels: bin.ids.flatMap((index) => sequences[index].labels),
    seq_lengths: bin.ids.map((index) => sequences[index].input_ids.length),
  }));
}

/** Packs tokenized examples into sequences of at most maxLength ids. */
export function packExamples(examples: readonly PackInput[], maxLength: number, strategy: PackingStrategy = 'bfd'): PackedExample[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new TunekitError('invalid-option', `packing needs maxLength, a positive integer; got ${maxLength}`);
  examples.forEach((example, index) => {
    if (example.labels.length !== example.input_ids.length) {
      throw new TunekitError('invalid-input', `example ${index + 1}: labels has ${example.labels.length} items, input_ids ${example.input_ids.length}`);
    }
  });
  if (strategy === 'wrapped') {
    const ids = examples.flatMap((example) => example.input_ids);
    const labels = examples.flatMap((example) => example.labels);
    const packs: PackedExample[] = [];
    for (let start = 0; start < ids.length; start += maxLength) {
      packs.push({ input_ids: ids.slice(start, start + maxLength), labels: labels.slice(start, start + maxLength) });
    }
    return packs;
  }
  if (strategy !== 'bfd' && strategy !== 'bfd_split') throw new TunekitError('invalid-option', `packing strategy must be "bfd", "bfd_split" or "wrapped", got ${String(strategy)}`);
  const sequences: Sequence[] = [];
  for (const example of examples) {
    if (example.input_ids.length === 0) continue;
    if (strategy === 'bfd') {
      sequences.push({ input_ids: example.input_ids.slice(0, maxLength), labels: example.labels.slice(0, maxLength) });
    } else {
      for (let start = 0; start < example.input_ids.length; start += maxLength) {
        sequences.push({ input_ids: example.input_ids.slice(start, start + maxLength), labels: example.labels.slice(start, start + maxLength) });
      }
    }
  }
  return bestFitDecreasing(sequences, maxLength);
}
