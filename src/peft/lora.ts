import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import { ModuleDict } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Linear, ProjectionLayer } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import { type AdapterConfigBase, COMMON_DEFAULTS, type ConfigOptions, type ConfigReader, type Json } from './config.js';
import { copyModules } from './copies.js';
import { adapterModulePattern, type AdapterLayer, type Attachment, type PeftMethod, registerPeftMethod } from './method.js';
import { DEFAULT_LORA_TARGETS, patternValue, selectProjections, type TargetModules } from './targets.js';

export type LoraBias = 'none' | 'all' | 'lora_only';

export interface LoraConfig extends AdapterConfigBase {
  peftType: 'LORA';
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: TargetModules | null;
  useRslora: boolean;
  initLoraWeights: boolean | 'gaussian';
  bias: LoraBias;
  fanInFanOut: boolean;
  modulesToSave: string[] | null;
  layersToTransform: number[] | number | null;
  layersPattern: string | string[] | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

/** The LoRA fields of a config, as PEFT's LoraConfig defaults them. */
export type LoraFields = Omit<LoraConfig, keyof AdapterConfigBase>;

export const LORA_DEFAULTS: LoraFields = {
  r: 8,
  loraAlpha: 8,
  loraDropout: 0,
  targetModules: null,
  useRslora: false,
  initLoraWeights: true,
  bias: 'none',
  fanInFanOut: false,
  modulesToSave: null,
  layersToTransform: null,
  layersPattern: null,
  rankPattern: {},
  alphaPattern: {},
};

/** A LoRA config with Hugging Face PEFT's defaults: `loraConfig({ r: 8, targetModules: 'all-linear' })`. */
export function loraConfig(options: ConfigOptions<LoraConfig> = {}): LoraConfig {
  return { ...COMMON_DEFAULTS, ...LORA_DEFAULTS, ...options, peftType: 'LORA' };
}

/** One LoRA adapter's settings for a layer. */
export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /** Scaling alpha/√r instead of alpha/r (rank-stabilized LoRA). */
  useRslora: boolean;
  /**
   * A: kaiming-uniform (PEFT's default, `true`) or N(0, 1/r) (`gaussian`), B zero; `none` (`false`): PEFT skips its
   * initialization, so A and B keep nn.Linear's default, U(±1/√fan_in) each, and the adapter changes the output at once.
   */
  init: 'kaiming' | 'gaussian' | 'none';
}

export function loraScaling(settings: Pick<LoraSettings, 'r' | 'alpha' | 'useRslora'>): number {
  return settings.useRslora ? settings.alpha / Math.sqrt(settings.r) : settings.alpha / settings.r;
}

class LoraDropout extends Module {
  constructor(readonly p: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/**
 * The LoRA state of one projection layer: for each named adapter, A (r×in) and B (out×r) with
 * output += dropout(x)·Aᵀ·Bᵀ·scaling. Registered on the layer as `lora_A.<name>`, `lora_B.<name>`, so parameter names
 * follow PEFT's (`…q_proj.lora_A.default.weight`). Adapters merged into the weight contribute nothing here.
 */
export class LoraLayer implements AdapterLayer {
  readonly loraA: ModuleDict<Linear>;
  readonly loraB: ModuleDict<Linear>;
  readonly dropout: ModuleDict<LoraDropout>;
  readonly scaling = new Map<string, number>();
  readonly merged = new Set<string>();
  /** Adapters whose delta is added in forward; set by the PEFT model. */
  active: string[] = [];
  /**
   * Adapters per batch row instead of `active` (serving requests for several adapters in one batch): each
   * adapter's delta times its [batch, 1, 1] mask, 1 on its rows and 0 elsewhere. Set by `PeftModel.withRowAdapters`.
   */
  rowMasks: Map<string, Tensor> | null = null;

  constructor(readonly layer: ProjectionLayer) {
    this.loraA = layer.setChild('lora_A', new ModuleDict<Linear>());
    this.loraB = layer.setChild('lora_B', new ModuleDict<Linear>());
    this.dropout = layer.setChild('lora_dropout', new ModuleDict<LoraDropout>());
    layer.adapters.push(this);
  }

  /** The LoraLayer attached to `layer`, creating it on first use. */
  static of(layer: ProjectionLayer): LoraLayer {
    const existing = layer.adapters.find((adapter): adapter is LoraLayer => adapter instanceof LoraLayer);
    return existing ?? new LoraLayer(layer);
  }

  get names(): string[] {
    return [...this.loraA.keys()];
  }

  add(name: string, settings: LoraSettings): void {
    if (this.loraA.has(name)) throw new TunekitError('E_ADAPTER', `adapter "${name}" already exists on this layer`);
    if (!Number.isInteger(settings.r) || settings.r < 1) throw new TunekitError('E_ADAPTER', `LoRA rank r must be a positive integer, got ${settings.r}`);
    const dtype = this.layer.weightDtype;
    const device = this.layer.weightDevice;
    const a = this.loraA.set(name, new Linear(this.layer.inFeatures, settings.r, { bias: false, dtype, device }));
    const b = this.loraB.set(name, new Linear(settings.r, this.layer.outFeatures, { bias: false, dtype, device }));
    this.dropout.set(name, new LoraDropout(settings.dropout));
    noGrad(() => {
      if (settings.init === 'gaussian') a.weight.normal_(0, 1 / settings.r);
      else a.weight.uniform_(-1 / Math.sqrt(this.layer.inFeatures), 1 / Math.sqrt(this.layer.inFeatures));
      if (settings.init === 'none') b.weight.uniform_(-1 / Math.sqrt(settings.r), 1 / Math.sqrt(settings.r));
      else b.weight.zero_();
    });
    this.scaling.set(name, loraScaling(settings));
  }

  /** Removes an adapter; a merged one is first unmerged unless `keepMerged` (merge-and-unload). */
  delete(name: string, options: { keepMerged?: boolean } = {}): void {
    if (this.merged.has(name) && !options.keepMerged) this.unmerge(name);
    this.merged.delete(name);
    this.loraA.delete(name)?.dispose();
    this.loraB.delete(name)?.dispose();
    this.dropout.delete(name);
    this.scaling.delete(name);
    this.active = this.active.filter((active) => active !== name);
  }

  /** scaling·B·A, laid out like the base weight ([out, in], or [in, out] for Conv1D). */
  deltaWeight(name: string): Tensor {
    const a = this.loraA.get(name);
    const b = this.loraB.get(name);
    if (a === undefined || b === undefined) throw new TunekitError('E_ADAPTER', `no LoRA adapter "${name}" on this layer`);
    return tidy(() => {
      const delta = b.weight.float().matmul(a.weight.float()).mul(this.scaling.get(name) as number);
      return this.layer.fanInFanOut ? delta.t().contiguous() : delta;
    });
  }

  /**
   * Adds the adapter's delta into the base weight (computed in float32), so it costs nothing at inference. An NF4
   * base is dequantized first and stays in float (QLoRA's merge); see `mergeQuantized` to re-quantize.
   */
  merge(name: string): void {
    if (this.merged.has(name)) return;
    if (this.layer.quantizedWeight !== null) this.layer.dequantize();
    noGrad(() => tidy(() => this.layer.weight.copy_(this.layer.weight.float().add(this.deltaWeight(name)))));
    this.merged.add(name);
  }

  unmerge(name: string): void {
    if (!this.merged.has(name)) return;
    noGrad(() => tidy(() => this.layer.weight.copy_(this.layer.weight.float().sub(this.deltaWeight(name)))));
    this.merged.delete(name);
  }

  adaptOutput(input: Tensor, output: Tensor): Tensor {
    if (this.rowMasks !== null) return this.adaptRows(input, output, this.rowMasks);
    let result = output;
    for (const name of this.active) {
      if (this.merged.has(name)) continue;
      const a = this.loraA.get(name);
      const b = this.loraB.get(name);
      if (a === undefined || b === undefined) continue;
      const x = (this.dropout.get(name) as LoraDropout).forward(input).to(a.weight.dtype);
      result = result.add(b.forward(a.forward(x)).mul(this.scaling.get(name) as number).to(result.dtype));
    }
    return result;
  }

  private adaptRows(input: Tensor, output: Tensor, masks: Map<string, Tensor>): Tensor {
    let result = output;
    for (const [name, mask] of masks) {
      const a = this.loraA.get(name);
      const b = this.loraB.get(name);
      if (a === undefined || b === undefined || this.merged.has(name)) continue;
      const x = (this.dropout.get(name) as LoraDropout).forward(input).to(a.weight.dtype);
      result = result.add(b.forward(a.forward(x)).mul(this.scaling.get(name) as number).mul(mask).to(result.dtype));
    }
    return result;
  }

  /** Removes all LoRA state from the layer (after merging, or to drop the adapters). */
  detach(options: { keepMerged?: boolean } = {}): void {
    for (const name of this.names) this.delete(name, options);
    this.layer.deleteChild('lora_A');
    this.layer.deleteChild('lora_B');
    this.layer.deleteChild('lora_dropout');
    const index = this.layer.adapters.indexOf(this);
    if (index >= 0) this.layer.adapters.splice(index, 1);
  }
}

export function parseLoraFields(read: ConfigReader, json: Json, file: string): LoraFields {
  if (json.use_dora === true) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "use_dora": true (DoRA) is not supported`);
  if (json.lora_bias === true) throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "lora_bias": true is not supported`);
  const init = json.init_lora_weights ?? LORA_DEFAULTS.initLoraWeights;
  if (init !== true && init !== false && init !== 'gaussian') throw new TunekitError('E_ADAPTER_CONFIG', `${file}: "init_lora_weights" must be true, false or "gaussian", found ${JSON.stringify(init)}`);
  return {
    r: read.number('r', LORA_DEFAULTS.r),
    loraAlpha: read.number('lora_alpha', LORA_DEFAULTS.loraAlpha),
    loraDropout: read.number('lora_dropout', LORA_DEFAULTS.loraDropout),
    targetModules: read.targets('target_modules'),
    useRslora: read.boolean('use_rslora', LORA_DEFAULTS.useRslora),
    initLoraWeights: init,
    bias: read.string('bias', LORA_DEFAULTS.bias, ['none', 'all', 'lora_only'] as const) as LoraBias,
    fanInFanOut: read.boolean('fan_in_fan_out', LORA_DEFAULTS.fanInFanOut),
    modulesToSave: read.stringList('modules_to_save'),
    layersToTransform: read.integers('layers_to_transform'),
    layersPattern: read.stringOrList('layers_pattern'),
    rankPattern: read.numberMap('rank_pattern'),
    alphaPattern: read.numberMap('alpha_pattern'),
  };
}

export function serializeLoraFields(config: LoraFields): Json {
  return {
    alpha_pattern: config.alphaPattern,
    bias: config.bias,
    fan_in_fan_out: config.fanInFanOut,
    init_lora_weights: config.initLoraWeights,
    layers_pattern: config.layersPattern,
    layers_to_transform: config.layersToTransform,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave,
    r: config.r,
    rank_pattern: config.rankPattern,
    target_modules: config.targetModules,
    use_rslora: config.useRslora,
  };
}

/** The biases LoRA's `bias` setting trains: "all" every bias of the base model, "lora_only" those of adapted layers. */
function trainedBiases(model: LanguageModel, bias: LoraBias, adapted: ReadonlySet<ProjectionLayer>): string[] {
  if (bias === 'none') return [];
  const internal = adapterModulePattern();
  const biases: string[] = [];
  for (const [moduleName, module] of model.namedModules()) {
    if (internal.test(moduleName)) continue;
    if (bias === 'lora_only' && !(module instanceof ProjectionLayer && adapted.has(module))) continue;
    if (module.namedParameters().some(([parameterName]) => parameterName === 'bias')) biases.push(moduleName === '' ? 'bias' : `${moduleName}.bias`);
  }
  return biases;
}

/** Attaches LoRA to the targeted projections (with modules_to_save copies and trained biases). */
export function attachLora(model: LanguageModel, name: string, config: LoraFields): Attachment {
  const modelType = model.config.modelType;
  const targets = config.targetModules ?? DEFAULT_LORA_TARGETS[modelType];
  if (targets === undefined) throw new TunekitError('E_ADAPTER_TARGETS', `no default LoRA target modules for model_type "${modelType}": set targetModules`);
  const selected = selectProjections(model, { targets, layersToTransform: config.layersToTransform, layersPattern: config.layersPattern });
  const layers: LoraLayer[] = [];
  for (const [moduleName, layer] of selected) {
    const lora = LoraLayer.of(layer);
    lora.add(name, {
      r: patternValue(moduleName, config.rankPattern, config.r),
      alpha: patternValue(moduleName, config.alphaPattern, config.loraAlpha),
      dropout: config.loraDropout,
      useRslora: config.useRslora,
      init: config.initLoraWeights === 'gaussian' ? 'gaussian' : config.initLoraWeights === false ? 'none' : 'kaiming',
    });
    layers.push(lora);
  }
  const copies = copyModules(model, config.modulesToSave);
  return { layers, copies, sharedTrainable: trainedBiases(model, config.bias, new Set(layers.map((lora) => lora.layer))) };
}

export const LORA_CONFIG_KEYS = ['r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_rslora', 'init_lora_weights', 'bias', 'fan_in_fan_out', 'modules_to_save', 'layers_to_transform', 'layers_pattern', 'rank_pattern', 'alpha_pattern', 'megatron_config', 'megatron_core', 'loftq_config', 'use_dora', 'exclude_modules', 'lora_bias', 'layer_replication', 'runtime_config', 'eva_config', 'corda_config', 'use_qalora', 'qalora_group_size', 'trainable_token_indices', 'target_parameters', 'arrow_config', 'alora_invocation_tokens', 'ensure_weight_tying'];

/** LoRA's module names inside an adapted layer. */
export const LORA_MODULE_KEYS = ['lora_A', 'lora_B', 'lora_dropout'];

export const loraMethod: PeftMethod<LoraConfig> = {
  peftType: 'LORA',
  moduleKeys: LORA_MODULE_KEYS,
  configKeys: LORA_CONFIG_KEYS,
  mergeable: true,
  parseConfig: parseLoraFields,
  serializeConfig: serializeLoraFields,
  attach: ({ model, name }, config) => attachLora(model, name, config),
};

registerPeftMethod(loraMethod);
