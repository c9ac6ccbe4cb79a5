import { inspect } from 'node:util';
import { TunekitError } from '../errors.js';
import { type DType, dtypeCode, dtypeFromCode, typedView, type TypedArray } from './dtype.js';
import { native, type TensorHandle } from './native.js';
import { runScoped, track, type Scoped } from './scope.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Scalar = number | boolean;
/** A number where a tensor is accepted stands for a 0-d tensor (PyTorch's Scalar overloads). */
export type TensorOrScalar = Tensor | Scalar;

interface OpInfo {
  id: number;
  /** Per return: whether it is a tensor, a tensor list, an optional tensor, or a plain value. */
  returns: ('tensor' | 'tensors' | 'optional' | 'value')[];
}

const ops = new Map<string, OpInfo>();

function returnKind(type: string): OpInfo['returns'][number] {
  if (type === 'Tensor') return 'tensor';
  if (type === 'Tensor?') return 'optional';
  if (type === 'Tensor[]' || type === 'Tensor?[]') return 'tensors';
  return 'value';
}

function opInfo(qualifiedName: string): OpInfo {
  let info = ops.get(qualifiedName);
  if (info === undefined) {
    const separator = qualifiedName.indexOf('.', qualifiedName.indexOf('::'));
    const name = separator < 0 ? qualifiedName : qualifiedName.slice(0, separator);
    const overload = separator < 0 ? '' : qualifiedName.slice(separator + 1);
    const id = native().opHandle(name, overload);
    info = { id, returns: native().opReturns(id).map(returnKind) };
    ops.set(qualifiedName, info);
  }
  return info;
}

/** Resolves "aten::name.overload" in PyTorch's dispatcher once, then reuses the handle. */
export function opId(qualifiedName: string): number {
  return opInfo(qualifiedName).id;
}

function toNative(arg: unknown): unknown {
  if (arg instanceof Tensor) return arg.handle;
  if (Array.isArray(arg) && arg.length > 0 && arg.some((a) => a instanceof Tensor)) {
    return arg.map((a) => (a instanceof Tensor ? a.handle : a));
  }
  return arg;
}

function wrapReturn(value: unknown, kind: OpInfo['returns'][number]): unknown {
  switch (kind) {
    case 'tensor':
      return new Tensor(value as TensorHandle);
    case 'optional':
      return value === null ? null : new Tensor(value as TensorHandle);
    case 'tensors':
      return (value as (TensorHandle | null)[]).map((handle) => (handle === null ? null : new Tensor(handle)));
    case 'value':
      return value;
  }
}

/**
 * Calls any ATen operator by its schema name, e.g. `callOp('aten::add.Tensor', a, b, 1)`. Tensors and arrays of
 * tensors are passed through; `undefined` takes the schema default. Returned tensors are new `Tensor`s; several
 * returns come as an array.
 */
export function callOp(qualifiedName: string, ...args: unknown[]): unknown {
  const info = opInfo(qualifiedName);
  const result = native().call(info.id, args.map(toNative));
  if (info.returns.length === 0) return null;
  if (info.returns.length === 1) return wrapReturn(result, info.returns[0]);
  return (result as unknown[]).map((value, i) => wrapReturn(value, info.returns[i]));
}

/** `callOp` for operators that return exactly one tensor. */
export function callTensorOp(qualifiedName: string, ...args: unknown[]): Tensor {
  return new Tensor(native().call(opInfo(qualifiedName).id, args.map(toNative)) as TensorHandle);
}

/** Calls an in-place operator and drops the alias handle it returns. */
function callInPlace(qualifiedName: string, ...args: unknown[]): void {
  const alias = native().call(opInfo(qualifiedName).id, args.map(toNative));
  if (typeof alias === 'number') native().dispose(alias as TensorHandle);
}

/** Frees tensors that were dropped without dispose() once the garbage collector notices (a backstop, not a plan). */
const forgotten = new FinalizationRegistry<TensorHandle>((handle) => native().dispose(handle));

function normalizeDim(dim: number, rank: number): number {
  return dim < 0 ? dim + rank : dim;
}

export interface SliceSpec {
  start?: number;
  end?: number;
  step?: number;
}

/**
 * A libtorch tensor. Results of operations are new tensors owned by the innermost `tidy` scope (or by the caller,
 * outside any scope); release memory with `tidy` or `dispose()`, never by waiting for the garbage collector.
 */
export class Tensor implements Scoped {
  #handle: TensorHandle | null;
  #kept = false;

  constructor(handle: TensorHandle) {
    this.#handle = handle;
    // Tensors inside a tidy scope are disposed by it; only those that reach user code need the backstop.
    if (!track(this)) this.#watchByGc();
  }

  get handle(): TensorHandle {
    if (this.#handle === null) throw new TunekitError('E_DISPOSED', 'this tensor was disposed');
    return this.#handle;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  get isKept(): boolean {
    return this.#kept;
  }

  /** Frees the libtorch tensor now. Safe to call twice. */
  dispose(): void {
    if (this.#handle !== null) {
      native().dispose(this.#handle);
      forgotten.unregister(this);
      this.#handle = null;
    }
  }

  /** Exempts this tensor from every enclosing `tidy` scope; the caller disposes it. */
  keep(): this {
    if (!this.#kept) this.#watchByGc();
    this.#kept = true;
    return this;
  }

  /** From now on the garbage collector backs up dispose(), and V8 knows the bytes at stake. */
  #watchByGc(): void {
    if (this.#handle === null) return;
    forgotten.register(this, this.#handle, this);
    native().reportToGc(this.#handle);
  }

  /** Called when a tensor leaves the outermost tidy scope. */
  static escaped(tensor: Scoped): void {
    if (tensor instanceof Tensor && !tensor.#kept) tensor.#watchByGc();
  }

  // ------------------------------------------------------------ metadata

  get shape(): number[] {
    return native().shape(this.handle);
  }

  get dtype(): DType {
    return dtypeFromCode(native().dtype(this.handle));
  }

  get device(): string {
    return native().device(this.handle);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  size(dim: number): number {
    const shape = this.shape;
    const index = normalizeDim(dim, shape.length);
    if (index < 0 || index >= shape.length) throw new TunekitError('E_DIM', `dim ${dim} out of range for shape [${shape}]`);
    return shape[index];
  }

  // ------------------------------------------------------------ data out

  /** The elements as a typed array of the tensor's own dtype (float16/bfloat16 as raw Uint16 bits). */
  data(): TypedArray {
    return typedView(native().toBytes(this.handle), this.dtype);
  }

  /** The raw bytes, contiguous, copied from any device. */
  bytes(): Uint8Array {
    return new Uint8Array(native().toBytes(this.handle));
  }

  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.data() as Float32Array;
    const converted = this.to('float32');
    try {
      return converted.data() as Float32Array;
    } finally {
      converted.dispose();
    }
  }

  toFloat64Array(): Float64Array {
    if (this.dtype === 'float64') return this.data() as Float64Array;
    const converted = this.to('float64');
    try {
      return converted.data() as Float64Array;
    } finally {
      converted.dispose();
    }
  }

  /** Elements as plain numbers (int64 converted to Number) in a flat array. */
  toFlatArray(): number[] {
    const data = this.dtype === 'float16' || this.dtype === 'bfloat16' ? this.toFloat32Array() : this.data();
    return Array.from(data as ArrayLike<number | bigint>, Number);
  }

  /** Elements as nested JS arrays matching the shape; a 0-d tensor gives a number. */
  toArray(): unknown {
    const flat = this.toFlatArray();
    const shape = this.shape;
    if (shape.length === 0) return flat[0];
    const build = (offset: number, dim: number): unknown[] => {
      const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: unknown[] = [];
      for (let i = 0; i < shape[dim]; i++) {
        out.push(dim === shape.length - 1 ? flat[offset + i] : build(offset + i * stride, dim + 1));
      }
      return out;
    };
    return build(0, 0);
  }

  item(): number {
    const value = native().item(this.handle);
    return typeof value === 'boolean' ? Number(value) : value;
  }

  // ------------------------------------------------------------ conversion

  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    const options = typeof target === 'string' ? (target.startsWith('cuda') || target === 'cpu' ? { device: target as Device } : { dtype: target as DType }) : target;
    if (options.device !== undefined && options.dtype !== undefined) {
      return callTensorOp('aten::to.device', this, options.device, dtypeCode(options.dtype), false, false);
    }
    if (options.device !== undefined) return callTensorOp('aten::to.device', this, options.device, native().dtype(this.handle), false, false);
    if (options.dtype !== undefined) return callTensorOp('aten::to.dtype', this, dtypeCode(options.dtype), false, false);
    return this.alias();
  }

  float(): Tensor {
    return this.to('float32');
  }

  double(): Tensor {
    return this.to('float64');
  }

  long(): Tensor {
    return this.to('int64');
  }

  int(): Tensor {
    return this.to('int32');
  }

  bool(): Tensor {
    return this.to('bool');
  }

  /** A second handle on the same tensor (same storage, same autograd identity), owned by the current scope. */
  alias(): Tensor {
    return callTensorOp('aten::alias', this);
  }

  clone(): Tensor {
    return callTensorOp('aten::clone', this);
  }

  detach(): Tensor {
    return callTensorOp('aten::detach', this);
  }

  contiguous(): Tensor {
    return callTensorOp('aten::contiguous', this);
  }

  // ------------------------------------------------------------ autograd

  get requiresGrad(): boolean {
    return native().requiresGrad(this.handle);
  }

  set requiresGrad(value: boolean) {
    native().setRequiresGrad(this.handle, value);
  }

  /** Sets requiresGrad and returns this tensor, for chaining. */
  requiresGrad_(value = true): this {
    native().setRequiresGrad(this.handle, value);
    return this;
  }

  /** The accumulated gradient as a new handle (owned by the current scope), or null. */
  get grad(): Tensor | null {
    const handle = native().grad(this.handle);
    return handle === null ? null : new Tensor(handle);
  }

  set grad(value: Tensor | null) {
    native().setGrad(this.handle, value === null ? null : value.handle);
  }

  get isLeaf(): boolean {
    return native().isLeaf(this.handle);
  }

  retainGrad(): void {
    native().retainGrad(this.handle);
  }

  /** Back-propagates from this tensor (a scalar unless `gradient` is given) into every leaf's `.grad`. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native().backward(this.handle, gradient === undefined ? null : gradient.handle, options.retainGraph);
  }

  /** Drops the gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    native().setGrad(this.handle, null);
  }

  // ------------------------------------------------------------ arithmetic

  add(other: TensorOrScalar, alpha: number = 1): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::add.Tensor', this, other, alpha) : callTensorOp('aten::add.Scalar', this, other, alpha);
  }

  sub(other: TensorOrScalar, alpha: number = 1): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::sub.Tensor', this, other, alpha) : callTensorOp('aten::sub.Scalar', this, other, alpha);
  }

  mul(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::mul.Tensor', this, other) : callTensorOp('aten::mul.Scalar', this, other);
  }

  div(other: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode !== undefined) {
      return other instanceof Tensor
        ? callTensorOp('aten::div.Tensor_mode', this, other, roundingMode)
        : callTensorOp('aten::div.Scalar_mode', this, other, roundingMode);
    }
    return other instanceof Tensor ? callTensorOp('aten::div.Tensor', this, other) : callTensorOp('aten::div.Scalar', this, other);
  }

  remainder(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::remainder.Tensor', this, other) : callTensorOp('aten::remainder.Scalar', this, other);
  }

  pow(exponent: TensorOrScalar): Tensor {
    return exponent instanceof Tensor
      ? callTensorOp('aten::pow.Tensor_Tensor', this, exponent)
      : callTensorOp('aten::pow.Tensor_Scalar', this, exponent);
  }

  neg(): Tensor {
    return callTensorOp('aten::neg', this);
  }

  abs(): Tensor {
    return callTensorOp('aten::abs', this);
  }

  sqrt(): Tensor {
    return callTensorOp('aten::sqrt', this);
  }

  rsqrt(): Tensor {
    return callTensorOp('aten::rsqrt', this);
  }

  square(): Tensor {
    return callTensorOp('aten::square', this);
  }

  reciprocal(): Tensor {
    return callTensorOp('aten::reciprocal', this);
  }

  exp(): Tensor {
    return callTensorOp('aten::exp', this);
  }

  log(): Tensor {
    return callTensorOp('aten::log', this);
  }

  log1p(): Tensor {
    return callTensorOp('aten::log1p', this);
  }

  tanh(): Tensor {
    return callTensorOp('aten::tanh', this);
  }

  sigmoid(): Tensor {
    return callTensorOp('aten::sigmoid', this);
  }

  sin(): Tensor {
    return callTensorOp('aten::sin', this);
  }

  cos(): Tensor {
    return callTensorOp('aten::cos', this);
  }

  floor(): Tensor {
    return callTensorOp('aten::floor', this);
  }

  round(): Tensor {
    return callTensorOp('aten::round', this);
  }

  sign(): Tensor {
    return callTensorOp('aten::sign', this);
  }

  clamp(min?: number, max?: number): Tensor {
    return callTensorOp('aten::clamp', this, min ?? null, max ?? null);
  }

  maximum(other: Tensor): Tensor {
    return callTensorOp('aten::maximum', this, other);
  }

  minimum(other: Tensor): Tensor {
    return callTensorOp('aten::minimum', this, other);
  }

  /** Linear interpolation `this + weight * (end - this)`. */
  lerp(end: Tensor, weight: TensorOrScalar): Tensor {
    return weight instanceof Tensor ? callTensorOp('aten::lerp.Tensor', this, end, weight) : callTensorOp('aten::lerp.Scalar', this, end, weight);
  }

  // ------------------------------------------------------------ comparison and logic

  eq(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::eq.Tensor', this, other) : callTensorOp('aten::eq.Scalar', this, other);
  }

  ne(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::ne.Tensor', this, other) : callTensorOp('aten::ne.Scalar', this, other);
  }

  lt(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::lt.Tensor', this, other) : callTensorOp('aten::lt.Scalar', this, other);
  }

  le(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::le.Tensor', this, other) : callTensorOp('aten::le.Scalar', this, other);
  }

  gt(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::gt.Tensor', this, other) : callTensorOp('aten::gt.Scalar', this, other);
  }

  ge(other: TensorOrScalar): Tensor {
    return other instanceof Tensor ? callTensorOp('aten::ge.Tensor', this, other) : callTensorOp('aten::ge.Scalar', this, other);
  }

  logicalNot(): Tensor {
    return callTensorOp('aten::logical_not', this);
  }

  logicalAnd(other: Tensor): Tensor {
    return callTensorOp('aten::logical_and', this, other);
  }

  logicalOr(other: Tensor): Tensor {
    return callTensorOp('aten::logical_or', this, other);
  }

  isnan(): Tensor {
    return callTensorOp('aten::isnan', this);
  }

  /** True where the element is neither NaN nor ±Inf. */
  isfinite(): Tensor {
    return callTensorOp('aten::isfinite', this);
  }

  /** Elementwise choice: this where `condition`, else `other`. */
  where(condition: Tensor, other: TensorOrScalar): Tensor {
    return other instanceof Tensor
      ? callTensorOp('aten::where.self', condition, this, other)
      : callTensorOp('aten::where.ScalarOther', condition, this, other);
  }

  maskedFill(mask: Tensor, value: TensorOrScalar): Tensor {
    return value instanceof Tensor ? callTensorOp('aten::masked_fill.Tensor', this, mask, value) : callTensorOp('aten::masked_fill.Scalar', this, mask, value);
  }

  // ------------------------------------------------------------ reductions

  sum(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    if (dim === undefined) return callTensorOp('aten::sum', this, dtype === undefined ? null : dtypeCode(dtype));
    return callTensorOp('aten::sum.dim_IntList', this, dim, keepdim, dtype === undefined ? null : dtypeCode(dtype));
  }

  mean(dim?: number | number[], keepdim = false): Tensor {
    if (dim === undefined) return callTensorOp('aten::mean', this);
    return callTensorOp('aten::mean.dim', this, dim, keepdim);
  }

  prod(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return callTensorOp('aten::prod', this);
    return callTensorOp('aten::prod.dim_int', this, dim, keepdim);
  }

  /** Variance; `correction` 1 is the unbiased estimator (PyTorch's default), 0 the population variance. */
  var(dim?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return callTensorOp('aten::var.correction', this, dim ?? null, options.correction ?? 1, options.keepdim ?? false);
  }

  std(dim?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return callTensorOp('aten::std.correction', this, dim ?? null, options.correction ?? 1, options.keepdim ?? false);
  }

  /** The p-norm over `dim` (all elements when omitted). */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor {
    return callTensorOp('aten::linalg_vector_norm', this, p, dim ?? null, keepdim);
  }

  amax(dim: number | number[] = [], keepdim = false): Tensor {
    return callTensorOp('aten::amax', this, dim, keepdim);
  }

  amin(dim: number | number[] = [], keepdim = false): Tensor {
    return callTensorOp('aten::amin', this, dim, keepdim);
  }

  /** Largest element overall, or `{values, indices}` along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return callTensorOp('aten::max', this);
    const [values, indices] = callOp('aten::max.dim', this, dim, keepdim) as Tensor[];
    return { values, indices };
  }

  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return callTensorOp('aten::min', this);
    const [values, indices] = callOp('aten::min.dim', this, dim, keepdim) as Tensor[];
    return { values, indices };
  }

  argmax(dim?: number, keepdim = false): Tensor {
    return callTensorOp('aten::argmax', this, dim ?? null, keepdim);
  }

  argmin(dim?: number, keepdim = false): Tensor {
    return callTensorOp('aten::argmin', this, dim ?? null, keepdim);
  }

  logsumexp(dim: number | number[], keepdim = false): Tensor {
    return callTensorOp('aten::logsumexp', this, dim, keepdim);
  }

  cumsum(dim: number, dtype?: DType): Tensor {
    return callTensorOp('aten::cumsum', this, dim, dtype === undefined ? null : dtypeCode(dtype));
  }

  all(): Tensor {
    return callTensorOp('aten::all', this);
  }

  any(): Tensor {
    return callTensorOp('aten::any', this);
  }

  softmax(dim: number, dtype?: DType): Tensor {
    return callTensorOp('aten::softmax.int', this, dim, dtype === undefined ? null : dtypeCode(dtype));
  }

  logSoftmax(dim: number, dtype?: DType): Tensor {
    return callTensorOp('aten::log_softmax.int', this, dim, dtype === undefined ? null : dtypeCode(dtype));
  }

  /** `{values, indices}` of the k largest (or smallest) elements along `dim`. */
  topk(k: number, dim = -1, options: { largest?: boolean; sorted?: boolean } = {}): { values: Tensor; indices: Tensor } {
    const [values, indices] = callOp('aten::topk', this, k, dim, options.largest ?? true, options.sorted ?? true) as Tensor[];
    return { values, indices };
  }

  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [values, indices] = callOp('aten::sort', this, dim, descending) as Tensor[];
    return { values, indices };
  }

  /** Draws `numSamples` indices per row from the (unnormalized) probabilities in this tensor. */
  multinomial(numSamples: number, replacement = false): Tensor {
    return callTensorOp('aten::multinomial', this, numSamples, replacement, null);
  }

  // ------------------------------------------------------------ linear algebra

  matmul(other: Tensor): Tensor {
    return callTensorOp('aten::matmul', this, other);
  }

  mm(other: Tensor): Tensor {
    return callTensorOp('aten::mm', this, other);
  }

  bmm(other: Tensor): Tensor {
    return callTensorOp('aten::bmm', this, other);
  }

  /** Transpose of a matrix (rank ≤ 2). */
  t(): Tensor {
    return callTensorOp('aten::t', this);
  }

  // ------------------------------------------------------------ shape

  reshape(shape: readonly number[]): Tensor {
    return callTensorOp('aten::reshape', this, shape);
  }

  view(shape: readonly number[]): Tensor {
    return callTensorOp('aten::view', this, shape);
  }

  flatten(startDim = 0, endDim = -1): Tensor {
    return callTensorOp('aten::flatten.using_ints', this, startDim, endDim);
  }

  transpose(dim0: number, dim1: number): Tensor {
    return callTensorOp('aten::transpose.int', this, dim0, dim1);
  }

  permute(dims: readonly number[]): Tensor {
    return callTensorOp('aten::permute', this, dims);
  }

  squeeze(dim?: number): Tensor {
    return dim === undefined ? callTensorOp('aten::squeeze', this) : callTensorOp('aten::squeeze.dim', this, dim);
  }

  unsqueeze(dim: number): Tensor {
    return callTensorOp('aten::unsqueeze', this, dim);
  }

  /** Broadcast view to `shape` (-1 keeps a dimension). */
  expand(shape: readonly number[]): Tensor {
    return callTensorOp('aten::expand', this, shape, false);
  }

  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }

  repeat(repeats: readonly number[]): Tensor {
    return callTensorOp('aten::repeat', this, repeats);
  }

  repeatInterleave(repeats: number, dim: number): Tensor {
    return callTensorOp('aten::repeat_interleave.self_int', this, repeats, dim, null);
  }

  narrow(dim: number, start: number, length: number): Tensor {
    return callTensorOp('aten::narrow', this, dim, start, length);
  }

  /** `this[..., start:end:step, ...]` along `dim` (a view). */
  slice(dim: number, { start, end, step }: SliceSpec = {}): Tensor {
    return callTensorOp('aten::slice.Tensor', this, dim, start ?? null, end ?? null, step ?? 1);
  }

  /** `this[..., index, ...]` along `dim`, dropping that dimension (a view). */
  select(dim: number, index: number): Tensor {
    return callTensorOp('aten::select.int', this, dim, index);
  }

  indexSelect(dim: number, index: Tensor): Tensor {
    return callTensorOp('aten::index_select', this, dim, index);
  }

  /** Advanced indexing `this[indices[0], indices[1], …]`; null skips a dimension. */
  index(indices: (Tensor | null)[]): Tensor {
    return callTensorOp('aten::index.Tensor', this, indices);
  }

  /** Sets the slices `index` along `dim` to `value`. */
  indexFill(dim: number, index: Tensor, value: number): Tensor {
    return callTensorOp('aten::index_fill.int_Scalar', this, dim, index, value);
  }

  gather(dim: number, index: Tensor): Tensor {
    return callTensorOp('aten::gather', this, dim, index, false);
  }

  scatter(dim: number, index: Tensor, source: TensorOrScalar): Tensor {
    return source instanceof Tensor
      ? callTensorOp('aten::scatter.src', this, dim, index, source)
      : callTensorOp('aten::scatter.value', this, dim, index, source);
  }

  split(splitSize: number | number[], dim = 0): Tensor[] {
    return (
      typeof splitSize === 'number'
        ? callOp('aten::split.Tensor', this, splitSize, dim)
        : callOp('aten::split_with_sizes', this, splitSize, dim)
    ) as Tensor[];
  }

  chunk(chunks: number, dim = 0): Tensor[] {
    return callOp('aten::chunk', this, chunks, dim) as Tensor[];
  }

  triu(diagonal = 0): Tensor {
    return callTensorOp('aten::triu', this, diagonal);
  }

  tril(diagonal = 0): Tensor {
    return callTensorOp('aten::tril', this, diagonal);
  }

  // ------------------------------------------------------------ in place (under noGrad for parameters)

  copy_(source: Tensor): this {
    callInPlace('aten::copy_', this, source, false);
    return this;
  }

  zero_(): this {
    callInPlace('aten::zero_', this);
    return this;
  }

  fill_(value: number): this {
    callInPlace('aten::fill_.Scalar', this, value);
    return this;
  }

  add_(other: TensorOrScalar, alpha: number = 1): this {
    if (other instanceof Tensor) callInPlace('aten::add_.Tensor', this, other, alpha);
    else callInPlace('aten::add_.Scalar', this, other, alpha);
    return this;
  }

  sub_(other: TensorOrScalar, alpha: number = 1): this {
    if (other instanceof Tensor) callInPlace('aten::sub_.Tensor', this, other, alpha);
    else callInPlace('aten::sub_.Scalar', this, other, alpha);
    return this;
  }

  mul_(other: TensorOrScalar): this {
    if (other instanceof Tensor) callInPlace('aten::mul_.Tensor', this, other);
    else callInPlace('aten::mul_.Scalar', this, other);
    return this;
  }

  div_(other: TensorOrScalar): this {
    if (other instanceof Tensor) callInPlace('aten::div_.Tensor', this, other);
    else callInPlace('aten::div_.Scalar', this, other);
    return this;
  }

  /** this += value · tensor1 · tensor2 */
  addcmul_(tensor1: Tensor, tensor2: Tensor, value = 1): this {
    callInPlace('aten::addcmul_', this, tensor1, tensor2, value);
    return this;
  }

  /** this += value · tensor1 / tensor2 */
  addcdiv_(tensor1: Tensor, tensor2: Tensor, value = 1): this {
    callInPlace('aten::addcdiv_', this, tensor1, tensor2, value);
    return this;
  }

  lerp_(end: Tensor, weight: number): this {
    callInPlace('aten::lerp_.Scalar', this, end, weight);
    return this;
  }

  clamp_(min?: number, max?: number): this {
    callInPlace('aten::clamp_', this, min ?? null, max ?? null);
    return this;
  }

  maskedFill_(mask: Tensor, value: number): this {
    callInPlace('aten::masked_fill_.Scalar', this, mask, value);
    return this;
  }

  uniform_(from = 0, to = 1): this {
    callInPlace('aten::uniform_', this, from, to, null);
    return this;
  }

  normal_(mean = 0, std = 1): this {
    callInPlace('aten::normal_', this, mean, std, null);
    return this;
  }

  [inspect.custom](): string {
    if (this.#handle === null) return 'Tensor(disposed)';
    const shape = this.shape;
    const preview = this.numel <= 16 ? ` ${JSON.stringify(this.toArray())}` : '';
    return `Tensor([${shape.join(', ')}], ${this.dtype}, ${this.device})${preview}`;
  }
}

export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}

/**
 * Runs `fn` and disposes every tensor it created except those it returns (also inside arrays, Maps and plain
 * objects) and those marked with `keep()`. The returned tensors belong to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  return runScoped(fn, isTensor, Tensor.escaped);
}

/** Disposes every tensor found in `value` (a tensor, or arrays/Maps/objects of them). */
export function dispose(value: unknown): void {
  if (value instanceof Tensor) value.dispose();
  else if (Array.isArray(value)) value.forEach(dispose);
  else if (value instanceof Map) value.forEach((v) => dispose(v));
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    Object.values(value).forEach(dispose);
  }
}
