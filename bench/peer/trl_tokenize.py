"""Peer for test/data-sft.test.ts and test/data-collate.test.ts: tokenizes records with TRL's own SFTTrainer
dataset preparation (SFTTrainer._prepare_dataset, called unbound on a stand-in `self` that carries the three
attributes __init__ would set: _tokenizer, completion_only_loss, chat_template -- set here by the same rules as
SFTTrainer.__init__), then collates all prepared examples with TRL's DataCollatorForLanguageModeling as
SFTTrainer.__init__ builds it (pad token: tokenizer.pad_token or eos_token; padding_free when packing with bfd).

usage: python3 bench/peer/trl_tokenize.py CASES.json [OUT.json]
CASES.json: see test/fixtures/data/sft-cases.json. Prints (or writes) {"trl": version, "cases": [...]}, each case
{"name", "examples": [{"input_ids", "labels", "seq_lengths"?}], "batch": {key: [[...]]}} or {"name", "error"}.
"""
import json
import logging
import os
import sys
import tempfile
import types
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import datasets  # noqa: E402
import trl  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from trl import SFTConfig  # noqa: E402
from trl.chat_template_utils import get_training_chat_template, has_generation_markers  # noqa: E402
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling, SFTTrainer  # noqa: E402

datasets.disable_progress_bars()
datasets.disable_caching()

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("TUNEKIT_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
TOKENIZERS = {
    "stories260K": os.path.join(SHARED, "reference", "models", "stories260K"),
    "gpt2-bpe": os.path.join(REPO, "test", "fixtures", "tokenize", "gpt2-bpe"),
}


def run_case(case, templates, out_dir):
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZERS[case["tokenizer"]])
    if "template" in case:
        tokenizer.chat_template = templates[case["template"]]
    args = SFTConfig(output_dir=out_dir, report_to="none", bf16=False, use_cpu=True, **case.get("config", {}))
    dataset = datasets.Dataset.from_list(case["records"])
    sample = next(iter(dataset))
    # The rules of SFTTrainer.__init__ for the attributes _prepare_dataset reads.
    stand_in = types.SimpleNamespace(_tokenizer=tokenizer)
    if args.completion_only_loss is None:
        stand_in.completion_only_loss = "prompt" in sample and "completion" in sample
    else:
        stand_in.completion_only_loss = args.completion_only_loss
    if args.assistant_only_loss and not has_generation_markers(tokenizer.chat_template):
        stand_in.chat_template = get_training_chat_template(tokenizer)
    else:
        stand_in.chat_template = None
    prepared = SFTTrainer._prepare_dataset(stand_in, dataset, tokenizer, args, args.packing, None, "train")
    examples = []
    for row in prepared:
        example = {"input_ids": list(row["input_ids"]), "labels": list(row["labels"])}
        if "seq_lengths" in row:
            example["seq_lengths"] = list(row["seq_lengths"])
        examples.append(example)
    padding_free = args.padding_free or (args.packing and args.packing_strategy in {"bfd", "bfd_split"})
    pad_token = tokenizer.pad_token or tokenizer.eos_token
    collator = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.convert_tokens_to_ids(pad_token),
        padding_free=padding_free,
        pad_to_multiple_of=args.pad_to_multiple_of,
    )
    batch = {key: value.tolist() for key, value in collator(examples).items()} if examples else {}
    return {"name": case["name"], "examples": examples, "batch": batch}


def main():
    spec = json.load(open(sys.argv[1]))
    results = []
    with tempfile.TemporaryDirectory() as out_dir:
        for case in spec["cases"]:
            if not os.path.isdir(TOKENIZERS[case["tokenizer"]]):
                results.append({"name": case["name"], "skipped": "tokenizer folder absent"})
                continue
            try:
                results.append(run_case(case, spec.get("templates", {}), out_dir))
            except Exception as error:  # the error is part of the contract (a refusal)
                results.append({"name": case["name"], "error": f"{type(error).__name__}: {error}"})
    text = json.dumps({"trl": trl.__version__, "cases": results})
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as file:
            file.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
