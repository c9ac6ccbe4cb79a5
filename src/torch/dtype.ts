import { TunekitError } from '../errors.js';

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/** c10::ScalarType codes (stable across libtorch releases). */
const codes: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const names = new Map<number, DType>(Object.entries(codes).map(([name, code]) => [code, name as DType]));

export const dtypeByteSize: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function dtypeCode(dtype: DType): number {
  const code = codes[dtype];
  if (code === undefined) throw new TunekitError('E_DTYPE', `unknown dtype "${dtype}"; expected one of ${Object.keys(codes).join(', ')}`);
  return code;
}

export function dtypeFromCode(code: number): DType {
  const name = names.get(code);
  if (name === undefined) throw new TunekitError('E_DTYPE', `libtorch scalar type ${code} has no tunekit dtype`);
  return name;
}

export function isFloatingDtype(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/** safetensors dtype names, as the format spells them. */
const safetensorsNames: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

export function toSafetensorsDtype(dtype: DType): string {
  return safetensorsNames[dtype];
}

export function fromSafetensorsDtype(name: string): DType {
  for (const [dtype, safetensorsName] of Object.entries(safetensorsNames)) {
    if (safetensorsName === name) return dtype as DType;
  }
  throw new TunekitError('E_DTYPE', `safetensors dtype "${name}" is not supported`);
}

export type TypedArray =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

/** The dtype a typed array holds natively (Uint16Array has none: it may be float16 or bfloat16 bits). */
export function dtypeOfTypedArray(array: TypedArray): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  if (array instanceof BigInt64Array) return 'int64';
  if (array instanceof Int32Array) return 'int32';
  if (array instanceof Int16Array) return 'int16';
  if (array instanceof Int8Array) return 'int8';
  if (array instanceof Uint8Array) return 'uint8';
  throw new TunekitError('E_DTYPE', 'a Uint16Array needs an explicit dtype (float16 or bfloat16)');
}

/** A typed-array view of raw bytes in the layout `dtype` stores them. */
export function typedView(buffer: ArrayBuffer, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buffer);
  }
}
