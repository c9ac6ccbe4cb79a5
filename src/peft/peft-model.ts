import { TunekitError } from '../errors.js';
import { generate as generateTokens, type GenerationResult } from '../generate/generate.js';
import type { GenerationOptions } from '../generate/options.js';
import type { SessionInputs } from '../generate/session.js';
import { ModuleDict } from '../nn/container.js';
import { Module } from '../nn/module.js';
import { ProjectionLayer } from '../nn/layers.js';
import { causalLMLoss, seq2seqLoss } from '../models/loss.js';
import { shiftRight } from '../models/t5.js';
import type { LanguageModel } from '../models/types.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { ones, tensor } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { callOp, Tensor, tidy } from '../torch/tensor.js';
import { BOTTLENECK_TARGETS, BottleneckLayer } from './bottleneck.js';
import type { AdapterConfig, BottleneckConfig, IA3Config, LoraConfig } from './config.js';
import { Ia3Layer } from './ia3.js';
import { LoraLayer } from './lora.js';
import { SoftPrompt } from './prompt-tuning.js';
import { DEFAULT_IA3_TARGETS, DEFAULT_LORA_TARGETS, isTargeted, patternValue, selectProjections } from './targets.js';

type LayerAdapter = LoraLayer | Ia3Layer | BottleneckLayer;

interface SavedModule {
  moduleName: string;
  parameterName: string;
  /** The live parameter, which points at `adapterValue` while the adapter is active and at `original` otherwise. */
  parameter: Tensor;
  original: Tensor;
  adapterValue: Tensor;
}

interface AdapterEntry {
  config: AdapterConfig;
  layers: LayerAdapter[];
  prompt?: SoftPrompt;
  /** modules_to_save: parameter name (model naming) → copies. */
  savedModules: Map<string, SavedModule>;
  /** Base biases this adapter trains (LoRA bias "all" / "lora_only"). */
  trainedBiases: string[];
}

/** Holds the wrapped model at `base_model.model`, so parameter names are PEFT's. */
class BaseModelHolder extends Module {
  constructor(readonly model: LanguageModel) {
    super();
    this.setChild('model', model);
  }
}

export interface TrainableSummary {
  trainable: number;
  total: number;
  percent: number;
  /** Bytes AdamW needs for the trainable parameters: gradients plus two moment estimates, in the parameters' dtype. */
  optimizerBytes: number;
}

export interface Batch {
  inputIds: number[][] | Tensor;
  attentionMask?: number[][] | Tensor;
  /** Causal: same shape as inputIds, -100 where no loss; seq2seq: the target ids with -100 padding. */
  labels?: number[][] | Tensor;
  /** Seq2seq: decoder inputs (default: labels shifted right). */
  decoderInputIds?: number[][] | Tensor;
}

const asIds = (value: number[][] | Tensor): Tensor => (value instanceof Tensor ? value : tensor(value, { dtype: 'int64' }));

/**
 * A base model carrying named PEFT adapters (LoRA, IA³, prompt tuning, bottleneck adapters), one active at a time
 * (or none). Parameter names follow PEFT's in-memory names (`base_model.model.…lora_A.default.weight`).
 */
export class PeftModel extends Module {
  readonly baseModel: BaseModelHolder;
  readonly promptEncoder: ModuleDict<SoftPrompt>;
  readonly #adapters = new Map<string, AdapterEntry>();
  #active: string | null = null;

  constructor(readonly model: LanguageModel) {
    super();
    this.baseModel = this.registerModule('base_model', new BaseModelHolder(model));
    this.promptEncoder = this.registerModule('prompt_encoder', new ModuleDict<SoftPrompt>());
  }

  get adapterNames(): string[] {
    return [...this.#adapters.keys()];
  }

  get activeAdapter(): string | null {
    return this.#active;
  }

  adapterConfig(name: string): AdapterConfig {
    return this.entry(name).config;
  }

  private entry(name: string): AdapterEntry {
    const entry = this.#adapters.get(name);
    if (entry === undefined) throw new TunekitError('E_ADAPTER', `no adapter named "${name}" (have: ${this.adapterNames.join(', ') || 'none'})`);
    return entry;
  }

  /**
   * Adds an adapter with fresh weights (LoRA: A kaiming-uniform or gaussian, B zero; IA³: ones; soft prompt:
   * N(0,1), text or vocabulary rows) and makes it the active one. `promptInitTextIds` are the tokens of
   * `promptTuningInitText` for TEXT initialization.
   */
  addAdapter(name: string, config: AdapterConfig, options: { promptInitTextIds?: number[] } = {}): void {
    if (this.#adapters.has(name)) throw new TunekitError('E_ADAPTER', `adapter "${name}" already exists`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new TunekitError('E_ADAPTER', `adapter name "${name}" must be letters, digits, _ or -`);
    const entry: AdapterEntry = { config, layers: [], savedModules: new Map(), trainedBiases: [] };
    this.#adapters.set(name, entry);
    try {
      const modelType = this.model.config.modelType;
      switch (config.peftType) {
        case 'LORA':
          entry.layers = this.attachLora(name, config, modelType);
          break;
        case 'IA3':
          entry.layers = this.attachIa3(name, config, modelType);
          break;
        case 'BOTTLENECK_ADAPTER':
          entry.layers = this.attachBottleneck(name, config);
          break;
        case 'PROMPT_TUNING': {
          entry.prompt = this.promptEncoder.set(name, new SoftPrompt(config, { dtype: this.embeddingDtype() }));
          entry.prompt.initialize(this.model, { textIds: options.promptInitTextIds });
          break;
        }
      }
      const modulesToSave = 'modulesToSave' in config ? config.modulesToSave : null;
      if (modulesToSave !== null && modulesToSave !== undefined) this.attachModulesToSave(entry, modulesToSave);
    } catch (error) {
      // Whatever was attached before the failure goes, so the model is as it was.
      entry.layers = this.layersCarrying(name);
      this.deleteAdapter(name);
      throw error;
    }
    this.setAdapter(name);
  }

  /** Every adapter layer in the model that holds an adapter named `name`. */
  private layersCarrying(name: string): LayerAdapter[] {
    const found: LayerAdapter[] = [];
    for (const [, module] of this.model.namedModules()) {
      if (!(module instanceof ProjectionLayer)) continue;
      for (const adapter of module.adapters) {
        const known = adapter instanceof LoraLayer || adapter instanceof Ia3Layer || adapter instanceof BottleneckLayer;
        if (known && adapter.names.includes(name)) found.push(adapter);
      }
    }
    return found;
  }

  private embeddingDtype(): Tensor['dtype'] {
    return this.model.parameters()[0]?.dtype ?? 'float32';
  }

  private attachLora(name: string, config: LoraConfig, modelType: string): LayerAdapter[] {
    const targets = config.targetModules ?? DEFAULT_LORA_TARGETS[modelType];
    if (targets === undefined) throw new TunekitError('E_ADAPTER_TARGETS', `no default LoRA target modules for model_type "${modelType}": set targetModules`);
    const selected = selectProjections(this.model, { targets, layersToTransform: config.layersToTransform, layersPattern: config.layersPattern });
    const layers: LayerAdapter[] = [];
    for (const [moduleName, layer] of selected) {
      const lora = LoraLayer.of(layer);
      lora.add(name, {
        r: patternValue(moduleName, config.rankPattern, config.r),
        alpha: patternValue(moduleName, config.alphaPattern, config.loraAlpha),
        dropout: config.loraDropout,
        useRslora: config.useRslora,
        init: config.initLoraWeights === 'gaussian' ? 'gaussian' : 'kaiming',
      });
      layers.push(lora);
    }
    return layers;
  }

  private attachIa3(name: string, config: IA3Config, modelType: string): LayerAdapter[] {
    const defaults = DEFAULT_IA3_TARGETS[modelType];
    const targets = config.targetModules ?? defaults?.targets;
    const feedforward = config.feedforwardModules ?? defaults?.feedforward ?? [];
    if (targets === undefined) throw new TunekitError('E_ADAPTER_TARGETS', `no default IA³ target modules for model_type "${modelType}": set targetModules`);
    return selectProjections(this.model, { targets }).map(([moduleName, layer]) => {
      const ia3 = Ia3Layer.of(layer);
      ia3.add(name, isTargeted(moduleName, feedforward));
      return ia3;
    });
  }

  private attachBottleneck(name: string, config: BottleneckConfig): LayerAdapter[] {
    return selectProjections(this.model, { targets: BOTTLENECK_TARGETS[config.placement] }).map(([, layer]) => {
      const adapter = BottleneckLayer.of(layer);
      adapter.add(name, config);
      return adapter;
    });
  }

  /** modules_to_save: whole modules trained (and saved) per adapter, the originals kept for the other adapters. */
  private attachModulesToSave(entry: AdapterEntry, modules: string[]): void {
    const matched = [...this.model.namedModules()].filter(([moduleName]) => moduleName !== '' && modules.some((target) => moduleName === target || moduleName.endsWith(`.${target}`)));
    if (matched.length === 0) throw new TunekitError('E_ADAPTER_TARGETS', `modules_to_save ${JSON.stringify(modules)} match no module`);
    for (const [moduleName, module] of matched) {
      for (const [parameterName, parameter] of module.namedParameters()) {
        if (/(^|\.)(lora_|ia3_l|adapter_)/.test(parameterName)) continue;
        const original = noGrad(() => parameter.clone()).keep();
        const adapterValue = noGrad(() => parameter.clone()).keep();
        entry.savedModules.set(`${moduleName}.${parameterName}`, { moduleName, parameterName, parameter, original, adapterValue });
      }
    }
  }

  /** Makes `name` the active adapter (or none with null): only its parameters are trainable, the base is frozen. */
  setAdapter(name: string | null): void {
    if (name !== null) this.entry(name);
    for (const [adapterName, entry] of this.#adapters) {
      const on = adapterName === name;
      for (const layer of entry.layers) layer.active = on ? [adapterName] : layer.active.filter((active) => active !== adapterName);
      for (const saved of entry.savedModules.values()) if (!on) callOp('aten::set_data', saved.parameter, saved.original);
    }
    this.#active = name;
    this.model.freeze();
    for (const prompt of this.promptEncoder.entries()) for (const p of prompt[1].parameters()) p.requiresGrad = false;
    if (name === null) return;
    const entry = this.entry(name);
    for (const saved of entry.savedModules.values()) {
      callOp('aten::set_data', saved.parameter, saved.adapterValue);
      saved.parameter.requiresGrad = true;
    }
    for (const parameter of this.adapterParameters(name).values()) parameter.requiresGrad = true;
    this.markBiases(entry);
  }

  /** LoRA `bias`: "all" trains every bias of the base model, "lora_only" those of the adapted layers. */
  private markBiases(entry: AdapterEntry): void {
    if (entry.config.peftType !== 'LORA' || entry.config.bias === 'none') return;
    const adapted = new Set(entry.layers.map((layer) => layer.layer));
    entry.trainedBiases = [];
    for (const [moduleName, module] of this.model.namedModules()) {
      if (/(^|\.)(lora_A|lora_B|adapter_down|adapter_up)(\.|$)/.test(moduleName)) continue;
      if (!(module instanceof ProjectionLayer) && entry.config.bias === 'lora_only') continue;
      if (entry.config.bias === 'lora_only' && !adapted.has(module as ProjectionLayer)) continue;
      const bias = module.namedParameters().find(([parameterName]) => parameterName === 'bias')?.[1];
      if (bias === undefined) continue;
      bias.requiresGrad = true;
      entry.trainedBiases.push(moduleName === '' ? 'bias' : `${moduleName}.bias`);
    }
  }

  /**
   * The adapter's own tensors by model parameter name (`model.layers.0.self_attn.q_proj.lora_A.default.weight`,
   * `prompt_encoder.<name>.embedding.weight`), plus trained biases and modules_to_save copies.
   */
  adapterParameters(name: string): Map<string, Tensor> {
    const entry = this.entry(name);
    const result = new Map<string, Tensor>();
    const marker = new RegExp(`\\.(lora_A|lora_B|ia3_l|adapter_down|adapter_up)\\.${name}(\\.|$)`);
    for (const [parameterName, parameter] of this.model.namedParameters()) if (marker.test(parameterName)) result.set(parameterName, parameter);
    if (entry.prompt !== undefined) result.set(`prompt_encoder.${name}.embedding.weight`, entry.prompt.embedding.weight);
    return result;
  }

  /** Base biases the adapter trains and saves, by model parameter name. */
  trainedBiases(name: string): Map<string, Tensor> {
    const parameters = new Map(this.model.namedParameters());
    const result = new Map<string, Tensor>();
    for (const bias of this.entry(name).trainedBiases) {
      const parameter = parameters.get(bias);
      if (parameter !== undefined) result.set(bias, parameter);
    }
    return result;
  }

  /** modules_to_save copies of the adapter: module name, parameter name and the adapter's values. */
  savedModules(name: string): { moduleName: string; parameterName: string; value: Tensor }[] {
    return [...this.entry(name).savedModules.values()].map(({ moduleName, parameterName, adapterValue }) => ({ moduleName, parameterName, value: adapterValue }));
  }

  /** Runs `fn` with another adapter active (or none with null), then restores the previous one. */
  withAdapter<T>(name: string | null, fn: () => T): T {
    const previous = this.#active;
    this.setAdapter(name);
    try {
      return fn();
    } finally {
      this.setAdapter(previous);
    }
  }

  deleteAdapter(name: string): void {
    const entry = this.entry(name);
    for (const layer of new Set(entry.layers)) {
      layer.delete(name);
      if (layer.names.length === 0) layer.detach();
    }
    if (entry.prompt !== undefined) this.promptEncoder.delete(name)?.dispose();
    for (const saved of entry.savedModules.values()) {
      callOp('aten::set_data', saved.parameter, saved.original);
      saved.adapterValue.dispose();
    }
    this.#adapters.delete(name);
    if (this.#active === name) this.setAdapter(null);
  }

  /** Merges a LoRA or IA³ adapter into the base weights (zero inference latency); forward then skips it. */
  mergeAdapter(name = this.#active ?? 'default'): void {
    const entry = this.entry(name);
    if (entry.config.peftType !== 'LORA' && entry.config.peftType !== 'IA3') {
      throw new TunekitError('E_ADAPTER', `only LoRA and IA³ adapters can be merged ("${name}" is ${entry.config.peftType})`);
    }
    for (const layer of entry.layers) (layer as LoraLayer | Ia3Layer).merge(name);
  }

  unmergeAdapter(name = this.#active ?? 'default'): void {
    for (const layer of this.entry(name).layers) if (layer instanceof LoraLayer || layer instanceof Ia3Layer) layer.unmerge(name);
  }

  /** Merges the active LoRA or IA³ adapter, removes every adapter and returns the plain base model (ready to save). */
  mergeAndUnload(): LanguageModel {
    const name = this.#active;
    if (name !== null) this.mergeAdapter(name);
    for (const [adapterName, entry] of [...this.#adapters]) {
      for (const layer of new Set(entry.layers)) {
        if (layer instanceof BottleneckLayer) layer.delete(adapterName);
        else layer.delete(adapterName, { keepMerged: adapterName === name });
      }
      for (const layer of new Set(entry.layers)) {
        if (layer.names.length === 0 && layer.layer.adapters.includes(layer)) layer.detach();
      }
      if (adapterName !== name) for (const saved of entry.savedModules.values()) callOp('aten::set_data', saved.parameter, saved.original);
      entry.prompt?.dispose();
      this.#adapters.delete(adapterName);
    }
    this.#active = null;
    this.model.unfreeze();
    return this.model;
  }

  /** Trainable vs total parameters (base and adapters), and what AdamW would need for the trainable ones. */
  trainableSummary(): TrainableSummary {
    let trainable = 0;
    let total = 0;
    let optimizerBytes = 0;
    for (const [, parameter] of this.namedParameters()) {
      total += parameter.numel;
      if (parameter.requiresGrad) {
        trainable += parameter.numel;
        optimizerBytes += 3 * parameter.numel * dtypeByteSize[parameter.dtype];
      }
    }
    return { trainable, total, percent: total === 0 ? 0 : (100 * trainable) / total, optimizerBytes };
  }

  /** Logits with the active adapter: [batch, length, vocab] (decoder-only with a soft prompt: virtual positions included). */
  forward(batch: Batch): Tensor {
    const prompt = this.#active === null ? undefined : this.#adapters.get(this.#active)?.prompt;
    const ids = asIds(batch.inputIds);
    const mask = batch.attentionMask === undefined ? ones(ids.shape, { dtype: 'int64' }) : asIds(batch.attentionMask);
    if (this.model.kind === 'causal') {
      if (prompt === undefined) return this.model.forward(ids, { attentionMask: mask });
      return this.model.forward(null, { inputsEmbeds: prompt.prepend(this.model.embedTokens(ids)), attentionMask: prompt.prependMask(mask) });
    }
    const decoderInputIds =
      batch.decoderInputIds !== undefined
        ? asIds(batch.decoderInputIds)
        : shiftRight(asIds(batch.labels as number[][]), this.model.config.decoderStartTokenId, this.model.config.padTokenId ?? 0);
    if (prompt === undefined) return this.model.forward(ids, { attentionMask: mask, decoderInputIds });
    return this.model.forward(null, { inputsEmbeds: prompt.prepend(this.model.embedTokens(ids)), attentionMask: prompt.prependMask(mask), decoderInputIds });
  }

  /** Mean cross-entropy over labels that are not -100 (causal: next-token, labels aligned with inputs). */
  loss(batch: Batch): Tensor {
    if (batch.labels === undefined) throw new TunekitError('E_BATCH', 'loss needs labels');
    const labels = asIds(batch.labels);
    const logits = this.forward(batch);
    if (this.model.kind === 'seq2seq') return seq2seqLoss(logits, labels);
    const prompt = this.#active === null ? undefined : this.#adapters.get(this.#active)?.prompt;
    return causalLMLoss(logits, prompt === undefined ? labels : prompt.prependLabels(labels));
  }

  /** Generates with the active adapter, or with `adapter` for this call only (null: the bare base model). */
  generate(inputs: SessionInputs, options: GenerationOptions = {}, adapter?: string | null): GenerationResult {
    const run = (): GenerationResult => {
      const prompt = this.#active === null ? undefined : this.#adapters.get(this.#active)?.prompt;
      if (prompt === undefined) return generateTokens(this.model, inputs, options);
      const embeds = noGrad(() => tidy(() => prompt.prepend(this.model.embedTokens(tensor(inputs.inputIds, { dtype: 'int64' })))));
      const mask = (inputs.attentionMask ?? inputs.inputIds.map((row) => row.map(() => 1))).map((row) => [...new Array<number>(prompt.numVirtualTokens).fill(1), ...row]);
      try {
        return generateTokens(this.model, { ...inputs, inputsEmbeds: embeds, attentionMask: mask }, options);
      } finally {
        embeds.dispose();
      }
    };
    return adapter === undefined ? run() : this.withAdapter(adapter, run);
  }
}
