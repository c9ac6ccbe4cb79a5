import { TunekitError } from '../errors.js';
import { type DType, dtypeCode, dtypeOfTypedArray, isFloatingDtype, type TypedArray } from './dtype.js';
import { native } from './native.js';
import { callOp, callTensorOp, type Device, Tensor, type TensorOrScalar, tidy } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function finish(tensor: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) tensor.requiresGrad = true;
  return tensor;
}

function factoryArgs(options: CreateOptions, fallback: DType | null = 'float32'): unknown[] {
  const dtype = options.dtype ?? fallback;
  return [dtype === null ? null : dtypeCode(dtype), null, options.device ?? null, null];
}

type Nested = number | boolean | Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth: number, where: string): void {
  if (!Array.isArray(data)) {
    if (depth !== shape.length) throw new TunekitError('E_SHAPE', `ragged nested array at ${where}`);
    out.push(Number(data));
    return;
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new TunekitError('E_SHAPE', `ragged nested array at ${where}: length ${data.length}, expected ${shape[depth]}`);
  data.forEach((item, i) => flatten(item, shape, out, depth + 1, `${where}[${i}]`));
}

function typedArrayFor(values: ArrayLike<number>, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v));
    case 'float16':
    case 'bfloat16':
      return Float32Array.from(values);
  }
}

/**
 * A tensor from JS data: a typed array (its own dtype, 1-d unless `shape` is given) or nested arrays of numbers
 * (float32 unless `dtype` says otherwise: JS cannot tell 1 from 1.0) or booleans (bool).
 */
export function tensor(data: Nested | TypedArray, options: CreateOptions & { shape?: number[] } = {}): Tensor {
  let values: ArrayBufferView;
  let shape: number[];
  let dtype: DType;
  if (ArrayBuffer.isView(data)) {
    const own = data instanceof Uint16Array ? (options.dtype ?? 'bfloat16') : dtypeOfTypedArray(data);
    shape = options.shape ?? [data.length];
    dtype = options.dtype ?? own;
    if (own === dtype) values = data;
    else values = typedArrayFor(Array.from(data as ArrayLike<number | bigint>, Number), dtype);
  } else {
    shape = [];
    const flat: number[] = [];
    flatten(data, shape, flat, 0, 'data');
    if (options.shape !== undefined) shape = options.shape;
    let first: Nested = data;
    while (Array.isArray(first)) first = first[0];
    const isBool = typeof first === 'boolean';
    dtype = options.dtype ?? (isBool ? 'bool' : 'float32');
    values = typedArrayFor(flat, dtype);
  }
  const storedDtype = (dtype === 'float16' || dtype === 'bfloat16') && !(data instanceof Uint16Array) ? 'float32' : dtype;
  let result = new Tensor(native().fromBytes(values, dtypeCode(storedDtype), shape));
  if (storedDtype !== dtype) {
    const converted = result.to(dtype);
    result.dispose();
    result = converted;
  }
  if (options.device !== undefined && options.device !== 'cpu') {
    const moved = result.to(options.device);
    result.dispose();
    result = moved;
  }
  return finish(result, options);
}

/** A tensor over a copy of raw little-endian bytes, e.g. a safetensors record. */
export function fromBytes(bytes: ArrayBufferView, dtype: DType, shape: readonly number[]): Tensor {
  return new Tensor(native().fromBytes(bytes, dtypeCode(dtype), shape));
}

export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::scalar_tensor', value, ...factoryArgs(options)), options);
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::zeros', shape, ...factoryArgs(options)), options);
}

export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::ones', shape, ...factoryArgs(options)), options);
}

export function empty(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::empty.memory_format', shape, ...factoryArgs(options), null), options);
}

/** Filled with `value`; float32 unless `dtype` says otherwise. */
export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::full', shape, value, ...factoryArgs(options, typeof value === 'boolean' ? 'bool' : 'float32')), options);
}

/** Values start, start+step, … below end; int64 when every argument is an integer (as in PyTorch). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  return finish(callTensorOp('aten::arange.start_step', from, to, step, ...factoryArgs(options, null)), options);
}

export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::linspace', start, end, steps, ...factoryArgs(options)), options);
}

/** Standard normal samples from the generator seeded by `manualSeed`. */
export function randn(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::randn', shape, ...factoryArgs(options)), options);
}

/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::rand', shape, ...factoryArgs(options)), options);
}

/** Integers uniform in [low, high); int64 by default. */
export function randint(low: number, high: number, shape: readonly number[], options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::randint.low', low, high, shape, ...factoryArgs(options, 'int64')), options);
}

export function randperm(n: number, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::randperm', n, ...factoryArgs(options, 'int64')), options);
}

export function eye(n: number, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::eye', n, ...factoryArgs(options)), options);
}

function likeArgs(options: CreateOptions): unknown[] {
  return [options.dtype === undefined ? null : dtypeCode(options.dtype), null, options.device ?? null, null, null];
}

export function zerosLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::zeros_like', like, ...likeArgs(options)), options);
}

export function onesLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::ones_like', like, ...likeArgs(options)), options);
}

export function fullLike(like: Tensor, value: number, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::full_like', like, value, ...likeArgs(options)), options);
}

export function randnLike(like: Tensor, options: CreateOptions = {}): Tensor {
  return finish(callTensorOp('aten::randn_like', like, ...likeArgs(options)), options);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensorOp('aten::cat', tensors, dim);
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensorOp('aten::stack', tensors, dim);
}

/** Elementwise `condition ? a : b`. */
export function where(condition: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return callTensorOp('aten::where.self', condition, a, b);
  if (a instanceof Tensor) return callTensorOp('aten::where.ScalarOther', condition, a, b);
  if (b instanceof Tensor) return callTensorOp('aten::where.ScalarSelf', condition, a, b);
  return callTensorOp('aten::where.Scalar', condition, a, b);
}

/** All indices where `condition` is true, one row per element ([n, ndim]). */
export function nonzero(condition: Tensor): Tensor {
  return callTensorOp('aten::nonzero', condition);
}

export function einsum(equation: string, operands: readonly Tensor[]): Tensor {
  return callTensorOp('aten::einsum', equation, operands, null);
}

/** Several tensors through one operator call: PyTorch's `_foreach_*` family. */
export function foreachCall(qualifiedName: string, ...args: unknown[]): Tensor[] | null {
  return callOp(qualifiedName, ...args) as Tensor[] | null;
}

/**
 * The name of the first floating-point tensor that holds a NaN or ±Inf, or null when all are finite. One
 * elementwise test and one reduction per tensor, in libtorch; integer and boolean tensors are always finite.
 */
export function firstNonFinite(tensors: Iterable<readonly [string, Tensor]>): string | null {
  for (const [name, value] of tensors) {
    if (!isFloatingDtype(value.dtype)) continue;
    if (!tidy(() => value.isfinite().all().item())) return name;
  }
  return null;
}
