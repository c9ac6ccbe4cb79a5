"""PyTorch side of bench/train-step: the same MiniGPT and AdamW, timed over N steps after warmup.

usage: train_step_bench.py '{"config": {...}, "batch": 8, "steps": 20, "warmup": 3, "threads": 2}'
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from mini_gpt import MiniGPT  # noqa: E402

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
c = spec["config"]
model = MiniGPT(c)
model.train()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=spec.get("fused", True))
batches = [torch.randint(0, c["vocabSize"], (spec["batch"], c["maxPositions"] + 1)) for _ in range(4)]


def step(i):
    loss = model.loss(batches[i % len(batches)])
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


for i in range(spec["warmup"]):
    step(i)
start = time.perf_counter()
for i in range(spec["steps"]):
    step(i)
seconds = time.perf_counter() - start
print(json.dumps({"steps_per_s": spec["steps"] / seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": torch.__version__}))
