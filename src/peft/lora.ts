import { TunekitError } from '../errors.js';
import { ModuleDict } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Linear, type LinearAdapter, ProjectionLayer } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';

/** One LoRA adapter's settings for a layer. */
export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  /** Scaling alpha/√r instead of alpha/r (rank-stabilized LoRA). */
  useRslora: boolean;
  /** A: kaiming-uniform (PEFT's default, `true`) or N(0, 1/r) (`gaussian`); B always starts at zero. */
  init: 'kaiming' | 'gaussian';
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
export class LoraLayer implements LinearAdapter {
  readonly loraA: ModuleDict<Linear>;
  readonly loraB: ModuleDict<Linear>;
  readonly dropout: ModuleDict<LoraDropout>;
  readonly scaling = new Map<string, number>();
  readonly merged = new Set<string>();
  /** Adapters whose delta is added in forward; set by the PEFT model. */
  active: string[] = [];

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
      b.weight.zero_();
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
