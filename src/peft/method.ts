/**
 * The PEFT method registry. Each method file (lora, qlora, ia3, prompt-tuning, bottleneck, selective) declares one
 * `PeftMethod` — its config (parse, defaults, serialize), how it attaches to a model, whether it merges, and the
 * module names it owns — and registers it; PeftModel and the PEFT file format only ever ask the registry.
 */
import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import { type LinearAdapter, ProjectionLayer } from '../nn/layers.js';
import type { Tensor } from '../torch/tensor.js';
import type { AdapterConfigBase, ConfigReader, Json } from './config.js';
import type { SoftPrompt } from './prompt-tuning.js';

/** One projection layer's state for a method: the adapters it holds by name, which of them are active. */
export interface AdapterLayer extends LinearAdapter {
  readonly layer: ProjectionLayer;
  readonly names: string[];
  active: string[];
  delete(name: string, options?: { keepMerged?: boolean }): void;
  /** Removes the method's state from the layer (after merging with `keepMerged`, or to drop it). */
  detach(options?: { keepMerged?: boolean }): void;
  merge?(name: string): void;
  unmerge?(name: string): void;
}

/** A base-model parameter that an adapter trains as its own copy (modules_to_save, selective fine-tuning). */
export interface ParameterCopy {
  /** The parameter's name in the base model. */
  name: string;
  /** The live parameter: it holds `adapterValue` while the adapter is active and `original` otherwise. */
  parameter: Tensor;
  original: Tensor;
  adapterValue: Tensor;
}

/** Everything attaching one adapter made. */
export interface Attachment {
  layers: AdapterLayer[];
  /** A soft prompt in front of the input embeddings. */
  prompt?: SoftPrompt;
  copies: ParameterCopy[];
  /** Base parameters shared by every adapter that this one trains and saves (LoRA's `bias`). */
  sharedTrainable: string[];
}

export interface AttachContext {
  /** The base model (without the PEFT wrapper). */
  model: LanguageModel;
  name: string;
  /** Token ids of `prompt_tuning_init_text`, for soft prompts initialized from text. */
  promptInitTextIds?: number[];
}

export interface PeftMethod<C extends AdapterConfigBase = AdapterConfigBase> {
  /** `peft_type` of the config in memory. */
  readonly peftType: C['peftType'];
  /** `peft_type` written to adapter_config.json, when it differs (a QLoRA adapter is a LoRA adapter on disk). */
  readonly filePeftType?: string;
  /** Names the method registers its modules under inside adapted layers (`…q_proj.lora_A.<adapter>.weight`). */
  readonly moduleKeys: readonly string[];
  /** adapter_config.json keys the method reads, besides the common ones. */
  readonly configKeys: readonly string[];
  /** Whether the adapter can be folded into the base weights. */
  readonly mergeable: boolean;
  /** The method's fields from adapter_config.json, with PEFT's defaults for absent keys. */
  parseConfig(read: ConfigReader, json: Json, file: string): Omit<C, keyof AdapterConfigBase>;
  /** The method's fields as PEFT writes them (snake_case). */
  serializeConfig(config: C): Json;
  /**
   * Fills in what PEFT derives from the base model (a soft prompt's `token_dim`, …), and refuses a config whose
   * layout belongs to another base (E_ADAPTER, the message starting with `source`: the adapter_config.json it
   * came from, or `adapter "<name>"`).
   */
  complete?(config: C, model: LanguageModel, source: string): C;
  attach(context: AttachContext, config: C): Attachment;
}

const methods = new Map<string, PeftMethod>();
let modulePattern: RegExp | null = null;

export function registerPeftMethod<C extends AdapterConfigBase>(method: PeftMethod<C>): void {
  methods.set(method.peftType, method as unknown as PeftMethod);
  modulePattern = null;
}

export function peftMethods(): PeftMethod[] {
  return [...methods.values()];
}

/** The method of an in-memory config's `peftType`. */
export function peftMethod(peftType: string): PeftMethod {
  const method = methods.get(peftType);
  if (method === undefined) throw new TunekitError('E_ADAPTER_CONFIG', `unknown PEFT method "${peftType}" (known: ${[...methods.keys()].join(', ')})`);
  return method;
}

/** The name run configs, the CLI and reports give a method (`method: prompt_tuning`): its peft_type in lower case, BOTTLENECK_ADAPTER as `adapter`. */
export function methodName(peftType: string): string {
  return peftType === 'BOTTLENECK_ADAPTER' ? 'adapter' : peftType.toLowerCase();
}

/** The method that reads adapter_config.json files of `peft_type` `filePeftType`. */
export function peftMethodForFile(filePeftType: string): PeftMethod | undefined {
  return methods.get(filePeftType) ?? [...methods.values()].find((method) => method.filePeftType === filePeftType);
}

/** The `peft_type` values adapter_config.json files may carry. */
export function filePeftTypes(): string[] {
  return [...new Set([...methods.values()].map((method) => method.filePeftType ?? method.peftType))];
}

/** Matches a module or parameter name inside a method's adapter state (`….lora_A.default.weight`). */
export function adapterModulePattern(): RegExp {
  modulePattern ??= new RegExp(`(^|\\.)(${[...new Set(peftMethods().flatMap((method) => method.moduleKeys))].join('|')})(\\.|$)`);
  return modulePattern;
}

/** The adapter layers (of any method) attached to a projection layer. */
export function adapterLayersOf(layer: ProjectionLayer): AdapterLayer[] {
  return layer.adapters.filter((adapter): adapter is AdapterLayer => 'names' in adapter && 'layer' in adapter);
}

/** Matches a parameter of adapter `adapterName` (any adapter when absent): `.lora_A.default.` → kind, name, tail. */
export function adapterParameterPattern(adapterName?: string): RegExp {
  const keys = [...new Set(peftMethods().flatMap((method) => method.moduleKeys))].join('|');
  return new RegExp(`\\.(${keys})\\.(${adapterName ?? '[^.]+'})(\\.|$)`);
}
