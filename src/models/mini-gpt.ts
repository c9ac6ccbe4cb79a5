import { ModuleList } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Dropout, Embedding, LayerNorm, Linear, type LayerOptions } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { arange } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor } from '../torch/tensor.js';

/**
 * A small GPT defined in code (pre-LayerNorm blocks, causal self-attention, GELU MLP, learned positions), used by
 * the demo, the engine tests and the train-step benchmark. Its twin in Python is bench/peer/mini_gpt.py.
 */
export interface MiniGPTConfig {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  numLayers: number;
  maxPositions: number;
  dropout?: number;
}

class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(
    private readonly config: MiniGPTConfig,
    options: LayerOptions,
  ) {
    super();
    this.qkv = this.registerModule('qkv', new Linear(config.dModel, 3 * config.dModel, options));
    this.proj = this.registerModule('proj', new Linear(config.dModel, config.dModel, options));
  }

  forward(x: Tensor): Tensor {
    const [batch, length, width] = x.shape;
    const heads = this.config.numHeads;
    const [q, k, v] = this.qkv
      .forward(x)
      .view([batch, length, 3, heads, width / heads])
      .permute([2, 0, 3, 1, 4])
      .split(1, 0)
      .map((t) => t.squeeze(0));
    const dropoutP = this.training ? (this.config.dropout ?? 0) : 0;
    const attended = F.scaledDotProductAttention(q, k, v, { isCausal: true, dropoutP });
    return this.proj.forward(attended.transpose(1, 2).reshape([batch, length, width]));
  }
}

class MLP extends Module {
  readonly fc: Linear;
  readonly proj: Linear;

  constructor(config: MiniGPTConfig, options: LayerOptions) {
    super();
    this.fc = this.registerModule('fc', new Linear(config.dModel, 4 * config.dModel, options));
    this.proj = this.registerModule('proj', new Linear(4 * config.dModel, config.dModel, options));
  }

  forward(x: Tensor): Tensor {
    return this.proj.forward(F.gelu(this.fc.forward(x)));
  }
}

class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: MLP;
  readonly dropout: Dropout;

  constructor(config: MiniGPTConfig, options: LayerOptions) {
    super();
    this.ln1 = this.registerModule('ln1', new LayerNorm([config.dModel], 1e-5, options));
    this.attn = this.registerModule('attn', new CausalSelfAttention(config, options));
    this.ln2 = this.registerModule('ln2', new LayerNorm([config.dModel], 1e-5, options));
    this.mlp = this.registerModule('mlp', new MLP(config, options));
    this.dropout = this.registerModule('dropout', new Dropout(config.dropout ?? 0));
  }

  forward(x: Tensor): Tensor {
    const h = x.add(this.dropout.forward(this.attn.forward(this.ln1.forward(x))));
    return h.add(this.dropout.forward(this.mlp.forward(this.ln2.forward(h))));
  }
}

export class MiniGPT extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: ModuleList<Block>;
  readonly lnF: LayerNorm;
  readonly head: Linear;

  constructor(
    readonly config: MiniGPTConfig,
    options: LayerOptions = {},
  ) {
    super();
    this.wte = this.registerModule('wte', new Embedding(config.vocabSize, config.dModel, options));
    this.wpe = this.registerModule('wpe', new Embedding(config.maxPositions, config.dModel, options));
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: config.numLayers }, () => new Block(config, options))));
    this.lnF = this.registerModule('ln_f', new LayerNorm([config.dModel], 1e-5, options));
    this.head = this.registerModule('head', new Linear(config.dModel, config.vocabSize, { ...options, bias: false }));
    // GPT-2's init: N(0, 0.02) for every matrix and embedding, zero biases.
    noGrad(() => {
      for (const [name, param] of this.namedParameters()) {
        if (name.endsWith('.bias')) param.zero_();
        else if (!name.includes('ln')) param.normal_(0, 0.02);
      }
    });
  }

  /** Logits [batch, length, vocab] for token ids [batch, length]. */
  forward(ids: Tensor): Tensor {
    const length = ids.shape[1];
    let x = this.wte.forward(ids).add(this.wpe.forward(arange(length)));
    for (const block of this.blocks) x = block.forward(x);
    return this.head.forward(this.lnF.forward(x));
  }

  /** Mean next-token cross-entropy: logits at position t predict ids at t+1. */
  loss(ids: Tensor): Tensor {
    const length = ids.shape[1];
    const logits = this.forward(ids.narrow(1, 0, length - 1));
    const targets = ids.narrow(1, 1, length - 1);
    return F.crossEntropy(logits.reshape([-1, this.config.vocabSize]), targets.reshape([-1]));
  }
}
