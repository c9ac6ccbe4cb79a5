/**
 * ZeRO stage 1 (Rajbhandari et al. 2020) over a c10d group: the trainable parameters laid end to end (optimizer group
 * by group) and cut into one equal slice per rank; each rank keeps the AdamW state of its slice only. A step
 * reduce-scatters the gradients (each rank gets its slice of the sum), clips by the global norm, updates its slice
 * and all-gathers the parameters. The arithmetic is AdamW's element by element, so results equal unsharded DDP.
 */
import { TunekitError } from '../errors.js';
import { AdamW, type OptimizerState } from '../optim/index.js';
import { restoreGroups } from '../optim/optimizer.js';
import { DISTRIBUTED_ERROR, type ProcessGroup } from '../torch/distributed.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { cat, zeros } from '../torch/ops.js';
import { noGrad } from '../torch/runtime.js';
import { type Tensor, tidy } from '../torch/tensor.js';

const STATE_KINDS = ['exp_avg', 'exp_avg_sq'] as const;

interface Piece {
  /** Where this rank's slice of the group starts in the flat layout, and its length (0 when it holds none). */
  start: number;
  length: number;
  tensor: Tensor;
}

export class ShardedAdamW {
  readonly #outer: AdamW;
  readonly #group: ProcessGroup;
  readonly #params: Tensor[] = [];
  readonly #names: string[] = [];
  readonly #offsets: number[] = [];
  readonly #padded: number;
  readonly #shardSize: number;
  readonly #pieces: Piece[] = [];
  readonly #inner: AdamW;

  /**
   * `outer` names the groups, their options and the learning rate its scheduler sets; it never steps (so it holds no
   * state). Build this after the ranks' parameters are equal (after the broadcast).
   */
  constructor(outer: AdamW, group: ProcessGroup) {
    this.#outer = outer;
    this.#group = group;
    let total = 0;
    const groupRanges: { start: number; end: number }[] = [];
    for (const optimizerGroup of outer.groups) {
      const start = total;
      optimizerGroup.params.forEach((param, i) => {
        if (param.dtype !== 'float32') throw new TunekitError(DISTRIBUTED_ERROR, `--shard-optimizer keeps float32 master weights; ${optimizerGroup.names[i]} is ${param.dtype}`);
        this.#params.push(param);
        this.#names.push(optimizerGroup.names[i]);
        this.#offsets.push(total);
        total += param.numel;
      });
      groupRanges.push({ start, end: total });
    }
    this.#shardSize = Math.ceil(total / group.worldSize);
    this.#padded = this.#shardSize * group.worldSize;
    const shardStart = group.rank * this.#shardSize;
    const shardEnd = shardStart + this.#shardSize;
    tidy(() =>
      noGrad(() => {
        const flat = this.#flatParameters();
        for (const range of groupRanges) {
          const start = Math.max(range.start, shardStart);
          const length = Math.max(0, Math.min(range.end, shardEnd) - start);
          this.#pieces.push({ start, length, tensor: flat.narrow(0, length === 0 ? 0 : start, length).clone().keep() });
        }
      }),
    );
    this.#inner = new AdamW(
      this.#pieces.map((piece, g) => ({ params: [[`shard${g}`, piece.tensor] as [string, Tensor]], options: { ...outer.groups[g].options } })),
      { ...outer.groups[0].options },
    );
  }

  /** Bytes of optimizer state this rank holds. */
  get stateBytes(): number {
    const state = this.#inner.stateDict();
    let bytes = 0;
    for (const tensor of state.tensors.values()) bytes += tensor.numel * dtypeByteSize[tensor.dtype];
    return bytes;
  }

  #flatParameters(): Tensor {
    const parts = this.#params.map((param) => param.detach().flatten());
    if (this.#padded > parts.reduce((sum, part) => sum + part.numel, 0)) parts.push(zeros([this.#padded - this.#params.reduce((sum, p) => sum + p.numel, 0)]));
    return cat(parts);
  }

  /** This rank's slice of a flat (padded) tensor, as one tensor. */
  #shardOf(pieces: readonly Tensor[]): Tensor {
    const used = this.#pieces.reduce((sum, piece) => sum + piece.length, 0);
    return cat(used < this.#shardSize ? [...pieces, zeros([this.#shardSize - used])] : [...pieces]);
  }

  /** One optimizer step from the ranks' local gradients; returns the global gradient norm before clipping. */
  step(maxNorm: number): number {
    return tidy(() =>
      noGrad(() => {
        const grads = this.#params.map((param) => param.grad);
        const parts = grads.map((grad, i) => (grad ?? zeros(this.#params[i].shape)).flatten());
        const used = this.#offsets.length === 0 ? 0 : this.#offsets.at(-1)! + this.#params.at(-1)!.numel;
        if (used < this.#padded) parts.push(zeros([this.#padded - used]));
        const shardGrad = zeros([this.#shardSize]);
        this.#group.reduceScatter(shardGrad, cat(parts));
        const squares = shardGrad.square().sum();
        this.#group.allReduce(squares);
        const total = squares.sqrt();
        if (Number.isFinite(maxNorm)) shardGrad.mul_(total.add(1e-6).reciprocal().mul(maxNorm).clamp(undefined, 1));
        const shardStart = this.#group.rank * this.#shardSize;
        this.#pieces.forEach((piece, g) => {
          piece.tensor.grad = shardGrad.narrow(0, piece.length === 0 ? 0 : piece.start - shardStart, piece.length).clone();
          Object.assign(this.#inner.groups[g].options, this.#outer.groups[g].options);
        });
        this.#inner.step();
        this.#inner.zeroGrad();
        const gathered = zeros([this.#padded]);
        this.#group.allGather(gathered, this.#shardOf(this.#pieces.map((piece) => piece.tensor)));
        this.#params.forEach((param, i) => param.copy_(gathered.narrow(0, this.#offsets[i], param.numel).view(param.shape)));
        return total.item();
      }),
    );
  }

  /** The state as unsharded AdamW's stateDict() names it (every rank must call it; the tensors are the caller's). */
  stateDict(): OptimizerState {
    const inner = this.#inner.stateDict();
    const tensors = new Map<string, Tensor>();
    if (inner.step > 0) {
      for (const kind of STATE_KINDS) {
        const full = tidy(() => {
          const gathered = zeros([this.#padded]);
          this.#group.allGather(gathered, this.#shardOf(this.#pieces.map((_, g) => inner.tensors.get(`shard${g}.${kind}`)!)));
          return this.#params.map((param, i) => gathered.narrow(0, this.#offsets[i], param.numel).view(param.shape).clone().keep());
        });
        full.forEach((tensor, i) => tensors.set(`${this.#names[i]}.${kind}`, tensor));
      }
      const step = inner.tensors.get('shard0.step')!;
      this.#names.forEach((name) => tensors.set(`${name}.step`, step.clone().keep()));
    }
    return { step: inner.step, groups: this.#outer.groups.map((group) => ({ ...group.options })), tensors };
  }

  /** Takes this rank's slice of an unsharded AdamW state (a checkpoint's). */
  loadStateDict(state: OptimizerState): void {
    restoreGroups(this.#outer.groups, state);
    const first = state.tensors.get(`${this.#names[0]}.exp_avg`);
    if (first === undefined) return;
    const tensors = new Map<string, Tensor>();
    tidy(() => {
      for (const kind of STATE_KINDS) {
        const flat = cat(this.#names.map((name) => {
          const tensor = state.tensors.get(`${name}.${kind}`);
          if (tensor === undefined) throw new TunekitError('E_OPTIMIZER_STATE', `optimizer state lacks "${name}.${kind}"`);
          return tensor.flatten();
        }));
        this.#pieces.forEach((piece, g) => tensors.set(`shard${g}.${kind}`, flat.narrow(0, piece.length === 0 ? 0 : piece.start, piece.length)));
      }
      const step = state.tensors.get(`${this.#names[0]}.step`)!;
      this.#pieces.forEach((_, g) => tensors.set(`shard${g}.step`, step));
      this.#inner.loadStateDict({ step: state.step, groups: this.#outer.groups.map((group) => ({ ...group.options })), tensors });
    });
  }

  dispose(): void {
    this.#inner.dispose();
    for (const piece of this.#pieces) piece.tensor.dispose();
  }
}
