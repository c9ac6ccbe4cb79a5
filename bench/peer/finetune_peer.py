"""The Python peer of bench/finetune.ts (transformers + PEFT on the same torch).

  finetune_peer.py make SHAPE DIR        writes a random-weight model folder of SHAPE (smollm2-135m | flan-t5-small)
  finetune_peer.py train SPEC_JSON       trains it on the bench's fixed batches; prints one JSON line

The training loop is what Trainer runs per step (forward with labels, backward, clip_grad_norm_, fused AdamW,
zero_grad), without Trainer's bookkeeping. Peak RSS is the process's own (ru_maxrss).
"""
import json
import resource
import sys
import time

import torch


def make(shape, out):
    import transformers

    # No dropout in either shape, so both sides compute the same first loss from the same weights and batch.
    torch.manual_seed(0)
    if shape == "smollm2-135m":
        config = transformers.LlamaConfig(
            vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
            num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5,
            tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2,
        )
        model = transformers.LlamaForCausalLM(config)
    elif shape == "flan-t5-small":
        config = transformers.T5Config(
            vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0,
            eos_token_id=1, dropout_rate=0.0,
        )
        model = transformers.T5ForConditionalGeneration(config)
    else:
        raise SystemExit(f"unknown shape {shape}")
    model.save_pretrained(out)


def train(spec):
    import transformers

    torch.set_num_threads(spec["threads"])
    cls = transformers.AutoModelForSeq2SeqLM if spec["seq2seq"] else transformers.AutoModelForCausalLM
    model = cls.from_pretrained(spec["model"], dtype=torch.float32, attn_implementation="sdpa" if not spec["seq2seq"] else None)
    if spec["method"] == "lora":
        import peft

        config = peft.LoraConfig(r=spec["r"], lora_alpha=spec["alpha"], target_modules=spec["targets"], lora_dropout=0.0,
                                 task_type="SEQ_2_SEQ_LM" if spec["seq2seq"] else "CAUSAL_LM")
        model = peft.get_peft_model(model, config)
    if spec.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if spec["method"] == "lora":
            model.enable_input_require_grads()
    model.train()
    model.config.use_cache = False
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=spec["lr"], weight_decay=0.0, fused=True)
    batches = []
    for b in spec["batches"]:
        batch = {"input_ids": torch.tensor(b["input_ids"]), "labels": torch.tensor(b["labels"])}
        if "attention_mask" in b:
            batch["attention_mask"] = torch.tensor(b["attention_mask"])
        batches.append(batch)
    times = []
    losses = []
    tokens = []
    for step in range(spec["warmup"] + spec["steps"]):
        batch = batches[step % len(batches)]
        start = time.perf_counter()
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        times.append(time.perf_counter() - start)
        tokens.append(int(batch["input_ids"].numel() + (batch["labels"].numel() if spec["seq2seq"] else 0)))
    measured = slice(spec["warmup"], None)
    print(json.dumps({
        "tokens_per_second": sum(tokens[measured]) / sum(times[measured]),
        "seconds_per_step": sum(times[measured]) / spec["steps"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "losses": losses,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        train(json.loads(open(sys.argv[2]).read()))
