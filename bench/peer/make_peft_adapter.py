"""Creates an adapter with Hugging Face PEFT on a base model folder, randomizes its weights (so it is not an
identity), saves it, and prints the logits the adapted model gives for the inputs.

usage: make_peft_adapter.py BASE_DIR OUT_DIR '{"type": "LORA"|"IA3"|"PROMPT_TUNING", "kwargs": {...}, "seed": 0,
                                              "inputs": {"input_ids": [[...]], "attention_mask": [[...]], "decoder_input_ids": [[...]]?}}'
"""
import json
import sys

import torch
from peft import IA3Config, LoraConfig, PromptTuningConfig, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

torch.set_num_threads(1)
base_dir, out_dir, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
config = AutoConfig.from_pretrained(base_dir)
seq2seq = config.is_encoder_decoder
cls = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
base = cls.from_pretrained(base_dir, attn_implementation="eager", dtype=torch.float32)
task = "SEQ_2_SEQ_LM" if seq2seq else "CAUSAL_LM"
kinds = {"LORA": LoraConfig, "IA3": IA3Config, "PROMPT_TUNING": PromptTuningConfig}
torch.manual_seed(spec.get("seed", 0))
model = get_peft_model(base, kinds[spec["type"]](task_type=task, **spec["kwargs"]))
generator = torch.Generator().manual_seed(spec.get("seed", 0) + 1)
with torch.no_grad():
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.1)
model.eval()
model.save_pretrained(out_dir)
with torch.no_grad():
    logits = model(**{k: torch.tensor(v) for k, v in spec["inputs"].items()}).logits
print(json.dumps({"shape": list(logits.shape), "logits": logits.flatten().tolist()}))
