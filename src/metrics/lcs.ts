/** Longest common subsequences over token-id arrays, as rouge-score computes them. */

let tableBuffer = new Int32Array(1024);

/** Length of the LCS of `a` and `b` (one DP row, O(|a|·|b|) time). */
export function lcsLength(a: Int32Array, b: Int32Array): number {
  const columns = b.length;
  if (a.length === 0 || columns === 0) return 0;
  if (tableBuffer.length < columns + 1) tableBuffer = new Int32Array(2 * (columns + 1));
  const row = tableBuffer;
  row.fill(0, 0, columns + 1);
  for (let i = 0; i < a.length; i++) {
    const token = a[i];
    let diagonal = 0; // row[j - 1] of the previous row
    for (let j = 1; j <= columns; j++) {
      const above = row[j];
      if (token === b[j - 1]) row[j] = diagonal + 1;
      else if (row[j - 1] > above) row[j] = row[j - 1];
      diagonal = above;
    }
  }
  return row[columns];
}

/**
 * Marks in `marks` (indexed like `reference`) the positions of one LCS of `reference` and `candidate`, chosen by
 * rouge-score's backtracking: on a match take it; otherwise step left in the candidate when the cell to the left
 * is strictly larger than the cell above, else step up in the reference.
 */
export function markLcs(reference: Int32Array, candidate: Int32Array, marks: Uint8Array): void {
  const rows = reference.length;
  const columns = candidate.length;
  if (rows === 0 || columns === 0) return;
  const width = columns + 1;
  const size = (rows + 1) * width;
  if (tableBuffer.length < size) tableBuffer = new Int32Array(2 * size);
  const table = tableBuffer;
  table.fill(0, 0, width);
  for (let i = 1; i <= rows; i++) {
    const token = reference[i - 1];
    const rowStart = i * width;
    const previousRow = rowStart - width;
    table[rowStart] = 0;
    for (let j = 1; j <= columns; j++) {
      if (token === candidate[j - 1]) table[rowStart + j] = table[previousRow + j - 1] + 1;
      else {
        const above = table[previousRow + j];
        const left = table[rowStart + j - 1];
        table[rowStart + j] = above > left ? above : left;
      }
    }
  }
  let i = rows;
  let j = columns;
  while (i > 0 && j > 0) {
    if (reference[i - 1] === candidate[j - 1]) {
      marks[i - 1] = 1;
      i--;
      j--;
    } else if (table[i * width + j - 1] > table[(i - 1) * width + j]) {
      j--;
    } else {
      i--;
    }
  }
}
