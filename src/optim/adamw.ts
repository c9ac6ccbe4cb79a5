import { TunekitError } from '../errors.js';
import { full, zerosLike } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { callOp, opId, Tensor, tidy } from '../torch/tensor.js';
import { type Optimizer, type OptimizerState, type ParamsInput, restoreGroups, GroupedOptimizer } from './optimizer.js';

export interface AdamWOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  /** One fused libtorch kernel over all parameters (libtorch ≥ 2.4); otherwise a per-tensor loop. */
  fused: boolean;
}

const defaults: AdamWOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, amsgrad: false, fused: true };

interface ParamState {
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq: Tensor | null;
  /** float32 scalar, as PyTorch keeps it for fused kernels. */
  step: Tensor;
}

function fusedAvailable(): boolean {
  try {
    opId('aten::_fused_adamw_');
    return true;
  } catch {
    return false;
  }
}

/** AdamW (decoupled weight decay), numerically as torch.optim.AdamW. */
export class AdamW extends GroupedOptimizer<AdamWOptions> implements Optimizer {
  readonly #state = new Map<Tensor, ParamState>();
  #steps = 0;

  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super(params, { ...defaults, ...options });
    for (const group of this.groups) {
      const o = group.options;
      if (!(o.lr >= 0) || !(o.eps >= 0) || !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
        throw new TunekitError('E_OPTIMIZER', `invalid AdamW options ${JSON.stringify(o)}`);
      }
      if (o.fused && !fusedAvailable()) o.fused = false;
    }
  }

  get stepCount(): number {
    return this.#steps;
  }

  private stateFor(param: Tensor, amsgrad: boolean): ParamState {
    let state = this.#state.get(param);
    if (state === undefined) {
      state = {
        expAvg: zerosLike(param).keep(),
        expAvgSq: zerosLike(param).keep(),
        maxExpAvgSq: amsgrad ? zerosLike(param).keep() : null,
        step: full([], 0, { dtype: 'float32', device: param.device as 'cpu' }).keep(),
      };
      this.#state.set(param, state);
    }
    return state;
  }

  step(): void {
    this.#steps++;
    noGrad(() =>
      tidy(() => {
        for (const group of this.groups) {
          const params: Tensor[] = [];
          const grads: Tensor[] = [];
          for (const param of group.params) {
            const grad = param.grad;
            if (grad === null) continue;
            params.push(param);
            grads.push(grad);
          }
          if (params.length === 0) continue;
          const states = params.map((param) => this.stateFor(param, group.options.amsgrad));
          if (group.options.fused) this.fusedStep(params, grads, states, group.options);
          else this.loopStep(params, grads, states, group.options);
        }
      }),
    );
  }

  private fusedStep(params: Tensor[], grads: Tensor[], states: ParamState[], o: AdamWOptions): void {
    const steps = states.map((s) => s.step);
    callOp('aten::_foreach_add_.Scalar', steps, 1);
    // The fused kernel wants one device and dtype per call.
    const buckets = new Map<string, number[]>();
    params.forEach((param, i) => {
      const key = `${param.device}/${param.dtype}`;
      const bucket = buckets.get(key);
      if (bucket === undefined) buckets.set(key, [i]);
      else bucket.push(i);
    });
    for (const indices of buckets.values()) {
      callOp(
        'aten::_fused_adamw_',
        indices.map((i) => params[i]),
        indices.map((i) => grads[i]),
        indices.map((i) => states[i].expAvg),
        indices.map((i) => states[i].expAvgSq),
        o.amsgrad ? indices.map((i) => states[i].maxExpAvgSq as Tensor) : [],
        indices.map((i) => states[i].step),
        o.lr,
        o.beta1,
        o.beta2,
        o.weightDecay,
        o.eps,
        o.amsgrad,
        false,
        null,
        null,
      );
    }
  }

  private loopStep(params: Tensor[], grads: Tensor[], states: ParamState[], o: AdamWOptions): void {
    params.forEach((param, i) => {
      const grad = grads[i];
      const state = states[i];
      state.step.add_(1);
      const step = state.step.item();
      param.mul_(1 - o.lr * o.weightDecay);
      state.expAvg.lerp_(grad, 1 - o.beta1);
      state.expAvgSq.mul_(o.beta2).addcmul_(grad, grad, 1 - o.beta2);
      const biasCorrection1 = 1 - o.beta1 ** step;
      const biasCorrection2Sqrt = Math.sqrt(1 - o.beta2 ** step);
      let second = state.expAvgSq;
      if (state.maxExpAvgSq !== null) {
        callOp('aten::maximum.out', state.maxExpAvgSq, state.expAvgSq, state.maxExpAvgSq);
        second = state.maxExpAvgSq;
      }
      const denominator = second.sqrt().div_(biasCorrection2Sqrt).add_(o.eps);
      param.addcdiv_(state.expAvg, denominator, -o.lr / biasCorrection1);
    });
  }

  /** State keyed `<param name>.exp_avg`, `.exp_avg_sq`, `.max_exp_avg_sq`, `.step`. Tensors are live, not copies. */
  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    for (const group of this.groups) {
      group.params.forEach((param, i) => {
        const state = this.#state.get(param);
        if (state === undefined) return;
        const name = group.names[i];
        tensors.set(`${name}.exp_avg`, state.expAvg);
        tensors.set(`${name}.exp_avg_sq`, state.expAvgSq);
        if (state.maxExpAvgSq !== null) tensors.set(`${name}.max_exp_avg_sq`, state.maxExpAvgSq);
        tensors.set(`${name}.step`, state.step);
      });
    }
    return { step: this.#steps, groups: this.groups.map((g) => ({ ...g.options })), tensors };
  }

  loadStateDict(state: OptimizerState): void {
    restoreGroups(this.groups, state);
    this.#steps = state.step;
    this.groups.forEach((group) => {
      group.params.forEach((param, i) => {
        const name = group.names[i];
        const expAvg = state.tensors.get(`${name}.exp_avg`);
        if (expAvg === undefined) return;
        const target = this.stateFor(param, group.options.amsgrad);
        noGrad(() => {
          for (const [suffix, tensor] of [
            ['exp_avg', target.expAvg],
            ['exp_avg_sq', target.expAvgSq],
            ['max_exp_avg_sq', target.maxExpAvgSq],
            ['step', target.step],
          ] as const) {
            if (tensor === null) continue;
            const source = state.tensors.get(`${name}.${suffix}`);
            if (source === undefined) throw new TunekitError('E_OPTIMIZER_STATE', `optimizer state lacks "${name}.${suffix}"`);
            tensor.copy_(source);
          }
        });
      });
    });
  }

  dispose(): void {
    for (const state of this.#state.values()) {
      state.expAvg.dispose();
      state.expAvgSq.dispose();
      state.maxExpAvgSq?.dispose();
      state.step.dispose();
    }
    this.#state.clear();
  }
}
