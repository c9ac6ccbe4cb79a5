import { TunekitError } from '../errors.js';
import { ParameterDict } from '../nn/container.js';
import { ProjectionLayer } from '../nn/layers.js';
import { ones } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import { type AdapterConfigBase, COMMON_DEFAULTS, type ConfigOptions } from './config.js';
import { copyModules } from './copies.js';
import { type AdapterLayer, type PeftMethod, registerPeftMethod } from './method.js';
import { DEFAULT_IA3_TARGETS, isTargeted, selectProjections, type TargetModules } from './targets.js';

export interface IA3Config extends AdapterConfigBase {
  peftType: 'IA3';
  targetModules: TargetModules | null;
  /** Targets whose input (not output) is rescaled: the feed-forward down projections. */
  feedforwardModules: TargetModules | null;
  fanInFanOut: boolean;
  initIa3Weights: boolean;
  modulesToSave: string[] | null;
}

const IA3_DEFAULTS: Omit<IA3Config, keyof AdapterConfigBase> = { targetModules: null, feedforwardModules: null, fanInFanOut: false, initIa3Weights: true, modulesToSave: null };

/** An IA³ config with Hugging Face PEFT's defaults (targets and feed-forward modules by model type when unset). */
export function ia3Config(options: ConfigOptions<IA3Config> = {}): IA3Config {
  return { ...COMMON_DEFAULTS, ...IA3_DEFAULTS, ...options, peftType: 'IA3' };
}

/**
 * IA³ on one projection: a learned vector per adapter that rescales the layer's output (attention keys and values)
 * or, for feed-forward layers, its input. Registered as `ia3_l.<name>` ([out, 1] or [1, in], as PEFT shapes it),
 * initialized to ones so a new adapter changes nothing.
 */
export class Ia3Layer implements AdapterLayer {
  readonly vectors: ParameterDict;
  readonly feedforward = new Map<string, boolean>();
  readonly merged = new Set<string>();
  active: string[] = [];

  constructor(readonly layer: ProjectionLayer) {
    this.vectors = layer.setChild('ia3_l', new ParameterDict());
    layer.adapters.push(this);
  }

  /** The adapters this layer holds. */
  get names(): string[] {
    return [...this.feedforward.keys()];
  }

  static of(layer: ProjectionLayer): Ia3Layer {
    const existing = layer.adapters.find((adapter): adapter is Ia3Layer => adapter instanceof Ia3Layer);
    return existing ?? new Ia3Layer(layer);
  }

  add(name: string, feedforward: boolean): void {
    const shape = feedforward ? [1, this.layer.inFeatures] : [this.layer.outFeatures, 1];
    this.vectors.set(name, ones(shape, { dtype: this.layer.weight.dtype }));
    this.feedforward.set(name, feedforward);
  }

  delete(name: string, options: { keepMerged?: boolean } = {}): void {
    if (this.merged.has(name) && !options.keepMerged) this.unmerge(name);
    this.merged.delete(name);
    this.vectors.delete(name);
    this.feedforward.delete(name);
    this.active = this.active.filter((active) => active !== name);
  }

  private scale(name: string): Tensor | undefined {
    return this.merged.has(name) ? undefined : this.vectors.get(name)?.flatten();
  }

  /**
   * Folds the vector into the weight: output rescaling scales the weight's output rows, input rescaling its input
   * columns (layout-aware for Conv1D). Unmerging divides it out again.
   */
  private fold(name: string, inverse: boolean): void {
    const vector = this.vectors.get(name);
    if (vector === undefined) return;
    if (this.layer.quantizedWeight !== null) this.layer.dequantize();
    noGrad(() =>
      tidy(() => {
        const feedforward = this.feedforward.get(name) as boolean;
        let factor = vector.float().flatten();
        if (inverse) factor = factor.reciprocal();
        // Linear weights are [out, in]; Conv1D weights are [in, out].
        const alongRows = feedforward === this.layer.fanInFanOut;
        const shaped = alongRows ? factor.unsqueeze(1) : factor.unsqueeze(0);
        this.layer.weight.copy_(this.layer.weight.float().mul(shaped));
        if (!feedforward && this.layer.bias !== null) this.layer.bias.copy_(this.layer.bias.float().mul(factor));
        return undefined;
      }),
    );
  }

  merge(name: string): void {
    if (this.merged.has(name)) return;
    this.fold(name, false);
    this.merged.add(name);
  }

  unmerge(name: string): void {
    if (!this.merged.has(name)) return;
    this.fold(name, true);
    this.merged.delete(name);
  }

  adaptInput(input: Tensor): Tensor {
    let x = input;
    for (const name of this.active) {
      const vector = this.feedforward.get(name) ? this.scale(name) : undefined;
      if (vector !== undefined) x = x.mul(vector.to(x.dtype));
    }
    return x;
  }

  adaptOutput(_input: Tensor, output: Tensor): Tensor {
    let y = output;
    for (const name of this.active) {
      const vector = this.feedforward.get(name) ? undefined : this.scale(name);
      if (vector !== undefined) y = y.mul(vector.to(y.dtype));
    }
    return y;
  }

  detach(): void {
    for (const name of this.names) this.delete(name);
    this.layer.deleteChild('ia3_l');
    this.layer.adapters.splice(this.layer.adapters.indexOf(this), 1);
  }
}

export const ia3Method: PeftMethod<IA3Config> = {
  peftType: 'IA3',
  moduleKeys: ['ia3_l'],
  configKeys: ['target_modules', 'feedforward_modules', 'fan_in_fan_out', 'init_ia3_weights', 'modules_to_save', 'exclude_modules'],
  mergeable: true,
  parseConfig: (read) => ({
    targetModules: read.targets('target_modules'),
    feedforwardModules: read.targets('feedforward_modules'),
    fanInFanOut: read.boolean('fan_in_fan_out', IA3_DEFAULTS.fanInFanOut),
    initIa3Weights: read.boolean('init_ia3_weights', IA3_DEFAULTS.initIa3Weights),
    modulesToSave: read.stringList('modules_to_save'),
  }),
  serializeConfig: (config) => ({
    fan_in_fan_out: config.fanInFanOut,
    feedforward_modules: config.feedforwardModules,
    init_ia3_weights: config.initIa3Weights,
    modules_to_save: config.modulesToSave,
    target_modules: config.targetModules,
  }),
  attach({ model, name }, config) {
    const modelType = model.config.modelType;
    const defaults = DEFAULT_IA3_TARGETS[modelType];
    const targets = config.targetModules ?? defaults?.targets;
    const feedforward = config.feedforwardModules ?? defaults?.feedforward ?? [];
    if (targets === undefined) throw new TunekitError('E_ADAPTER_TARGETS', `no default IA³ target modules for model_type "${modelType}": set targetModules`);
    const layers = selectProjections(model, { targets }).map(([moduleName, layer]) => {
      const ia3 = Ia3Layer.of(layer);
      ia3.add(name, isTargeted(moduleName, feedforward));
      return ia3;
    });
    return { layers, copies: copyModules(model, config.modulesToSave), sharedTrainable: [] };
  },
};

registerPeftMethod(ia3Method);
