import { ModuleDict } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Linear, ProjectionLayer } from '../nn/layers.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor } from '../torch/tensor.js';
import { type AdapterConfigBase, COMMON_DEFAULTS, type ConfigOptions } from './config.js';
import { type AdapterLayer, type PeftMethod, registerPeftMethod } from './method.js';
import { selectProjections } from './targets.js';

/** tunekit's own bottleneck adapters (PEFT has none), stored in the same two-file layout. */
export interface BottleneckConfig extends AdapterConfigBase {
  peftType: 'BOTTLENECK_ADAPTER';
  bottleneckSize: number;
  nonLinearity: 'relu' | 'gelu' | 'silu' | 'tanh';
  /** houlsby: after the attention and the feed-forward sublayers; pfeiffer: after the feed-forward sublayer only. */
  placement: 'houlsby' | 'pfeiffer';
  /** Multiplier on the adapter's output before it is added back. */
  scaling: number;
}

const BOTTLENECK_DEFAULTS: Omit<BottleneckConfig, keyof AdapterConfigBase> = { bottleneckSize: 64, nonLinearity: 'relu', placement: 'pfeiffer', scaling: 1 };

/** A bottleneck adapter config (default: Pfeiffer placement, size 64, ReLU, scaling 1). */
export function bottleneckConfig(options: ConfigOptions<BottleneckConfig> = {}): BottleneckConfig {
  return { ...COMMON_DEFAULTS, ...BOTTLENECK_DEFAULTS, ...options, peftType: 'BOTTLENECK_ADAPTER' };
}

const activations: Record<BottleneckConfig['nonLinearity'], (x: Tensor) => Tensor> = {
  relu: F.relu,
  gelu: (x) => F.gelu(x),
  silu: F.silu,
  tanh: F.tanh,
};

/**
 * Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020) on a sublayer's output projection:
 * h ← h + scaling·up(σ(down(h))), applied before the block's residual connection. `up` starts at zero, so a new
 * adapter is the identity. Registered as `adapter_down.<name>` and `adapter_up.<name>`.
 */
export class BottleneckLayer implements AdapterLayer {
  readonly down: ModuleDict<Linear>;
  readonly up: ModuleDict<Linear>;
  readonly settings = new Map<string, BottleneckConfig>();
  active: string[] = [];

  constructor(readonly layer: ProjectionLayer) {
    this.down = layer.setChild('adapter_down', new ModuleDict<Linear>());
    this.up = layer.setChild('adapter_up', new ModuleDict<Linear>());
    layer.adapters.push(this);
  }

  /** The adapters this layer holds. */
  get names(): string[] {
    return [...this.settings.keys()];
  }

  static of(layer: ProjectionLayer): BottleneckLayer {
    const existing = layer.adapters.find((adapter): adapter is BottleneckLayer => adapter instanceof BottleneckLayer);
    return existing ?? new BottleneckLayer(layer);
  }

  add(name: string, config: BottleneckConfig): void {
    const dtype = this.layer.weight.dtype;
    this.down.set(name, new Linear(this.layer.outFeatures, config.bottleneckSize, { dtype }));
    const up = this.up.set(name, new Linear(config.bottleneckSize, this.layer.outFeatures, { dtype }));
    noGrad(() => {
      up.weight.zero_();
      up.bias?.zero_();
    });
    this.settings.set(name, config);
  }

  delete(name: string): void {
    this.down.delete(name)?.dispose();
    this.up.delete(name)?.dispose();
    this.settings.delete(name);
    this.active = this.active.filter((active) => active !== name);
  }

  adaptOutput(_input: Tensor, output: Tensor): Tensor {
    let h = output;
    for (const name of this.active) {
      const down = this.down.get(name);
      const up = this.up.get(name);
      const config = this.settings.get(name);
      if (down === undefined || up === undefined || config === undefined) continue;
      h = h.add(up.forward(activations[config.nonLinearity](down.forward(h))).mul(config.scaling));
    }
    return h;
  }

  detach(): void {
    for (const name of this.names) this.delete(name);
    this.layer.deleteChild('adapter_down');
    this.layer.deleteChild('adapter_up');
    this.layer.adapters.splice(this.layer.adapters.indexOf(this), 1);
  }
}

/** Output projections of the sublayers each placement adapts, by architecture naming. */
export const BOTTLENECK_TARGETS: Record<BottleneckConfig['placement'], string[]> = {
  pfeiffer: ['mlp.down_proj', 'DenseReluDense.wo', 'mlp.c_proj'],
  houlsby: ['mlp.down_proj', 'DenseReluDense.wo', 'mlp.c_proj', 'self_attn.o_proj', 'SelfAttention.o', 'EncDecAttention.o', 'attn.c_proj'],
};

export const bottleneckMethod: PeftMethod<BottleneckConfig> = {
  peftType: 'BOTTLENECK_ADAPTER',
  moduleKeys: ['adapter_down', 'adapter_up'],
  configKeys: ['bottleneck_size', 'non_linearity', 'placement', 'scaling'],
  mergeable: false,
  parseConfig: (read) => ({
    bottleneckSize: read.number('bottleneck_size', BOTTLENECK_DEFAULTS.bottleneckSize),
    nonLinearity: read.string('non_linearity', BOTTLENECK_DEFAULTS.nonLinearity, ['relu', 'gelu', 'silu', 'tanh'] as const) as BottleneckConfig['nonLinearity'],
    placement: read.string('placement', BOTTLENECK_DEFAULTS.placement, ['houlsby', 'pfeiffer'] as const) as BottleneckConfig['placement'],
    scaling: read.number('scaling', BOTTLENECK_DEFAULTS.scaling),
  }),
  serializeConfig: (config) => ({ bottleneck_size: config.bottleneckSize, non_linearity: config.nonLinearity, placement: config.placement, scaling: config.scaling }),
  attach({ model, name }, config) {
    const layers = selectProjections(model, { targets: BOTTLENECK_TARGETS[config.placement] }).map(([, layer]) => {
      const adapter = BottleneckLayer.of(layer);
      adapter.add(name, config);
      return adapter;
    });
    return { layers, copies: [], sharedTrainable: [] };
  },
};

registerPeftMethod(bottleneckMethod);
