import { TunekitError } from '../errors.js';
import { Tensor } from '../torch/tensor.js';

/** Parameters with hyper-parameters that override the optimizer's defaults (e.g. no weight decay for norms). */
export interface ParamGroup<H> {
  params: Iterable<Tensor> | Iterable<[string, Tensor]>;
  options?: Partial<H>;
}

export interface ResolvedGroup<H> {
  names: string[];
  params: Tensor[];
  options: H;
}

export type ParamsInput<H> = Iterable<Tensor> | Iterable<[string, Tensor]> | Map<string, Tensor> | ParamGroup<H>[];

function isGroupList<H>(input: unknown): input is ParamGroup<H>[] {
  return Array.isArray(input) && input.length > 0 && typeof input[0] === 'object' && input[0] !== null && 'params' in input[0];
}

/** Normalizes the accepted parameter inputs into named groups; unnamed tensors are named by position. */
export function resolveGroups<H>(input: ParamsInput<H>, defaults: H): ResolvedGroup<H>[] {
  const groups: ParamGroup<H>[] = isGroupList<H>(input) ? input : [{ params: input as Iterable<Tensor> }];
  let position = 0;
  const seen = new Set<Tensor>();
  return groups.map((group) => {
    const names: string[] = [];
    const params: Tensor[] = [];
    for (const entry of group.params as Iterable<Tensor | [string, Tensor]>) {
      const [name, tensor] = entry instanceof Tensor ? [String(position), entry] : entry;
      position++;
      if (seen.has(tensor)) throw new TunekitError('E_OPTIMIZER', `parameter "${name}" appears in two groups`);
      seen.add(tensor);
      names.push(name);
      params.push(tensor);
    }
    return { names, params, options: { ...defaults, ...group.options } };
  });
}

/** What an optimizer can save and restore: plain numbers plus named state tensors. */
export interface OptimizerState {
  step: number;
  groups: Record<string, number | boolean>[];
  tensors: Map<string, Tensor>;
}

/** What every optimizer here shares: resolved parameter groups and dropping gradients. */
export abstract class GroupedOptimizer<H> {
  readonly groups: ResolvedGroup<H>[];

  constructor(params: ParamsInput<H>, defaults: H) {
    this.groups = resolveGroups(params, defaults);
  }

  zeroGrad(): void {
    for (const group of this.groups) for (const param of group.params) param.zeroGrad();
  }
}

export interface Optimizer {
  /** The learning rate of each group, as schedules set it. */
  readonly groups: { options: { lr: number } }[];
  step(): void;
  zeroGrad(): void;
  stateDict(): OptimizerState;
  loadStateDict(state: OptimizerState): void;
  dispose(): void;
}

/** Restores each group's hyper-parameters from a saved state, checking that the group counts match. */
export function restoreGroups<H>(groups: ResolvedGroup<H>[], state: OptimizerState): void {
  if (state.groups.length !== groups.length) {
    throw new TunekitError('E_OPTIMIZER_STATE', `optimizer state has ${state.groups.length} groups, this optimizer ${groups.length}`);
  }
  groups.forEach((group, g) => Object.assign(group.options as object, state.groups[g]));
}
