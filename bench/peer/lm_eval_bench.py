"""lm-evaluation-harness's hf backend on one task, timed: the peer of bench/eval.ts.

python3 bench/peer/lm_eval_bench.py '{"model": DIR, "tasks_dir": DIR, "task": NAME, "num_fewshot": K, "threads": T, "repeats": R}'
Prints one JSON line: documents/s (median of R timed simple_evaluate runs after the model is loaded; the first run
also warms up), the run's acc, and the lm-eval version.
"""

import json
import os
import statistics
import sys
import time


def main():
    spec = json.loads(sys.argv[1])
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    torch.set_num_threads(spec["threads"])
    os.chdir(spec["tasks_dir"])
    lm = HFLM(pretrained=spec["model"], batch_size=spec.get("batch_size", 1), device="cpu", dtype="float32")
    manager = TaskManager(include_path=spec["tasks_dir"], include_defaults=False)
    rates = []
    acc = None
    for _ in range(spec["repeats"] + 1):
        start = time.perf_counter()
        out = lm_eval.simple_evaluate(model=lm, tasks=[spec["task"]], task_manager=manager, num_fewshot=spec["num_fewshot"], bootstrap_iters=0)
        elapsed = time.perf_counter() - start
        documents = out["n-samples"][spec["task"]]["effective"]
        rates.append(documents / elapsed)
        acc = out["results"][spec["task"]]["acc,none"]
    print(json.dumps({"docs_per_s": statistics.median(rates[1:]), "acc": acc, "lm_eval": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "0.4.13"}))


if __name__ == "__main__":
    main()
