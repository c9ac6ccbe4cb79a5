import { TunekitError } from '../errors.js';

export type Side = 'left' | 'right';

/** Ids of a batch of texts with the mask transformers calls attention_mask (1 = token, 0 = padding). */
export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
}

/** Keeps `keep` ids from one side of a sequence; `side` names the side that loses ids. */
export function truncateIds(ids: number[], keep: number, side: Side): number[] {
  if (ids.length <= keep) return ids;
  return side === 'right' ? ids.slice(0, keep) : ids.slice(ids.length - keep);
}

/** Pads every row to `length` with `padTokenId` on `side` and builds the matching attention mask. */
export function padRows(rows: number[][], length: number, padTokenId: number, side: Side): BatchEncoding {
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  for (const row of rows) {
    const padCount = Math.max(0, length - row.length);
    const padding = new Array<number>(padCount).fill(padTokenId);
    const mask = new Array<number>(row.length).fill(1);
    const maskPadding = new Array<number>(padCount).fill(0);
    if (side === 'left') {
      inputIds.push([...padding, ...row]);
      attentionMask.push([...maskPadding, ...mask]);
    } else {
      inputIds.push([...row, ...padding]);
      attentionMask.push([...mask, ...maskPadding]);
    }
  }
  return { inputIds, attentionMask };
}

export function requirePositiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new TunekitError('invalid-option', `${name} must be a positive integer, got ${value}`);
  }
  return value;
}
