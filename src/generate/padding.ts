/**
 * Rows of token ids of different lengths as one rectangular batch with its attention mask: causal prompts padded on
 * the left (so every row's last token is the one decoding continues from, as transformers pads for generate),
 * encoder inputs on the right.
 */
export interface PaddedBatch {
  inputIds: number[][];
  attentionMask: number[][];
}

export function padRows(rows: readonly (readonly number[])[], pad: number, side: 'left' | 'right'): PaddedBatch {
  const width = Math.max(...rows.map((row) => row.length));
  const fill = (row: readonly number[], value: number) => new Array<number>(width - row.length).fill(value);
  return {
    inputIds: rows.map((row) => (side === 'left' ? [...fill(row, pad), ...row] : [...row, ...fill(row, pad)])),
    attentionMask: rows.map((row) => (side === 'left' ? [...fill(row, 0), ...row.map(() => 1)] : [...row.map(() => 1), ...fill(row, 0)])),
  };
}
