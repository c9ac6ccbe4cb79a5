/**
 * A config's sizes checked against the tensors a checkpoint holds, from the safetensors headers alone, before any
 * layer is allocated: a config that asks for a billion layers or a ten-billion-token vocabulary next to a small
 * checkpoint fails naming config.json and the key, instead of trying to allocate the model first.
 */
import { TunekitError } from '../errors.js';
import type { SafetensorsDtype } from '../io/safetensors.js';
import { oneLine } from '../io/text.js';

/** What the loader knows about each checkpoint tensor before reading it into libtorch. */
export interface WeightInfo {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** The file that holds it (a shard of a sharded folder). */
  file: string;
}

export type WeightExpectation =
  /** The layer count: tensors named `<prefix><index>.…` must cover exactly indices 0 … value-1. */
  | { kind: 'layers'; key: string; value: number; prefix: string }
  /** Dimension `dim` of the first of `tensors` present must equal `value` (the config key, times `detail`). */
  | { kind: 'dimension'; key: string; value: number; tensors: string[]; dim: number; detail?: string };

/** The dtypes a model weight may be stored in (everything else is a quantized or corrupt checkpoint). */
export const FLOAT_WEIGHT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set<SafetensorsDtype>(['F32', 'F16', 'BF16', 'F64']);

/** Refuses a weight stored as an integer, bool or 8-bit float tensor, naming the file and tensor. */
export function checkWeightDtypes(weights: ReadonlyMap<string, WeightInfo>): void {
  for (const [name, { dtype, file }] of weights) {
    if (!FLOAT_WEIGHT_DTYPES.has(dtype)) {
      throw new TunekitError(
        'E_DTYPE',
        `${file}: tensor ${oneLine(JSON.stringify(name))} is stored as ${dtype}, but a model weight must be a float tensor (${[...FLOAT_WEIGHT_DTYPES].join(', ')})`,
      );
    }
  }
}

function layerIndices(weights: ReadonlyMap<string, WeightInfo>, prefix: string): Set<number> {
  const indices = new Set<number>();
  for (const name of weights.keys()) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)\./.exec(name.slice(prefix.length));
    if (match) indices.add(Number(match[1]));
  }
  return indices;
}

/**
 * Checks every expectation against the checkpoint; `configSource` is config.json's path, `weightsSource` the folder
 * (named when a tensor an expectation needs is missing altogether).
 */
export function checkWeightsAgainstConfig(
  expectations: readonly WeightExpectation[],
  weights: ReadonlyMap<string, WeightInfo>,
  configSource: string,
  weightsSource: string,
): void {
  for (const expectation of expectations) {
    if (expectation.kind === 'layers') {
      const indices = layerIndices(weights, expectation.prefix);
      const held = indices.size === 0 ? 0 : Math.max(...indices) + 1;
      const gaps = held - indices.size;
      if (held !== expectation.value || gaps > 0) {
        const what = held === 0 ? `no "${expectation.prefix}<n>.…" tensors` : `${indices.size} layers (${expectation.prefix}0 to ${expectation.prefix}${held - 1}${gaps > 0 ? `, ${gaps} missing` : ''})`;
        throw new TunekitError('E_CONFIG', `${configSource}: "${expectation.key}" is ${expectation.value}, but the weights in ${weightsSource} hold ${what}`);
      }
      continue;
    }
    const name = expectation.tensors.find((candidate) => weights.has(candidate));
    if (name === undefined) {
      throw new TunekitError(
        'E_STATE_KEYS',
        `${weightsSource}: the weights lack "${expectation.tensors[0]}", which config.json's "${expectation.key}" describes (missing: ${expectation.tensors.join(' or ')})`,
      );
    }
    const { shape, file } = weights.get(name) as WeightInfo;
    const actual = shape[expectation.dim];
    if (actual !== expectation.value) {
      const expected = expectation.detail === undefined ? `${expectation.value}` : `${expectation.value} (${expectation.key} ${expectation.detail})`;
      throw new TunekitError(
        'E_CONFIG',
        `${configSource}: "${expectation.key}" gives ${expected}, but tensor "${name}" in ${file} has shape [${shape.join(', ')}]` +
          (actual === undefined ? ` (no dimension ${expectation.dim})` : ` (dimension ${expectation.dim} is ${actual})`),
      );
    }
  }
}
