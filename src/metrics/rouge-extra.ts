/**
 * ROUGE measures that rouge-score lacks, defined as in Lin (2004), "ROUGE: A Package for Automatic Evaluation of
 * Summaries", and ROUGE-1.5.5. All work on token-id arrays; `reference` is X (length m), `candidate` is Y (length n).
 */

export interface Overlap {
  /** Matched units (n-grams, skip-bigrams, or weighted LCS mapped back to a length). */
  hits: number;
  referenceCount: number;
  candidateCount: number;
}

/**
 * WLCS(X, Y) with weighting function f(k) = k^weight (Lin 2004, section 3.2): like LCS, but a run of k
 * consecutive matches is worth f(k), so contiguous matches score more than scattered ones.
 *   c(i,j) = c(i-1,j-1) + f(k+1) − f(k), w(i,j) = k+1      when x_i = y_j, where k = w(i-1,j-1)
 *   c(i,j) = max(c(i-1,j), c(i,j-1)), w(i,j) = 0          otherwise (ties take c(i,j-1))
 */
export function weightedLcs(reference: Int32Array, candidate: Int32Array, weight: number): number {
  const columns = candidate.length;
  if (reference.length === 0 || columns === 0) return 0;
  let previousScore = new Float64Array(columns + 1);
  let currentScore = new Float64Array(columns + 1);
  let previousRun = new Int32Array(columns + 1);
  let currentRun = new Int32Array(columns + 1);
  for (let i = 1; i <= reference.length; i++) {
    const token = reference[i - 1];
    currentScore[0] = 0;
    currentRun[0] = 0;
    for (let j = 1; j <= columns; j++) {
      if (token === candidate[j - 1]) {
        const run = previousRun[j - 1];
        currentScore[j] = previousScore[j - 1] + (run + 1) ** weight - run ** weight;
        currentRun[j] = run + 1;
      } else {
        currentScore[j] = previousScore[j] > currentScore[j - 1] ? previousScore[j] : currentScore[j - 1];
        currentRun[j] = 0;
      }
    }
    [previousScore, currentScore] = [currentScore, previousScore];
    [previousRun, currentRun] = [currentRun, previousRun];
  }
  return previousScore[columns];
}

/** ROUGE-W precision and recall: f⁻¹(WLCS / f(n)) and f⁻¹(WLCS / f(m)), with f⁻¹(x) = x^(1/weight). */
export function rougeWeighted(
  reference: Int32Array,
  candidate: Int32Array,
  weight: number,
): { precision: number; recall: number } {
  if (reference.length === 0 || candidate.length === 0) return { precision: 0, recall: 0 };
  const wlcs = weightedLcs(reference, candidate, weight);
  return {
    precision: (wlcs / candidate.length ** weight) ** (1 / weight),
    recall: (wlcs / reference.length ** weight) ** (1 / weight),
  };
}

/**
 * Skip-bigram co-occurrence (ROUGE-S): every ordered pair of tokens (x_i, x_j), i < j, with at most `maxGap`
 * tokens between them (Infinity: any distance, the C(n, 2) pairs of Lin 2004), counted as a multiset and
 * clipped like n-grams. With `withUnigrams` (ROUGE-SU) the unigrams are counted as extra units, which is what
 * ROUGE-1.5.5's begin-of-sentence marker achieves.
 */
export function skipBigramOverlap(
  reference: Int32Array,
  candidate: Int32Array,
  vocabularySize: number,
  maxGap: number,
  withUnigrams: boolean,
): Overlap {
  const referenceUnits = countSkipBigrams(reference, vocabularySize, maxGap, withUnigrams);
  let hits = 0;
  let candidateCount = 0;
  forEachSkipUnit(candidate, vocabularySize, maxGap, withUnigrams, (key) => {
    candidateCount++;
    const available = referenceUnits.counts.get(key);
    if (available !== undefined && available > 0) {
      hits++;
      referenceUnits.counts.set(key, available - 1);
    }
  });
  return { hits, referenceCount: referenceUnits.total, candidateCount };
}

function countSkipBigrams(
  tokens: Int32Array,
  vocabularySize: number,
  maxGap: number,
  withUnigrams: boolean,
): { counts: Map<number, number>; total: number } {
  const counts = new Map<number, number>();
  let total = 0;
  forEachSkipUnit(tokens, vocabularySize, maxGap, withUnigrams, (key) => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
    total++;
  });
  return { counts, total };
}

/** Skip-bigram (a, b) → a·V + b; unigram a → V² + a, so the two kinds never collide. */
function forEachSkipUnit(
  tokens: Int32Array,
  vocabularySize: number,
  maxGap: number,
  withUnigrams: boolean,
  visit: (key: number) => void,
): void {
  const length = tokens.length;
  for (let i = 0; i < length; i++) {
    const first = tokens[i] * vocabularySize;
    if (withUnigrams) visit(vocabularySize * vocabularySize + tokens[i]);
    const last = Math.min(length - 1, i + 1 + maxGap);
    for (let j = i + 1; j <= last; j++) visit(first + tokens[j]);
  }
}
