"""Prints, as JSON, the adapter_config.json values Hugging Face PEFT writes for configs built with only the given
arguments (its defaults for everything else). Recorded in test/fixtures/peft/builder-defaults.json; the test
reruns it when peft is installed.

usage: peft_config_defaults.py
"""
import json

import peft
from peft import IA3Config, LoraConfig, PromptTuningConfig

CASES = {
    "lora": LoraConfig(r=8, target_modules="all-linear"),
    "lora_bare": LoraConfig(),
    "ia3": IA3Config(),
    "prompt_tuning": PromptTuningConfig(num_virtual_tokens=20),
}


def plain(value):
    if isinstance(value, set):
        return sorted(value)
    return str(value)


out = {"peft_version": peft.__version__}
for name, config in CASES.items():
    out[name] = json.loads(json.dumps(config.to_dict(), default=plain))
print(json.dumps(out, indent=2, sort_keys=True))
