import { TunekitError } from '../errors.js';
import { noGrad } from '../torch/runtime.js';
import { Tensor, tidy } from '../torch/tensor.js';
import { type Optimizer, type OptimizerState, type ParamsInput, restoreGroups, GroupedOptimizer } from './optimizer.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

const defaults: SGDOptions = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

/** Stochastic gradient descent with optional momentum and Nesterov, as torch.optim.SGD. */
export class SGD extends GroupedOptimizer<SGDOptions> implements Optimizer {
  readonly #momentum = new Map<Tensor, Tensor>();
  #steps = 0;

  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, { ...defaults, ...options });
    for (const { options: o } of this.groups) {
      if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
        throw new TunekitError('E_OPTIMIZER', 'Nesterov momentum needs momentum > 0 and dampening 0');
      }
    }
  }

  step(): void {
    this.#steps++;
    noGrad(() =>
      tidy(() => {
        for (const { params, options: o } of this.groups) {
          for (const param of params) {
            let direction = param.grad;
            if (direction === null) continue;
            if (o.weightDecay !== 0) direction = direction.add(param, o.weightDecay);
            if (o.momentum !== 0) {
              let buffer = this.#momentum.get(param);
              if (buffer === undefined) {
                buffer = direction.clone().keep();
                this.#momentum.set(param, buffer);
              } else {
                buffer.mul_(o.momentum).add_(direction, 1 - o.dampening);
              }
              direction = o.nesterov ? direction.add(buffer, o.momentum) : buffer;
            }
            param.add_(direction, -o.lr);
          }
        }
      }),
    );
  }

  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const group of this.groups) {
      group.params.forEach((param, i) => {
        const buffer = this.#momentum.get(param);
        if (buffer !== undefined) tensors.set(`${group.names[i]}.momentum_buffer`, buffer);
      });
    }
    return { step: this.#steps, groups: this.groups.map((g) => ({ ...g.options })), tensors };
  }

  loadStateDict(state: OptimizerState): void {
    restoreGroups(this.groups, state);
    this.#steps = state.step;
    this.groups.forEach((group) => {
      group.params.forEach((param, i) => {
        const source = state.tensors.get(`${group.names[i]}.momentum_buffer`);
        if (source === undefined) return;
        this.#momentum.get(param)?.dispose();
        this.#momentum.set(param, noGrad(() => source.clone()).keep());
      });
    });
  }

  dispose(): void {
    for (const buffer of this.#momentum.values()) buffer.dispose();
    this.#momentum.clear();
  }
}
