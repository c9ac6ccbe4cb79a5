"""Loads a base model folder and a PEFT adapter folder with transformers + peft; prints the logits as JSON.

usage: peft_logits.py BASE_DIR ADAPTER_DIR '{"input_ids": [[...]], "attention_mask": [[...]], "decoder_input_ids": [[...]]?}'
"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoConfig

torch.set_num_threads(1)
base_dir, adapter_dir, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
config = AutoConfig.from_pretrained(base_dir)
cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
base = cls.from_pretrained(base_dir, attn_implementation="eager", dtype=torch.float32)
model = PeftModel.from_pretrained(base, adapter_dir)
model.eval()
kwargs = {k: torch.tensor(v) for k, v in spec.items()}
with torch.no_grad():
    logits = model(**kwargs).logits
print(json.dumps({"shape": list(logits.shape), "logits": logits.flatten().tolist()}))
