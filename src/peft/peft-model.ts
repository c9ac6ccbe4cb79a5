import { TunekitError } from '../errors.js';
import { type ModelSourceOptions, resolveAdapterSource } from '../io/hub.js';
import { packedSequenceIndices } from '../models/attention.js';
import { batchLogits, batchLoss, batchTensor } from '../models/batch.js';
import type { Batch, CausalForwardOptions, DecoderOptions, EncoderOptions, LanguageModel, LanguageModelConfig, ModelSource } from '../models/types.js';
import { ModuleDict } from '../nn/container.js';
import { Module } from '../nn/module.js';
import { ProjectionLayer } from '../nn/layers.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { arange, cat, ones, tensor } from '../torch/ops.js';
import { callOp, Tensor } from '../torch/tensor.js';
import './builtin.js';
import { LoraLayer } from './lora.js';
import { type AdapterConfig, type AdapterConfigBase, checkTaskType } from './config.js';
import { checkFiniteWeights, loadAdapter, saveAdapter, type LoadAdapterOptions } from './format.js';
import { type AdapterLayer, adapterLayersOf, adapterParameterPattern, type Attachment, type ParameterCopy, type PeftMethod, peftMethod } from './method.js';
import type { SoftPrompt } from './prompt-tuning.js';

interface AdapterEntry extends Attachment {
  config: AdapterConfigBase;
  method: PeftMethod;
}

export interface AddAdapterOptions {
  /** Token ids of `promptTuningInitText`, for TEXT initialization of a soft prompt. */
  promptInitTextIds?: number[];
  /** Where the config came from (its adapter_config.json), named in errors; default `adapter "<name>"`. */
  source?: string;
}

/** Holds the wrapped model at `base_model.model`, so parameter names are PEFT's. */
class BaseModelHolder extends Module {
  constructor(readonly model: LanguageModel) {
    super();
    // Every LanguageModel is a Module; the interface leaves out Module's private fields.
    this.setChild('model', model as unknown as Module);
  }
}

export interface TrainableSummary {
  trainable: number;
  total: number;
  percent: number;
  /** Bytes AdamW needs for the trainable parameters: gradients plus two moment estimates, in the parameters' dtype. */
  optimizerBytes: number;
}

export interface FromPretrainedOptions extends LoadAdapterOptions {
  /** Default "default". */
  adapterName?: string;
  /** PEFT's `is_trainable`: the same as `trainable`. */
  isTrainable?: boolean;
  /** Hub options when the adapter is a repo id. */
  hub?: ModelSourceOptions;
}

/**
 * A base model carrying named PEFT adapters, one active at a time (or none), that is itself a language model:
 * `forward`, `logits`, `loss`, `encode`/`decode` and `generate(peft, …)` run the active adapter, a soft prompt
 * entering through the input embeddings. Parameter names follow PEFT's (`base_model.model.…lora_A.default.weight`).
 * Every method (LoRA, QLoRA, IA³, prompt tuning, bottleneck adapters, selective) comes from the method registry.
 */
export class PeftModel extends Module {
  readonly baseModel: BaseModelHolder;
  readonly promptEncoder: ModuleDict<SoftPrompt>;
  readonly #adapters = new Map<string, AdapterEntry>();
  #active: string | null = null;
  readonly kind: LanguageModel['kind'];

  constructor(readonly model: LanguageModel) {
    super();
    this.kind = model.kind;
    this.baseModel = this.registerModule('base_model', new BaseModelHolder(model));
    this.promptEncoder = this.registerModule('prompt_encoder', new ModuleDict<SoftPrompt>());
  }

  /**
   * PEFT's `PeftModel.from_pretrained`: wraps `model` and loads the adapter folder (or hub repo id) as
   * `adapterName`, frozen unless `trainable`.
   */
  static async fromPretrained(model: LanguageModel, adapter: string, options: FromPretrainedOptions = {}): Promise<PeftModel> {
    const peft = new PeftModel(model);
    await peft.loadAdapter(adapter, options.adapterName ?? 'default', options);
    return peft;
  }

  /** PEFT's `load_adapter`: adds the adapter folder (or hub repo id) as `adapterName` and makes it active. */
  async loadAdapter(adapter: string, adapterName: string, options: Omit<FromPretrainedOptions, 'adapterName'> = {}): Promise<AdapterConfig> {
    const dir = await resolveAdapterSource(adapter, options.hub);
    return loadAdapter(this, dir, adapterName, { ...options, trainable: options.trainable ?? options.isTrainable });
  }

  get config(): LanguageModelConfig {
    return this.model.config;
  }

  get source(): ModelSource | null {
    return this.model.source;
  }

  /** The base's context, less the positions an active soft prompt takes in front of a decoder-only input. */
  get contextLength(): number | null {
    const base = this.model.contextLength;
    const prompt = this.activePrompt();
    return base === null || prompt === undefined || this.model.kind !== 'causal' ? base : base - prompt.numVirtualTokens;
  }

  get adapterNames(): string[] {
    return [...this.#adapters.keys()];
  }

  get activeAdapter(): string | null {
    return this.#active;
  }

  adapterConfig(name: string): AdapterConfig {
    return this.entry(name).config as AdapterConfig;
  }

  private entry(name: string): AdapterEntry {
    const entry = this.#adapters.get(name);
    if (entry === undefined) throw new TunekitError('E_ADAPTER', `no adapter named "${name}" (have: ${this.adapterNames.join(', ') || 'none'})`);
    return entry;
  }

  /**
   * Adds an adapter with fresh weights (LoRA: A kaiming-uniform or gaussian, B zero; IA³: ones; soft prompt:
   * N(0,1), text or vocabulary rows) and makes it the active one. An adapter made for another kind of model
   * (`task_type` SEQ_2_SEQ_LM on a decoder-only base, CAUSAL_LM on T5, or a method-specific layout such as a
   * T5 soft prompt) is refused with E_ADAPTER, naming `options.source` and both kinds.
   */
  addAdapter(name: string, config: AdapterConfig | AdapterConfigBase, options: AddAdapterOptions = {}): void {
    if (this.#adapters.has(name)) throw new TunekitError('E_ADAPTER', `adapter "${name}" already exists`);
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new TunekitError('E_ADAPTER', `adapter name "${name}" must be letters, digits, _ or -`);
    const source = options.source ?? `adapter "${name}"`;
    checkTaskType(config.taskType, this.model.kind, this.model.config.modelType, source);
    const method = peftMethod(config.peftType);
    const complete = method.complete?.(config, this.model, source) ?? config;
    let attachment: Attachment;
    try {
      attachment = method.attach({ model: this.model, name, promptInitTextIds: options.promptInitTextIds }, complete);
    } catch (error) {
      // Whatever was attached before the failure goes, so the model is as it was.
      for (const layer of this.layersCarrying(name)) {
        layer.delete(name);
        if (layer.names.length === 0) layer.detach();
      }
      throw error;
    }
    if (attachment.prompt !== undefined) this.promptEncoder.set(name, attachment.prompt);
    this.#adapters.set(name, { ...attachment, config: complete, method });
    this.setAdapter(name);
  }

  /** Every adapter layer in the model that holds an adapter named `name`. */
  private layersCarrying(name: string): AdapterLayer[] {
    const found: AdapterLayer[] = [];
    for (const [, module] of this.model.namedModules()) {
      if (module instanceof ProjectionLayer) found.push(...adapterLayersOf(module).filter((layer) => layer.names.includes(name)));
    }
    return found;
  }

  /** Makes `name` the active adapter (or none with null): only its parameters are trainable, the base is frozen. */
  setAdapter(name: string | null): void {
    if (name !== null) this.entry(name);
    for (const [adapterName, entry] of this.#adapters) {
      const on = adapterName === name;
      for (const layer of entry.layers) layer.active = on ? [adapterName] : layer.active.filter((active) => active !== adapterName);
      for (const copy of entry.copies) if (!on) callOp('aten::set_data', copy.parameter, copy.original);
    }
    this.#active = name;
    this.model.freeze();
    for (const [, prompt] of this.promptEncoder.entries()) for (const p of prompt.parameters()) p.requiresGrad = false;
    if (name === null) return;
    const entry = this.entry(name);
    for (const copy of entry.copies) {
      callOp('aten::set_data', copy.parameter, copy.adapterValue);
      copy.parameter.requiresGrad = true;
    }
    for (const parameter of this.adapterParameters(name).values()) parameter.requiresGrad = true;
    for (const parameter of this.trainedBiases(name).values()) parameter.requiresGrad = true;
  }

  /**
   * The adapter's own tensors by model parameter name (`model.layers.0.self_attn.q_proj.lora_A.default.weight`,
   * `prompt_encoder.<name>.embedding.weight`); see also `trainedBiases` and `parameterCopies`.
   */
  adapterParameters(name: string): Map<string, Tensor> {
    const entry = this.entry(name);
    const result = new Map<string, Tensor>();
    const marker = adapterParameterPattern(name);
    for (const [parameterName, parameter] of this.model.namedParameters()) if (marker.test(parameterName)) result.set(parameterName, parameter);
    if (entry.prompt !== undefined) result.set(`prompt_encoder.${name}.embedding.weight`, entry.prompt.embedding.weight);
    return result;
  }

  /** Base parameters shared by all adapters that this one trains and saves (LoRA's bias), by model parameter name. */
  trainedBiases(name: string): Map<string, Tensor> {
    const parameters = new Map(this.model.namedParameters());
    const result = new Map<string, Tensor>();
    for (const bias of this.entry(name).sharedTrainable) {
      const parameter = parameters.get(bias);
      if (parameter !== undefined) result.set(bias, parameter);
    }
    return result;
  }

  /** The adapter's own copies of base parameters (modules_to_save, selective fine-tuning). */
  parameterCopies(name: string): readonly ParameterCopy[] {
    return this.entry(name).copies;
  }

  /** Elements the adapter trains (its own tensors, trained biases and parameter copies), frozen or not. */
  adapterParameterCount(name: string): number {
    let count = 0;
    for (const tensor of this.adapterParameters(name).values()) count += tensor.numel;
    for (const tensor of this.trainedBiases(name).values()) count += tensor.numel;
    for (const copy of this.parameterCopies(name)) count += copy.parameter.numel;
    return count;
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

  /**
   * Whether `withRowAdapters` can apply this adapter to some rows of a batch: LoRA (not merged) that trains no
   * shared bias and keeps no parameter copies, so the base stays the same for every row.
   */
  appliesPerRow(name: string): boolean {
    const entry = this.entry(name);
    return entry.config.peftType === 'LORA' && entry.prompt === undefined && entry.copies.length === 0 && entry.sharedTrainable.length === 0 && entry.layers.every((layer) => layer instanceof LoraLayer && !layer.merged.has(name));
  }

  /**
   * Runs `fn` with an adapter per batch row (`rows[r]`, null for the bare base), as a server decoding requests
   * for several adapters in one batch: no adapter is active, and each LoRA layer adds each adapter's delta on
   * that adapter's rows only. Every named adapter must satisfy `appliesPerRow`.
   */
  withRowAdapters<T>(rows: readonly (string | null)[], fn: () => T): T {
    const names = [...new Set(rows.filter((name): name is string => name !== null))];
    for (const name of names) {
      if (!this.appliesPerRow(name)) throw new TunekitError('E_ADAPTER', `adapter "${name}" cannot be applied per row (only unmerged LoRA adapters without trained biases or module copies can)`);
    }
    const previous = this.#active;
    if (previous !== null) this.setAdapter(null);
    const touched = new Set<LoraLayer>();
    const masks: Tensor[] = [];
    try {
      for (const name of names) {
        const layers = this.entry(name).layers as LoraLayer[];
        const dtype = layers[0]?.loraA.get(name)?.weight.dtype ?? 'float32';
        const mask = tensor(rows.map((row) => (row === name ? 1 : 0)), { shape: [rows.length, 1, 1], dtype }).keep();
        masks.push(mask);
        for (const layer of layers) {
          layer.rowMasks ??= new Map();
          layer.rowMasks.set(name, mask);
          touched.add(layer);
        }
      }
      return fn();
    } finally {
      for (const layer of touched) layer.rowMasks = null;
      for (const mask of masks) mask.dispose();
      if (previous !== null) this.setAdapter(previous);
    }
  }

  deleteAdapter(name: string): void {
    const entry = this.entry(name);
    for (const layer of new Set(entry.layers)) {
      layer.delete(name);
      if (layer.names.length === 0) layer.detach();
    }
    if (entry.prompt !== undefined) this.promptEncoder.delete(name)?.dispose();
    for (const copy of entry.copies) {
      callOp('aten::set_data', copy.parameter, copy.original);
      copy.adapterValue.dispose();
    }
    this.#adapters.delete(name);
    if (this.#active === name) this.setAdapter(null);
  }

  /** Merges an adapter of a mergeable method (LoRA, QLoRA, IA³) into the base weights; forward then skips it. */
  mergeAdapter(name = this.#active ?? 'default'): void {
    const entry = this.entry(name);
    if (!entry.method.mergeable) {
      throw new TunekitError('E_ADAPTER', `only LoRA and IA³ adapters can be merged ("${name}" is ${entry.config.peftType})`);
    }
    const copies = entry.copies.map((copy) => [copy.name, copy.adapterValue] as const);
    checkFiniteWeights([...this.adapterParameters(name), ...copies], `adapter "${name}"`, 'nothing was merged into the base weights');
    for (const layer of entry.layers) layer.merge?.(name);
  }

  unmergeAdapter(name = this.#active ?? 'default'): void {
    for (const layer of this.entry(name).layers) layer.unmerge?.(name);
  }

  /** Merges the active adapter, removes every adapter and returns the plain base model (ready to save). */
  mergeAndUnload(): LanguageModel {
    const name = this.#active;
    if (name !== null) this.mergeAdapter(name);
    for (const [adapterName, entry] of [...this.#adapters]) {
      for (const layer of new Set(entry.layers)) layer.delete(adapterName, { keepMerged: adapterName === name });
      for (const layer of new Set(entry.layers)) {
        if (layer.names.length === 0 && layer.layer.adapters.includes(layer)) layer.detach();
      }
      if (adapterName !== name) for (const copy of entry.copies) callOp('aten::set_data', copy.parameter, copy.original);
      entry.prompt?.dispose();
      this.#adapters.delete(adapterName);
    }
    this.#active = null;
    this.model.unfreeze();
    return this.model;
  }

  /** Saves one adapter (default: the active one) as PEFT's `save_pretrained` does: adapter_config.json + weights. */
  async savePretrained(dir: string, adapterName = this.#active ?? 'default'): Promise<void> {
    await saveAdapter(this, dir, adapterName);
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
    // A 4-bit (QLoRA) base weight is a buffer now, but still that many parameters, as PEFT counts it.
    for (const [, module] of this.namedModules()) {
      if (module instanceof ProjectionLayer && module.quantizedWeight !== null) total += module.inFeatures * module.outFeatures;
    }
    return { trainable, total, percent: total === 0 ? 0 : (100 * trainable) / total, optimizerBytes };
  }

  private activePrompt(): SoftPrompt | undefined {
    return this.#active === null ? undefined : this.#adapters.get(this.#active)?.prompt;
  }

  embedTokens(ids: Tensor): Tensor {
    return this.model.embedTokens(ids);
  }

  /** The encoder's input with the active soft prompt in front (mask included), as PEFT builds it. */
  private promptedEncoderInputs(prompt: SoftPrompt, inputIds: Tensor | null, options: EncoderOptions): { inputsEmbeds: Tensor; attentionMask: Tensor } {
    const embeds = options.inputsEmbeds ?? this.model.embedTokens(inputIds as Tensor);
    const mask = options.attentionMask ?? ones([embeds.shape[0], embeds.shape[1]], { dtype: 'int64' });
    return { inputsEmbeds: prompt.prepend(embeds), attentionMask: prompt.prependMask(mask) };
  }

  /**
   * The one forward: logits with the active adapter. Decoder-only with a soft prompt: on the first call (no cache
   * yet) the prompt goes in front of the input embeddings and its virtual positions come first in the logits; the
   * mask and position ids the caller gives (generation) cover the real tokens only and are shifted here.
   */
  forward(inputIds: Tensor | null, options: CausalForwardOptions & { decoderInputIds?: Tensor } = {}): Tensor {
    const prompt = this.activePrompt();
    if (this.model.kind === 'seq2seq') {
      const decoderInputIds = options.decoderInputIds;
      if (decoderInputIds === undefined) throw new TunekitError('E_BATCH', 'a seq2seq forward needs decoderInputIds');
      const encoderInputs = prompt === undefined ? { inputsEmbeds: options.inputsEmbeds, attentionMask: options.attentionMask } : this.promptedEncoderInputs(prompt, inputIds, options);
      return this.model.forward(prompt === undefined ? inputIds : null, { ...encoderInputs, decoderInputIds });
    }
    if (prompt === undefined) return this.model.forward(inputIds, options);
    const virtual = prompt.numVirtualTokens;
    const attentionMask = options.attentionMask === undefined || options.attentionMask === null ? options.attentionMask : prompt.prependMask(options.attentionMask);
    if ((options.cache?.length() ?? 0) > 0) {
      return this.model.forward(inputIds, { ...options, attentionMask, positionIds: options.positionIds?.add(virtual) });
    }
    const embeds = options.inputsEmbeds ?? this.model.embedTokens(inputIds as Tensor);
    const positionIds = options.positionIds === undefined ? undefined : cat([arange(0, virtual).unsqueeze(0).expand([embeds.shape[0], -1]), options.positionIds.add(virtual)], 1);
    return this.model.forward(null, { ...options, inputsEmbeds: prompt.prepend(embeds), attentionMask, positionIds });
  }

  encode(inputIds: Tensor | null, options: EncoderOptions = {}): Tensor {
    if (this.model.kind !== 'seq2seq') throw new TunekitError('E_MODEL_KIND', `${this.model.config.modelType} is a decoder-only model: it has no encoder`);
    const prompt = this.activePrompt();
    if (prompt === undefined) return this.model.encode(inputIds, options);
    return this.model.encode(null, this.promptedEncoderInputs(prompt, inputIds, options));
  }

  /** Decodes against encoder states from `encode`; an encoder mask without the soft prompt's positions gets them. */
  decode(decoderInputIds: Tensor, options: DecoderOptions): Tensor {
    if (this.model.kind !== 'seq2seq') throw new TunekitError('E_MODEL_KIND', `${this.model.config.modelType} is a decoder-only model: it has no decoder of its own`);
    const prompt = this.activePrompt();
    if (prompt === undefined) return this.model.decode(decoderInputIds, options);
    const [batch, encoded] = options.encoderHidden.shape;
    const mask = options.encoderMask ?? ones([batch, encoded - prompt.numVirtualTokens], { dtype: 'int64' });
    const encoderMask = mask.shape[1] < encoded ? prompt.prependMask(mask) : mask;
    return this.model.decode(decoderInputIds, { ...options, encoderMask });
  }

  /** The active adapter's soft-prompt length (its virtual positions come first in a causal forward), else 0. */
  get virtualTokens(): number {
    return this.activePrompt()?.numVirtualTokens ?? 0;
  }

  logits(batch: Batch): Tensor {
    return batchLogits(this, this.promptedBatch(batch));
  }

  loss(batch: Batch): Tensor {
    return batchLoss(this, this.promptedBatch(batch));
  }

  /**
   * A decoder-only soft prompt ignores a batch's position ids, as PEFT does for prompt tuning ("Position ids are not
   * supported for parameter efficient tuning. Ignoring position ids."). A packed row is refused instead: without its
   * position ids the packed sequences would attend to each other, and only the first would follow the soft prompt.
   */
  private promptedBatch(batch: Batch): Batch {
    if (batch.positionIds === undefined || this.model.kind !== 'causal' || this.activePrompt() === undefined) return batch;
    if (batch.attentionMask === undefined) {
      const rows = batch.inputIds instanceof Tensor ? batch.inputIds.shape[0] : batch.inputIds.length;
      if (packedSequenceIndices(batchTensor(batch.positionIds), rows) !== null) {
        throw new TunekitError(
          'E_BATCH',
          `adapter "${this.activeAdapter}" is a soft prompt: packed rows (position ids restarting inside a row) are not supported, because PEFT drops position_ids for prompt tuning and every packed sequence would then attend to the others; train it with packing off`,
        );
      }
    }
    const { positionIds: _ignored, ...rest } = batch;
    return rest;
  }
}

/**
 * PEFT's `get_peft_model`: wraps `model` with a new adapter made from `config` (its `baseModelNameOrPath` taken
 * from the model when unset), active and trainable.
 */
export function getPeftModel(model: LanguageModel, config: AdapterConfig | AdapterConfigBase, adapterName = 'default', options: AddAdapterOptions = {}): PeftModel {
  const peft = new PeftModel(model);
  peft.addAdapter(adapterName, { ...config, baseModelNameOrPath: config.baseModelNameOrPath ?? model.source?.id ?? null }, options);
  return peft;
}
