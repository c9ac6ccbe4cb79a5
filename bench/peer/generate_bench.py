"""transformers side of bench/generate: greedy decoding with KV cache on a random-weight model, EOS disabled.

usage: generate_bench.py '{"kind": "causal"|"seq2seq", "config": {...}, "batch": 1, "prompt": 32, "new": 32, "threads": 2}'
"""
import json
import resource
import sys
import time

import torch
import transformers

spec = json.loads(sys.argv[1])
torch.set_num_threads(spec["threads"])
torch.manual_seed(0)
config = transformers.AutoConfig.for_model(**spec["config"])
if spec["kind"] == "causal":
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
else:
    model = transformers.AutoModelForSeq2SeqLM.from_config(config, dtype=torch.float32)
model.eval()
vocab = spec["config"]["vocab_size"]
ids = torch.randint(3, vocab, (spec["batch"], spec["prompt"]))
mask = torch.ones_like(ids)
settings = dict(max_new_tokens=spec["new"], min_new_tokens=spec["new"], do_sample=False, num_beams=1,
                eos_token_id=None, pad_token_id=0)


def run():
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, **settings)
    return out


run()
times = []
for _ in range(spec.get("repeats", 3)):
    start = time.perf_counter()
    out = run()
    times.append(time.perf_counter() - start)
seconds = sorted(times)[len(times) // 2]
generated = spec["new"]
print(json.dumps({"tokens_per_s": spec["batch"] * generated / seconds, "seconds": seconds,
                  "sequence_length": out.shape[1], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "transformers": transformers.__version__, "torch": torch.__version__}))
