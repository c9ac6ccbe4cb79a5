/**
 * ROUGE-W, ROUGE-S and ROUGE-SU against worked examples derived by hand from Lin (2004), "ROUGE: A Package for
 * Automatic Evaluation of Summaries" (sections 3.2 and 5), plus the F-measure options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fMeasure, parseRougeType, RougeScorer, weightedLcs } from '../src/metrics/index.js';

function near(actual: number, expected: number, where: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${where}: got ${actual}, expected ${expected}`);
}

test('ROUGE-W: consecutive matches outweigh scattered ones (Lin 2004, section 3.2)', () => {
  // X = a b c d e f g (reference, m = 7); Y1 = a b c d h i k; Y2 = a h b k c i d (n = 7). Both have LCS 4.
  // With f(k) = k²: Y1 matches a run of 4 → WLCS = f(1)−f(0) + f(2)−f(1) + f(3)−f(2) + f(4)−f(3) = f(4) = 16,
  // so R = P = f⁻¹(16 / f(7)) = √(16/49) = 4/7. Y2's matches are never adjacent in both texts, each run has
  // k = 1 → WLCS = 4·f(1) = 4, R = P = √(4/49) = 2/7.
  const reference = 'a b c d e f g';
  const squared = new RougeScorer({ types: ['rougeW'], weight: 2 });
  const first = squared.score('a b c d h i k', reference).rougeW;
  near(first.precision, 4 / 7, 'Y1 precision');
  near(first.recall, 4 / 7, 'Y1 recall');
  near(first.fmeasure, 4 / 7, 'Y1 F');
  const second = squared.score('a h b k c i d', reference).rougeW;
  near(second.recall, 2 / 7, 'Y2 recall');
  near(second.fmeasure, 2 / 7, 'Y2 F');

  // Default weight 1.2: Y1 → WLCS = 4^1.2, R = (4^1.2 / 7^1.2)^(1/1.2) = 4/7; Y2 → WLCS = 4, R = 4^(1/1.2) / 7.
  const standard = new RougeScorer({ types: ['rougeW'] });
  near(standard.score('a b c d h i k', reference).rougeW.recall, 4 / 7, 'Y1 at 1.2');
  near(standard.score('a h b k c i d', reference).rougeW.recall, 4 ** (1 / 1.2) / 7, 'Y2 at 1.2');

  // Runs split by a gap: X = a b x c d, Y = a b c d → runs "a b" and "c d": WLCS = 2·f(2) = 8 with f(k) = k².
  const ids = (text: string) => Int32Array.from(text.split(' '), (token) => token.charCodeAt(0));
  assert.equal(weightedLcs(ids('a b x c d'), ids('a b c d'), 2), 8);
  // Empty input scores 0.
  assert.deepEqual(squared.score('', reference).rougeW, { precision: 0, recall: 0, fmeasure: 0 });
});

test('ROUGE-S: skip-bigram co-occurrence (Lin 2004, section 5)', () => {
  // S1 = "police killed the gunman" has C(4,2) = 6 skip-bigrams: police·killed, police·the, police·gunman,
  // killed·the, killed·gunman, the·gunman.
  // S2 = "police kill the gunman" shares police·the, police·gunman, the·gunman → 3/6 = 0.5.
  // S3 = "the gunman kill police" shares the·gunman → 1/6.
  // S4 = "the gunman police killed" shares the·gunman and police·killed → 2/6.
  const reference = 'police killed the gunman';
  const scorer = new RougeScorer({ types: ['rougeS'] });
  near(scorer.score('police kill the gunman', reference).rougeS.fmeasure, 3 / 6, 'S2');
  near(scorer.score('the gunman kill police', reference).rougeS.fmeasure, 1 / 6, 'S3');
  near(scorer.score('the gunman police killed', reference).rougeS.fmeasure, 2 / 6, 'S4');

  // Maximum gap (ROUGE-1.5.5's -2 N): rougeS0 counts adjacent pairs only: S1 has police·killed, killed·the,
  // the·gunman; S2 shares the·gunman → 1/3. rougeS1 allows one token between: S1 has 5 pairs (all but
  // police·gunman); S2 shares police·the and the·gunman → 2/5.
  const gapped = new RougeScorer({ types: ['rougeS0', 'rougeS1'] });
  const scores = gapped.score('police kill the gunman', reference);
  near(scores.rougeS0.fmeasure, 1 / 3, 'rougeS0');
  near(scores.rougeS1.precision, 2 / 5, 'rougeS1 precision');
  near(scores.rougeS1.recall, 2 / 5, 'rougeS1 recall');

  // Repeated tokens are clipped like n-grams: reference "a a b" → {a·a: 1, a·b: 2}; candidate "a b a" →
  // {a·b: 1, a·a: 1, b·a: 1}; matches min(1,1) + min(1,2) = 2 of 3 on each side.
  const repeated = scorer.score('a b a', 'a a b').rougeS;
  near(repeated.precision, 2 / 3, 'clipped precision');
  near(repeated.recall, 2 / 3, 'clipped recall');
});

test('ROUGE-SU: skip-bigrams plus unigrams', () => {
  // S1 vs S3: unigrams police, the, gunman match (killed ≠ kill): 3 of 4; skip-bigrams 1 of 6 → (1+3)/(6+4).
  // S1 vs S4: all 4 unigrams match; skip-bigrams 2 of 6 → 6/10.
  const scorer = new RougeScorer({ types: ['rougeSU', 'rougeSU0'] });
  const reference = 'police killed the gunman';
  near(scorer.score('the gunman kill police', reference).rougeSU.fmeasure, 4 / 10, 'S3');
  near(scorer.score('the gunman police killed', reference).rougeSU.fmeasure, 6 / 10, 'S4');
  // A one-word candidate has no skip-bigram but can still match as a unigram (the point of ROUGE-SU):
  // "gunman" vs S1 → 1 hit; candidate units 1, reference units 6 + 4 = 10.
  const single = scorer.score('gunman', reference).rougeSU;
  near(single.precision, 1, 'single precision');
  near(single.recall, 1 / 10, 'single recall');
  // rougeSU0: adjacent pairs plus unigrams: S1 has 3 + 4 units; S3 shares the·gunman and 3 unigrams → 4/7.
  near(scorer.score('the gunman kill police', reference).rougeSU0.fmeasure, 4 / 7, 'SU0');
});

test('F-measure: alpha and beta options', () => {
  // P = 0.5, R = 0.25. F1 = 2PR/(P+R) = 1/3.
  near(fMeasure(0.5, 0.25), 1 / 3, 'F1');
  // alpha = 0.8: F = PR / (αR + (1−α)P) = 0.125 / (0.2 + 0.1).
  near(fMeasure(0.5, 0.25, 0.8), 0.125 / 0.3, 'alpha 0.8');
  // beta = 2 ⇔ alpha = 1/5: (1+β²)PR/(β²P+R) = 0.625 / 2.25.
  const scorer = new RougeScorer({ types: ['rouge1'], beta: 2 });
  // prediction "a b" vs reference "a c d e": P = 1/2, R = 1/4.
  near(scorer.score('a b', 'a c d e').rouge1.fmeasure, 0.625 / 2.25, 'beta 2');
  near(fMeasure(0.5, 0.25, 1), 0.5, 'alpha 1 is precision');
  near(fMeasure(0.5, 0.25, 0), 0.25, 'alpha 0 is recall');
  assert.throws(() => new RougeScorer({ alpha: 0.5, beta: 1 }), /alpha or beta/);
});

test('ROUGE type names', () => {
  assert.deepEqual(parseRougeType('rouge3'), { kind: 'ngram', n: 3 });
  assert.deepEqual(parseRougeType('rougeSU4'), { kind: 'skipBigram', maxGap: 4, withUnigrams: true });
  assert.deepEqual(parseRougeType('rougeS'), { kind: 'skipBigram', maxGap: Infinity, withUnigrams: false });
  assert.throws(() => parseRougeType('rouge0'), /unknown ROUGE type "rouge0"/);
  assert.throws(() => parseRougeType('bleu'), /expected rouge1…rouge9/);
  // rouge9 works on long enough texts; rouge3 counts trigrams: "a b c d" vs "a b c e" share "a b c" → 1/2.
  const scorer = new RougeScorer({ types: ['rouge3', 'rouge9'] });
  const scores = scorer.score('a b c d', 'a b c e');
  near(scores.rouge3.fmeasure, 1 / 2, 'rouge3');
  assert.equal(scores.rouge9.fmeasure, 0);
});
