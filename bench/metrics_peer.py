"""Python peer for bench/metrics.ts: times the reference implementations on the same pairs.

BLEU: sacreBLEU's corpus_bleu (the real package). ROUGE: Google's rouge_score package when importable;
otherwise (it is not installable here) a small stand-in that follows rouge-score 0.1.2's published scoring
rules -- lowercase, [^a-z0-9] -> space, split, NLTK PorterStemmer on tokens longer than 3 characters,
n-gram overlap, LCS tables in plain Python, summary-level union LCS for rougeLsum -- and is reported as
"rouge-score-0.1.2-standin (nltk PorterStemmer)" so the numbers are never mistaken for the real package's.

usage: python3 bench/metrics_peer.py PAIRS.json [REPEATS] [bleu|rouge|all]
(PAIRS.json: a JSON list of [prediction, reference]); prints one JSON object with pairs/second per metric.
"""
import collections
import json
import re
import sys
import time


def standin_rouge_scorer():
    from nltk.stem import porter

    stemmer = porter.PorterStemmer()
    non_alphanumeric = re.compile(r"[^a-z0-9]+")
    spaces = re.compile(r"\s+")
    valid = re.compile(r"^[a-z0-9]+$")

    def tokenize(text):
        tokens = spaces.split(non_alphanumeric.sub(" ", text.lower()))
        tokens = [stemmer.stem(t) if len(t) > 3 else t for t in tokens]
        return [t for t in tokens if valid.match(t)]

    def f1(p, r):
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def ngram_score(ref, pred, n):
        ref_ngrams = collections.Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
        pred_ngrams = collections.Counter(tuple(pred[i:i + n]) for i in range(len(pred) - n + 1))
        hits = sum(min(c, pred_ngrams[g]) for g, c in ref_ngrams.items())
        p = hits / max(sum(pred_ngrams.values()), 1)
        r = hits / max(sum(ref_ngrams.values()), 1)
        return (p, r, f1(p, r))

    def lcs_table(ref, can):
        table = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
        for i in range(1, len(ref) + 1):
            for j in range(1, len(can) + 1):
                if ref[i - 1] == can[j - 1]:
                    table[i][j] = table[i - 1][j - 1] + 1
                else:
                    table[i][j] = max(table[i - 1][j], table[i][j - 1])
        return table

    def lcs_score(ref, pred):
        if not ref or not pred:
            return (0.0, 0.0, 0.0)
        length = lcs_table(ref, pred)[-1][-1]
        p, r = length / len(pred), length / len(ref)
        return (p, r, f1(p, r))

    def lcs_indices(ref, can):
        table = lcs_table(ref, can)
        i, j, picked = len(ref), len(can), []
        while i > 0 and j > 0:
            if ref[i - 1] == can[j - 1]:
                picked.insert(0, i - 1)
                i, j = i - 1, j - 1
            elif table[i][j - 1] > table[i - 1][j]:
                j -= 1
            else:
                i -= 1
        return picked

    def summary_lcs(ref_sents, can_sents):
        if not ref_sents or not can_sents:
            return (0.0, 0.0, 0.0)
        m = sum(map(len, ref_sents))
        n = sum(map(len, can_sents))
        if not n or not m:
            return (0.0, 0.0, 0.0)
        ref_left, can_left = collections.Counter(), collections.Counter()
        for s in ref_sents:
            ref_left.update(s)
        for s in can_sents:
            can_left.update(s)
        hits = 0
        for r in ref_sents:
            union = sorted(set().union(*[lcs_indices(r, c) for c in can_sents]))
            for t in (r[i] for i in union):
                if can_left[t] > 0 and ref_left[t] > 0:
                    hits += 1
                    can_left[t] -= 1
                    ref_left[t] -= 1
        p, r = hits / n, hits / m
        return (p, r, f1(p, r))

    def sentences(text):
        return [tokenize(s) for s in text.split("\n") if len(s)]

    def score(reference, prediction):
        ref, pred = tokenize(reference), tokenize(prediction)
        return {
            "rouge1": ngram_score(ref, pred, 1),
            "rouge2": ngram_score(ref, pred, 2),
            "rougeL": lcs_score(ref, pred),
            "rougeLsum": summary_lcs(sentences(reference), sentences(prediction)),
        }

    return score


def rouge_scorer():
    try:
        from rouge_score import rouge_scorer as package

        scorer = package.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
        return scorer.score, "rouge_score"
    except ImportError:
        return standin_rouge_scorer(), "rouge-score-0.1.2-standin (nltk PorterStemmer)"


def best_of(repeats, run):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    pairs = json.load(open(sys.argv[1]))
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    which = sys.argv[3] if len(sys.argv) > 3 else "all"
    predictions = [p for p, _ in pairs]
    references = [r for _, r in pairs]
    out = {"pairs": len(pairs), "python": sys.version.split()[0]}
    try:
        if which not in ("all", "bleu"):
            raise LookupError
        import sacrebleu

        # Fresh metric objects each run: sacreBLEU's tokenizers memoise lines (lru_cache), so a warm second run
        # would time cache hits; every repeat gets its own BLEU instance and cleared caches.
        def run_bleu():
            from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
            from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

            Tokenizer13a.__call__.cache_clear()
            TokenizerRegexp.__call__.cache_clear()
            out["bleu_score"] = sacrebleu.corpus_bleu(predictions, [references]).score

        seconds = best_of(repeats, run_bleu)
        out["bleu"] = {"implementation": f"sacrebleu {sacrebleu.__version__}", "seconds": seconds, "pairs_per_second": len(pairs) / seconds}
    except ImportError:
        out["bleu"] = {"skipped": "sacrebleu not importable"}
    except LookupError:
        pass
    try:
        if which not in ("all", "rouge"):
            raise LookupError
        score, name = rouge_scorer()

        def run_rouge():
            total = 0.0
            for prediction, reference in pairs:
                total += score(reference, prediction)["rougeL"][2]
            out["rougeL_mean_f"] = total / len(pairs)

        seconds = best_of(repeats, run_rouge)
        out["rouge"] = {"implementation": name, "seconds": seconds, "pairs_per_second": len(pairs) / seconds}
    except ImportError as error:
        out["rouge"] = {"skipped": f"neither rouge_score nor nltk importable ({error})"}
    except LookupError:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
