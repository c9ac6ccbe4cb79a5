#!/usr/bin/env python3
"""Builds the tiny model-variant fixtures under test/fixtures/models/<variant>/ with Hugging Face transformers.

Run offline by a developer, never by CI (the tests only read what this writes):

    python3 -m venv --system-site-packages /tmp/mfvenv    # or a venv with torch + transformers==5.17.0
    PIP_INDEX_URL=file:///opt/pypi/simple /tmp/mfvenv/bin/pip install transformers==5.17.0
    /tmp/mfvenv/bin/python bench/peer/make_model_fixtures.py [variant ...]

Each variant is a tiny randomly initialised model of a configuration the shipped hf-tiny references do not cover
(classic T5, tied Llama, rope_theta, Llama 3 / linear rope scaling, Qwen2, Mistral, explicit head_dim, Llama biases,
GPT-2 n_inner + inverse-layer-index scaling, T5 gated-silu, a bfloat16 checkpoint). Weights are re-drawn with a
seeded torch.Generator so activations are O(1) (the hf-tiny rule, written into golden.json["init"]), the model is
saved with save_pretrained(safe_serialization=True), and golden.json records what transformers computes in eval
mode with eager attention: logits (single input, right-padded batch), the loss on a labelled batch, and greedy +
beam-3 generations with sequences_scores. Float values are written as the shortest decimal that round-trips the
float32 value.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import load_file
from torch import nn
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    T5Config,
    T5ForConditionalGeneration,
)
from transformers.pytorch_utils import Conv1D

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "models"
MAX_NEW_TOKENS = 8
FOLDER_LIMIT_BYTES = 300 * 1024

LLAMA_BASE = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    rms_norm_eps=1e-5,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    tie_word_embeddings=False,
)

T5_BASE = dict(
    vocab_size=128,
    d_model=32,
    d_kv=8,
    num_heads=4,
    d_ff=64,
    num_layers=2,
    num_decoder_layers=2,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    layer_norm_epsilon=1e-6,
    pad_token_id=0,
    eos_token_id=1,
    decoder_start_token_id=0,
)

# name -> (model class, config class, config kwargs, seed, options)
VARIANTS: dict[str, dict] = {
    "t5_classic_relu": dict(
        cls=T5ForConditionalGeneration, config_cls=T5Config, seed=2001,
        config=dict(T5_BASE, feed_forward_proj="relu", tie_word_embeddings=True),
        about="classic T5: feed_forward_proj relu (wi/wo), tied lm_head = shared, decoder output scaled by d_model^-0.5",
    ),
    "t5_gated_silu": dict(
        cls=T5ForConditionalGeneration, config_cls=T5Config, seed=2002,
        config=dict(T5_BASE, feed_forward_proj="gated-silu", tie_word_embeddings=False),
        about="T5 v1.1 layout with gated-silu (wi_0/wi_1), untied lm_head, no output scaling",
    ),
    "t5_gated_silu_resaved": dict(
        same_as="t5_gated_silu", resave=True,
        about="t5_gated_silu loaded and saved again by transformers 5.17, as any FLAN-T5 fine-tuned with transformers 5.x is: "
        "config.json then says tie_word_embeddings true with scale_decoder_outputs false, and the file keeps its own "
        "lm_head.weight (transformers does not tie a head whose saved values differ from shared.weight, and does not scale)",
    ),
    "llama_tied": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2003,
        config=dict(LLAMA_BASE, tie_word_embeddings=True),
        about="Llama with tie_word_embeddings=true (lm_head.weight not saved)",
    ),
    "llama_rope_theta": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2004,
        config=dict(LLAMA_BASE, rope_theta=500000.0),
        about="Llama with rope_theta 500000",
    ),
    "llama3_rope_scaling": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2005,
        # head_dim 16 gives 8 frequencies; with theta 500000 and original context 64 they fall in all three
        # llama3 bands (wavelength < 16 kept, 16..64 smoothed, > 64 divided by factor).
        config=dict(LLAMA_BASE, num_attention_heads=2, num_key_value_heads=1, rope_theta=500000.0, max_position_embeddings=128,
                    rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                      original_max_position_embeddings=64)),
        about="Llama 3 rope_scaling (llama3: factor 8, low 1, high 4, original context 64), theta 500000, head_dim 16",
    ),
    "llama3_rope_scaling_hub_config": dict(
        same_as="llama3_rope_scaling",
        about="the llama3_rope_scaling weights with config.json rewritten the way Llama 3.1 checkpoints on the hub "
        "write it (rope_theta + rope_scaling with rope_type/factor/..., torch_dtype), checked by reloading it in transformers",
    ),
    "llama_rope_linear": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2006,
        config=dict(LLAMA_BASE, rope_scaling=dict(rope_type="linear", factor=4.0)),
        about="Llama with linear rope scaling, factor 4",
    ),
    "qwen2": dict(
        cls=Qwen2ForCausalLM, config_cls=Qwen2Config, seed=2007,
        config=dict(LLAMA_BASE, tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
                    bos_token_id=None, eos_token_id=2, use_sliding_window=False),
        about="Qwen2 (as Qwen2.5-0.5B): q/k/v biases, no o_proj bias, tied embeddings, GQA, rope_theta 1e6",
    ),
    "mistral": dict(
        cls=MistralForCausalLM, config_cls=MistralConfig, seed=2008,
        config=dict(LLAMA_BASE, sliding_window=None, rope_theta=1000000.0),
        about="Mistral (model_type mistral, no sliding window as v0.2+), GQA",
    ),
    "llama_head_dim": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2009,
        config=dict(LLAMA_BASE, head_dim=16),
        about="Llama with explicit head_dim 16 != hidden 32 / 4 heads (q_proj 32->64, o_proj 64->32)",
    ),
    "llama_bias": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2010,
        config=dict(LLAMA_BASE, attention_bias=True, mlp_bias=True),
        about="Llama with attention_bias (q/k/v/o biases) and mlp_bias (gate/up/down biases)",
    ),
    "gpt2_inner_scaled": dict(
        cls=GPT2LMHeadModel, config_cls=GPT2Config, seed=2011,
        config=dict(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64, n_inner=48,
                    scale_attn_by_inverse_layer_idx=True, bos_token_id=127, eos_token_id=127, pad_token_id=0,
                    tie_word_embeddings=True),
        about="GPT-2 with n_inner 48 (not 4*n_embd) and scale_attn_by_inverse_layer_idx, tied wte",
    ),
    "llama_bf16": dict(
        cls=LlamaForCausalLM, config_cls=LlamaConfig, seed=2012, dtype=torch.bfloat16,
        config=dict(LLAMA_BASE),
        about="Llama checkpoint saved in bfloat16 (torch_dtype bfloat16); goldens from the bfloat16 model in bfloat16",
    ),
}


# ---------------------------------------------------------------------------------------------------------------
# JSON with float32 values printed as their shortest round-trip decimal


class F32List:
    """A float tensor to be written as nested JSON arrays of shortest-repr float32 numbers."""

    def __init__(self, tensor: torch.Tensor):
        self.array = tensor.detach().to(torch.float32).cpu().numpy()


def f32(value: float) -> str:
    text = repr(np.float32(value))  # numpy prints the shortest decimal that round-trips the float32
    if text.startswith("np.float32("):
        text = text[len("np.float32("):-1]
    if not math.isfinite(float(text)):
        raise ValueError(f"non-finite value {text}")
    return text


def encode(value, indent: int = 0) -> str:
    pad = " " * indent
    if isinstance(value, F32List):
        return encode_array(value.array)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f'{pad}  {json.dumps(str(k))}: {encode(v, indent + 2)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple, F32List)) for v in value):
            return "[" + ", ".join(encode(v) for v in value) + "]"
        items = [f"{pad}  {encode(v, indent + 2)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(value, float):
        return json.dumps(value)
    return json.dumps(value)


def encode_array(array: np.ndarray) -> str:
    if array.ndim == 0:
        return f32(array.item())
    if array.ndim == 1:
        return "[" + ",".join(f32(v) for v in array.tolist()) + "]"
    return "[" + ",".join(encode_array(row) for row in array) + "]"


# ---------------------------------------------------------------------------------------------------------------
# Initialisation (the hf-tiny rule)

INIT_RULE = (
    "Model built with the transformers constructor under torch.manual_seed(seed), then EVERY unique parameter "
    "(model.named_parameters() order, tied parameters once) is overwritten from torch.Generator().manual_seed(seed): "
    "nn.Linear weight ~ N(0, 1/in_features); transformers Conv1D weight [in,out] ~ N(0, 1/in); any bias ~ N(0, 0.1^2); "
    "token-embedding weight [vocab, dim] ~ N(0, 1/dim); GPT-2 wpe and T5 relative_attention_bias ~ N(0, 0.5^2); "
    "norm weights ~ 1 + N(0, 0.1^2); LayerNorm bias ~ N(0, 0.1^2). Draw = torch.randn(shape, generator=g) * std "
    "(+1 for norm weights), in float32."
)


def reinitialize(model: nn.Module, seed: int) -> list:
    generator = torch.Generator().manual_seed(seed)
    record = []
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            module_name, _, leaf = name.rpartition(".")
            module = model.get_submodule(module_name)
            kind = type(module).__name__
            mean = 0.0
            if leaf == "bias":
                std = 0.1
            elif isinstance(module, nn.Linear):
                std = 1 / math.sqrt(module.in_features)
            elif isinstance(module, Conv1D):
                std = 1 / math.sqrt(parameter.shape[0])
            elif isinstance(module, nn.Embedding):
                std = 0.5 if name.endswith(("wpe.weight", "relative_attention_bias.weight")) else 1 / math.sqrt(parameter.shape[1])
            elif "Norm" in kind:
                std, mean = 0.1, 1.0
            else:
                raise ValueError(f"no init rule for {name} ({kind})")
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float32) * std + mean)
            record.append([name, kind, std, mean])
    return record


# ---------------------------------------------------------------------------------------------------------------
# Inputs


def causal_inputs(config) -> dict:
    pad, vocab = 0, config.vocab_size
    bos = config.bos_token_id if config.bos_token_id is not None else 3
    a = [bos, 37, 12, 101, 5, 77, 120, 3]
    b = [bos, 88, 14, 60, 9]
    a = [t % vocab for t in a]
    b = [t % vocab for t in b]
    right = dict(input_ids=[a, b + [pad] * 3], attention_mask=[[1] * 8, [1] * 5 + [0] * 3])
    left = dict(input_ids=[a, [pad] * 3 + b], attention_mask=[[1] * 8, [0] * 3 + [1] * 5])
    labels = [a, b + [-100] * 3]
    return dict(
        single=dict(input_ids=[a], attention_mask=[[1] * 8]),
        batch_right_padded=right,
        loss=dict(right, labels=labels),
        generate=dict(single=dict(input_ids=[a], attention_mask=[[1] * 8]), batch_left_padded=left),
    )


def t5_inputs(model) -> dict:
    config = model.config
    eos = config.eos_token_id
    encoder_a = [37, 12, 101, 5, 77, 120, 3, eos]
    encoder_b = [88, 14, 60, 9, eos]
    labels = [[21, 54, 7, 99, 43, eos], [66, 8, 110, eos, -100, -100]]
    labels_tensor = torch.tensor(labels)
    decoder_input_ids = model._shift_right(labels_tensor).tolist()
    batch = dict(
        input_ids=[encoder_a, encoder_b + [0] * 3],
        attention_mask=[[1] * 8, [1] * 5 + [0] * 3],
        decoder_input_ids=decoder_input_ids,
    )
    single = dict(input_ids=[encoder_a], attention_mask=[[1] * 8], decoder_input_ids=[decoder_input_ids[0][:5]])
    return dict(
        single=single,
        batch_padded=batch,
        loss=dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels),
        generate=dict(
            single=dict(input_ids=single["input_ids"], attention_mask=single["attention_mask"]),
            batch_padded=dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]),
        ),
    )


def as_tensors(inputs: dict) -> dict:
    return {k: torch.tensor(v) for k, v in inputs.items()}


# ---------------------------------------------------------------------------------------------------------------
# Goldens


def build(spec: dict):
    config = spec["config_cls"](**spec["config"], attn_implementation="eager")
    torch.manual_seed(spec["seed"])
    model = spec["cls"](config)
    intended_tie = spec["config"].get("tie_word_embeddings")
    if isinstance(model, T5ForConditionalGeneration) and intended_tie is False:
        # transformers 5.x always ties T5's lm_head to shared when building from a config; FLAN-T5-style checkpoints
        # (tie_word_embeddings false) have their own head, so untie it before the weights are drawn.
        model.lm_head.weight = nn.Parameter(model.shared.weight.detach().clone())
        model.config.tie_word_embeddings = False
    init = reinitialize(model, spec["seed"])
    model.eval()
    return model, init


def min_margin(scores: list[torch.Tensor]) -> float:
    margin = math.inf
    for step in scores:
        top = step.float().topk(2, dim=-1).values
        margin = min(margin, (top[:, 0] - top[:, 1]).min().item())
    return margin


def goldens(model, kind: str, dtype: torch.dtype) -> tuple[dict, dict]:
    inputs = t5_inputs(model) if kind == "seq2seq" else causal_inputs(model.config)
    logits_cases = ["single", "batch_padded"] if kind == "seq2seq" else ["single", "batch_right_padded"]
    out: dict = {"logits": {}}
    with torch.no_grad():
        for case in logits_cases:
            case_inputs = inputs[case]
            logits = model(**as_tensors(case_inputs)).logits
            out["logits"][case] = dict(inputs=case_inputs, shape=list(logits.shape), dtype=str(logits.dtype).replace("torch.", ""), logits=F32List(logits))
        loss = model(**as_tensors(inputs["loss"])).loss
        out["loss"] = dict(inputs=inputs["loss"], loss=float(loss.float().item()))

    settings = dict(max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                    greedy=dict(num_beams=1),
                    beam3=dict(num_beams=3, num_return_sequences=1, early_stopping=False, length_penalty=1.0))
    generated: dict = dict(settings=settings, inputs=inputs["generate"], greedy={}, beam3={})
    margins = {}
    for mode in ("greedy", "beam3"):
        for case, case_inputs in inputs["generate"].items():
            extra = dict(num_beams=3, early_stopping=False, length_penalty=1.0) if mode == "beam3" else dict(num_beams=1)
            with torch.no_grad():
                result = model.generate(**as_tensors(case_inputs), max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                        output_scores=True, return_dict_in_generate=True, **extra)
            entry: dict = dict(sequences=result.sequences.tolist())
            if mode == "beam3":
                entry["sequences_scores"] = [float(s) for s in result.sequences_scores.float().tolist()]
            else:
                margins[case] = min_margin(list(result.scores))
                if case == "single":
                    entry["step_scores"] = [F32List(s) for s in result.scores]
            generated[mode][case] = entry
    generated["greedy_min_top2_margin"] = margins
    out["generate"] = generated
    return out, margins


def check_saved(model, folder: Path, tied_keys: list[str], dtype: torch.dtype) -> None:
    """The file holds exactly the model's unique tensors, bit for bit, and lacks only the tied copies."""
    saved = load_file(str(folder / "model.safetensors"))
    state = model.state_dict()
    missing = sorted(set(state) - set(saved))
    extra = sorted(set(saved) - set(state))
    assert not extra, f"{folder.name}: unexpected keys {extra}"
    assert missing == sorted(tied_keys), f"{folder.name}: missing {missing}, expected only the tied {sorted(tied_keys)}"
    for key, value in saved.items():
        assert value.dtype == dtype, f"{folder.name}: {key} is {value.dtype}"
        assert torch.equal(value, state[key]), f"{folder.name}: {key} differs from the model"


def hub_style_config(folder: Path) -> None:
    """Rewrites config.json the way Llama 3.1 checkpoints on the hub spell rope settings (transformers 4.x)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = rope
    if "dtype" in config:
        config["torch_dtype"] = config.pop("dtype")
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


MIN_MARGIN = 0.005


def save_and_reload(name: str, spec: dict, dtype: torch.dtype, kind: str):
    """Builds the model, saves it into its folder, checks the files, and loads the folder back with transformers."""
    model, init = build(spec)
    if dtype != torch.float32:
        model = model.to(dtype)
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(str(folder), safe_serialization=True)
    if spec["config"].get("tie_word_embeddings") is False:
        # Save the intended tie in config.json (transformers 5.x T5 configs always say true in memory).
        path = folder / "config.json"
        config = json.loads(path.read_text())
        config["tie_word_embeddings"] = False
        path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if name.endswith("_hub_config"):
        hub_style_config(folder)

    intended_tied = spec["config"].get("tie_word_embeddings", False)
    expected_tied = []
    if kind == "seq2seq":
        expected_tied = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"] + (["lm_head.weight"] if intended_tied else [])
    elif intended_tied:
        expected_tied = ["lm_head.weight"]
    check_saved(model, folder, expected_tied, dtype)
    loaded = spec["cls"].from_pretrained(str(folder), attn_implementation="eager", dtype=dtype).eval()
    if spec.get("resave"):
        shutil.rmtree(folder)
        loaded.save_pretrained(str(folder), safe_serialization=True)
        check_saved(model, folder, expected_tied, dtype)
        loaded = spec["cls"].from_pretrained(str(folder), attn_implementation="eager", dtype=dtype).eval()
    for candidate in (model, loaded):
        head = candidate.lm_head.weight
        embedding = candidate.get_input_embeddings().weight
        shared = head is embedding or head.data_ptr() == embedding.data_ptr()
        assert shared == bool(intended_tied), f"{name}: lm_head tied={shared}, intended {intended_tied}"
    return model, loaded, init, folder, expected_tied


def sdpa_goldens(spec: dict, folder: Path, golden: dict, dtype: torch.dtype) -> dict:
    """Reduced-precision checkpoints: the same cases with attn_implementation="sdpa". Eager attention rounds the
    softmax probabilities to the model dtype before multiplying by V; PyTorch's fused SDPA keeps them in float32.
    Both are transformers; an implementation built on SDPA should match these closely and the eager ones within a
    few bfloat16 ulps."""
    model = spec["cls"].from_pretrained(str(folder), attn_implementation="sdpa", dtype=dtype).eval()
    out: dict = {"logits_sdpa": {}}
    with torch.no_grad():
        for case, entry in golden["logits"].items():
            logits = model(**as_tensors(entry["inputs"])).logits
            out["logits_sdpa"][case] = dict(shape=list(logits.shape), logits=F32List(logits))
        out["loss_sdpa"] = float(model(**as_tensors(golden["loss"]["inputs"])).loss.float().item())
    eager = {case: torch.tensor(F32ListValues(entry["logits"])) for case, entry in golden["logits"].items()}
    out["eager_vs_sdpa_max_abs"] = max(
        (eager[case] - torch.from_numpy(entry["logits"].array)).abs().max().item() for case, entry in out["logits_sdpa"].items()
    )
    return out


def F32ListValues(value: F32List):
    return value.array


def compare_reloaded(model, loaded, kind: str) -> str:
    inputs = t5_inputs(model)["batch_padded"] if kind == "seq2seq" else causal_inputs(model.config)["batch_right_padded"]
    with torch.no_grad():
        built = model(**as_tensors(inputs)).logits
        reloaded = loaded(**as_tensors(inputs)).logits
    if torch.equal(built, reloaded):
        return "the model as built and from_pretrained(folder) give bit-identical logits"
    return (f"the model as built and from_pretrained(folder) differ by up to {(built - reloaded).abs().max().item():.3g} in logits; "
            "goldens come from from_pretrained(folder) (for bfloat16: .to(bfloat16) also casts the rotary inv_freq buffer, "
            "which from_pretrained keeps in float32)")


def make(name: str) -> None:
    spec = VARIANTS[name]
    base_name = spec.get("same_as", name)
    base = VARIANTS[base_name]
    merged = dict(base, about=spec["about"], resave=spec.get("resave", False))
    dtype = merged.get("dtype", torch.float32)
    kind = "seq2seq" if merged["cls"] is T5ForConditionalGeneration else "causal"

    # Move to the next seed (+100) until every greedy step's top-1/top-2 logit margin is at least MIN_MARGIN, so
    # that generated ids are a fair exact-match test for an independent float32 implementation.
    for _ in range(50):
        model, loaded, init, folder, tied_keys = save_and_reload(name, merged, dtype, kind)
        golden, margins = goldens(loaded, kind, dtype)
        if min(margins.values()) >= MIN_MARGIN:
            break
        merged["seed"] += 100
    else:
        raise SystemExit(f"{name}: no seed with greedy margin >= {MIN_MARGIN}")
    reload = compare_reloaded(model, loaded, kind)
    model = loaded
    if dtype != torch.float32:
        golden.update(sdpa_goldens(merged, folder, golden, dtype))
    record = dict(
        variant=name,
        about=merged["about"],
        architecture=type(model).__name__,
        versions=dict(python=sys.version.split()[0], torch=torch.__version__, transformers=transformers.__version__, numpy=np.__version__),
        settings=dict(dtype=str(dtype).replace("torch.", ""), device="cpu", torch_num_threads=torch.get_num_threads(),
                      mode="from_pretrained(folder, dtype), model.eval(), torch.no_grad()", attn_implementation="eager",
                      float_encoding="JSON numbers are float32 values printed as the shortest decimal that round-trips float32"),
        seed=merged["seed"],
        init=dict(description=INIT_RULE + (" Then the whole model was cast to bfloat16 and saved; goldens come from the saved folder loaded with from_pretrained (bfloat16 weights, float32 rotary inv_freq)." if dtype == torch.bfloat16 else ""),
                  per_parameter=init),
        config=json.loads((folder / "config.json").read_text()),
        files=dict(tensors=sorted(load_file(str(folder / "model.safetensors")).keys()), tied_parameters_not_saved=sorted(tied_keys)),
        checks=dict(reload=reload, greedy_min_top2_margin=margins),
        notes=dict(
            logits="causal: batch_right_padded is right padding with pad 0, no position_ids (0..L-1 in every row), logits at padded positions included. "
            "T5: batch_padded has encoder right padding; decoder_input_ids = model._shift_right(loss labels).",
            loss="causal: labels = input_ids with -100 at padding, transformers shifts internally (CE(logits[:, :-1], labels[:, 1:])). "
            "T5: labels with -100; decoder inputs = labels shifted right (start 0, -100 -> pad 0); mean CE over non -100 labels.",
            generate="causal: batch_left_padded uses left padding (transformers builds position_ids = cumsum(mask)-1). "
            "Sequences include the prompt (causal) or start with decoder_start 0 (T5). step_scores = next-token logits of each greedy step. "
            "Beam search in transformers 5.17 fills the positions after a finished beam's EOS with `pad_token_id or eos_token_id[0]` "
            "(generation/utils.py _beam_search), i.e. with EOS when pad_token_id is 0; transformers 4.x (and 5.17 with a non-zero pad) "
            "write EOS once, then pad.",
        ),
        **golden,
    )
    text = encode(record) + "\n"
    (folder / "golden.json").write_text(text)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    if size > FOLDER_LIMIT_BYTES:
        raise SystemExit(f"{name}: {size} bytes > {FOLDER_LIMIT_BYTES}")
    print(f"{name}: {size} bytes, greedy min top-2 margin {min(margins.values()):.4f}, {reload}")


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    names = argv or list(VARIANTS)
    for name in names:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name} (known: {', '.join(VARIANTS)})")
        make(name)


if __name__ == "__main__":
    main(sys.argv[1:])
