"""Peer for test/train-vs-trainer: runs transformers' Trainer on pre-tokenized examples and prints its logs as JSON.

Usage: trainer_losses.py SPEC.json, where SPEC holds model (folder), adapter (optional PEFT folder to start from),
train / eval (lists of {input_ids, labels}), pad_token_id, args (TrainingArguments keys) and tensors (parameter
names whose final values to report). float32, eager attention, one thread, CPU. The collator pads as TRL's
DataCollatorForLanguageModeling does (right padding: pad id, labels -100, attention 0).
"""
import json
import sys
import tempfile

import torch

torch.set_num_threads(1)

from transformers import AutoModelForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402


def collate(features, pad_token_id):
    length = max(len(f["input_ids"]) for f in features)
    ids, labels, mask = [], [], []
    for f in features:
        n = len(f["input_ids"])
        ids.append(list(f["input_ids"]) + [pad_token_id] * (length - n))
        labels.append(list(f.get("labels", f["input_ids"])) + [-100] * (length - n))
        mask.append([1] * n + [0] * (length - n))
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


class Record(TrainerCallback):
    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.logs.append({"step": state.global_step, **(logs or {})})


def main():
    spec = json.load(open(sys.argv[1]))
    model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32, attn_implementation="eager")
    if spec.get("adapter"):
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec["adapter"], is_trainable=True)
    record = Record()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            report_to="none",
            disable_tqdm=True,
            save_strategy="no",
            use_cpu=True,
            dataloader_num_workers=0,
            **spec["args"],
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=spec["train"],
            eval_dataset=spec.get("eval"),
            data_collator=lambda features: collate(features, spec["pad_token_id"]),
            callbacks=[record],
        )
        result = trainer.train()
    named = dict(model.named_parameters())
    tensors = {}
    for name in spec.get("tensors", []):
        tensors[name] = named[name].detach().reshape(-1).tolist()
    print(json.dumps({
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "logs": record.logs,
        "train_loss": result.training_loss,
        "global_step": result.global_step,
        "tensors": tensors,
    }))


if __name__ == "__main__":
    main()
