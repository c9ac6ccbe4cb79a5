import { ModuleList } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Conv1D, Embedding, LayerNorm, type LayerOptions, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { arange } from '../torch/ops.js';
import { Tensor } from '../torch/tensor.js';
import { activationByName, type Activation } from './activations.js';
import { decoderMask, packedSegments } from './attention.js';
import {
  MAX_POSITIONS,
  optionalBoolean,
  optionalPositiveNumber,
  optionalSize,
  optionalString,
  optionalTokenIds,
  type RawConfig,
  requireMultiple,
  requireSize,
} from './config.js';
import { KVCache } from './kv-cache.js';
import { CausalModel, type DecoderStages } from './base.js';
import type { CausalForwardOptions, CausalLM } from './types.js';
import type { WeightExpectation } from './weights-check.js';

export interface GPT2Config {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  innerSize: number;
  maxPositions: number;
  layerNormEps: number;
  activation: string;
  scaleAttentionWeights: boolean;
  scaleByInverseLayerIndex: boolean;
  tieWordEmbeddings: boolean;
  bosTokenIds: number[];
  eosTokenIds: number[];
  padTokenId: number | null;
  source: string;
}

export function parseGPT2Config(raw: RawConfig): GPT2Config {
  const vocabSize = requireSize(raw, 'vocab_size');
  const hiddenSize = requireSize(raw, 'n_embd');
  const numHeads = requireSize(raw, 'n_head');
  requireMultiple(raw, 'n_embd', hiddenSize, 'n_head', numHeads, '(GPT-2 splits the width evenly into heads)');
  const pad = optionalTokenIds(raw, 'pad_token_id', vocabSize);
  const activation = optionalString(raw, 'activation_function', 'gelu_new');
  activationByName(activation, raw.source);
  return {
    modelType: 'gpt2',
    vocabSize,
    hiddenSize,
    numLayers: requireSize(raw, 'n_layer'),
    numHeads,
    innerSize: optionalSize(raw, 'n_inner', 4 * hiddenSize),
    maxPositions: optionalSize(raw, 'n_positions', 1024, MAX_POSITIONS),
    layerNormEps: optionalPositiveNumber(raw, 'layer_norm_epsilon', 1e-5),
    activation,
    scaleAttentionWeights: optionalBoolean(raw, 'scale_attn_weights', true),
    scaleByInverseLayerIndex: optionalBoolean(raw, 'scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: optionalBoolean(raw, 'tie_word_embeddings', true),
    bosTokenIds: optionalTokenIds(raw, 'bos_token_id', vocabSize),
    eosTokenIds: optionalTokenIds(raw, 'eos_token_id', vocabSize),
    padTokenId: pad.length > 0 ? pad[0] : null,
    source: raw.source,
  };
}

/** What the checkpoint's tensors must show for this config (checked before any layer is allocated). */
export function gpt2WeightExpectations(raw: RawConfig): WeightExpectation[] {
  const config = parseGPT2Config(raw);
  return [
    { kind: 'layers', key: 'n_layer', value: config.numLayers, prefix: 'transformer.h.' },
    { kind: 'dimension', key: 'vocab_size', value: config.vocabSize, tensors: ['transformer.wte.weight'], dim: 0 },
    { kind: 'dimension', key: 'n_embd', value: config.hiddenSize, tensors: ['transformer.wte.weight'], dim: 1 },
    { kind: 'dimension', key: 'n_positions', value: config.maxPositions, tensors: ['transformer.wpe.weight'], dim: 0 },
    // Conv1D stores its weight as [in, out].
    { kind: 'dimension', key: 'n_inner', value: config.innerSize, tensors: ['transformer.h.0.mlp.c_fc.weight'], dim: 1 },
  ];
}

class GPT2Attention extends Module {
  readonly c_attn: Conv1D;
  readonly c_proj: Conv1D;

  constructor(
    private readonly config: GPT2Config,
    private readonly layerIndex: number,
    options: LayerOptions,
  ) {
    super();
    this.c_attn = this.registerModule('c_attn', new Conv1D(config.hiddenSize, 3 * config.hiddenSize, options));
    this.c_proj = this.registerModule('c_proj', new Conv1D(config.hiddenSize, config.hiddenSize, options));
  }

  forward(x: Tensor, mask: Tensor | null, cache: KVCache | undefined): Tensor {
    const [batch, length, width] = x.shape;
    const heads = this.config.numHeads;
    const headDim = width / heads;
    let [q, k, v] = this.c_attn.forward(x).split(width, 2).map((t) => t.view([batch, length, heads, headDim]).transpose(1, 2));
    if (cache !== undefined) ({ key: k, value: v } = cache.append(String(this.layerIndex), k, v));
    let scale = this.config.scaleAttentionWeights ? 1 / Math.sqrt(headDim) : 1;
    if (this.config.scaleByInverseLayerIndex) scale /= this.layerIndex + 1;
    const attended = F.scaledDotProductAttention(q, k, v, { attentionMask: mask, isCausal: mask === null && length > 1, scale });
    return this.c_proj.forward(attended.transpose(1, 2).reshape([batch, length, width]));
  }
}

class GPT2MLP extends Module {
  readonly c_fc: Conv1D;
  readonly c_proj: Conv1D;
  private readonly activation: Activation;

  constructor(config: GPT2Config, options: LayerOptions) {
    super();
    this.c_fc = this.registerModule('c_fc', new Conv1D(config.hiddenSize, config.innerSize, options));
    this.c_proj = this.registerModule('c_proj', new Conv1D(config.innerSize, config.hiddenSize, options));
    this.activation = activationByName(config.activation, config.source);
  }

  forward(x: Tensor): Tensor {
    return this.c_proj.forward(this.activation(this.c_fc.forward(x)));
  }
}

class GPT2Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(config: GPT2Config, layerIndex: number, options: LayerOptions) {
    super();
    this.ln_1 = this.registerModule('ln_1', new LayerNorm([config.hiddenSize], config.layerNormEps, options));
    this.attn = this.registerModule('attn', new GPT2Attention(config, layerIndex, options));
    this.ln_2 = this.registerModule('ln_2', new LayerNorm([config.hiddenSize], config.layerNormEps, options));
    this.mlp = this.registerModule('mlp', new GPT2MLP(config, options));
  }

  forward(x: Tensor, mask: Tensor | null, cache: KVCache | undefined): Tensor {
    const h = x.add(this.attn.forward(this.ln_1.forward(x), mask, cache));
    return h.add(this.mlp.forward(this.ln_2.forward(h)));
  }
}

class GPT2Model extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: ModuleList<GPT2Block>;
  readonly ln_f: LayerNorm;

  constructor(config: GPT2Config, options: LayerOptions) {
    super();
    this.wte = this.registerModule('wte', new Embedding(config.vocabSize, config.hiddenSize, options));
    this.wpe = this.registerModule('wpe', new Embedding(config.maxPositions, config.hiddenSize, options));
    this.h = this.registerModule('h', new ModuleList(Array.from({ length: config.numLayers }, (_, i) => new GPT2Block(config, i, options))));
    this.ln_f = this.registerModule('ln_f', new LayerNorm([config.hiddenSize], config.layerNormEps, options));
  }
}

export class GPT2LMHeadModel extends CausalModel implements CausalLM {
  readonly kind = 'causal' as const;

  get contextLength(): number | null {
    return this.config.maxPositions;
  }
  readonly transformer: GPT2Model;
  readonly lm_head: Linear;

  constructor(
    readonly config: GPT2Config,
    options: LayerOptions = {},
  ) {
    super();
    this.transformer = this.registerModule('transformer', new GPT2Model(config, options));
    this.lm_head = this.registerModule('lm_head', new Linear(config.hiddenSize, config.vocabSize, { ...options, bias: false }));
    if (config.tieWordEmbeddings) {
      const head = this.lm_head.weight;
      this.lm_head.setParameter('weight', this.transformer.wte.weight);
      head.dispose();
    }
  }

  embedTokens(ids: Tensor): Tensor {
    return this.transformer.wte.forward(ids);
  }

  /** The forward as stages: token + position embeddings, each block, the final norm (hiddenStates runs them in order). */
  decoderStages(inputIds: Tensor | null, options: CausalForwardOptions = {}): DecoderStages {
    const [batch, length] = (options.inputsEmbeds ?? (inputIds as Tensor)).shape;
    const dtype = options.inputsEmbeds?.dtype ?? this.transformer.wte.weight.dtype;
    const pastLength = options.cache?.length() ?? 0;
    const positionIds = options.positionIds ?? arange(pastLength, pastLength + length).unsqueeze(0);
    const segments = packedSegments(options, batch);
    const mask = decoderMask({ attentionMask: options.attentionMask, batch, length, pastLength, segments, dtype });
    return {
      layerCount: this.transformer.h.length,
      embed: () => (options.inputsEmbeds ?? this.embedTokens(inputIds as Tensor)).add(this.transformer.wpe.forward(positionIds)),
      layer: (index, x) => this.transformer.h.at(index).forward(x, mask, options.cache),
      finish: (x) => this.transformer.ln_f.forward(x),
    };
  }

}
