/**
 * The finished hypotheses of one input in beam search: at most `beams` of them, each scored by its summed
 * log-probability divided by generatedLength^lengthPenalty.
 */
export class BeamHypotheses {
  readonly #entries: { tokens: number[]; score: number }[] = [];
  #worstScore = 1e9;

  constructor(
    readonly beams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: boolean,
  ) {}

  get size(): number {
    return this.#entries.length;
  }

  add(tokens: number[], sumLogProbabilities: number, generatedLength: number): void {
    const score = sumLogProbabilities / generatedLength ** this.lengthPenalty;
    if (this.#entries.length < this.beams || score > this.#worstScore) {
      this.#entries.push({ tokens: [...tokens], score });
      if (this.#entries.length > this.beams) {
        let worst = 0;
        this.#entries.forEach((entry, i) => {
          if (entry.score < this.#entries[worst].score) worst = i;
        });
        this.#entries.splice(worst, 1);
        this.#worstScore = Math.min(...this.#entries.map((entry) => entry.score));
      } else {
        this.#worstScore = Math.min(score, this.#worstScore);
      }
    }
  }

  /** Whether no running beam can still beat the worst kept hypothesis. */
  isDone(bestSumLogProbabilities: number, generatedLength: number): boolean {
    if (this.#entries.length < this.beams) return false;
    if (this.earlyStopping) return true;
    return this.#worstScore >= bestSumLogProbabilities / generatedLength ** this.lengthPenalty;
  }

  /** The `count` best, best first (ties: the later-added first, as a stable ascending sort popped from the end). */
  best(count: number): { tokens: number[]; score: number }[] {
    const ascending = this.#entries.map((entry, order) => ({ ...entry, order })).sort((a, b) => a.score - b.score || a.order - b.order);
    return ascending.reverse().slice(0, count).map(({ tokens, score }) => ({ tokens, score }));
  }
}
