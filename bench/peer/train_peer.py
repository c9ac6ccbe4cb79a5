"""Trains MiniGPT or the 2-layer MLP from given weights and batches; prints the losses as JSON.

usage: train_peer.py CONFIG_JSON   where CONFIG_JSON = {"model": "gpt"|"mlp", "config": {...}, "weights": path,
       "data": path, "steps": n, "optimizer": {"name": "adamw"|"sgd", ...}, "threads": n}
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mini_gpt import MLP2, MiniGPT  # noqa: E402
from safetensors_io import load  # noqa: E402

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec.get("threads", 1))
weights = load(spec["weights"])
data = load(spec["data"])
if spec["model"] == "gpt":
    model = MiniGPT(spec["config"])
else:
    c = spec["config"]
    model = MLP2(c["inputs"], c["hidden"], c["outputs"])
model.load_state_dict(weights, strict=True)
model.train()
o = spec["optimizer"]
if o["name"] == "adamw":
    optimizer = torch.optim.AdamW(model.parameters(), lr=o["lr"], weight_decay=o["weightDecay"], fused=o.get("fused", False))
else:
    optimizer = torch.optim.SGD(model.parameters(), lr=o["lr"], momentum=o.get("momentum", 0), nesterov=o.get("nesterov", False),
                                weight_decay=o.get("weightDecay", 0))
losses = []
for step in range(spec["steps"]):
    if spec["model"] == "gpt":
        loss = model.loss(data[f"batch.{step}"])
    else:
        loss = F.cross_entropy(model(data[f"x.{step}"]), data[f"y.{step}"])
    loss.backward()
    if spec.get("clip"):
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())
print(json.dumps({"losses": losses}))
