import { ModuleDict } from '../nn/container.js';
import * as F from '../nn/functional.js';
import { Linear, type LinearAdapter, ProjectionLayer } from '../nn/layers.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor } from '../torch/tensor.js';
import type { BottleneckConfig } from './config.js';

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
export class BottleneckLayer implements LinearAdapter {
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
