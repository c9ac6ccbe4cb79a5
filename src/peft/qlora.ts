import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import { ProjectionLayer } from '../nn/layers.js';
import type { DType } from '../torch/dtype.js';
import { dtypeByteSize } from '../torch/dtype.js';
import { noGrad } from '../torch/runtime.js';
import { tidy } from '../torch/tensor.js';
import { COMMON_DEFAULTS, type ConfigOptions } from './config.js';
import { attachLora, LORA_CONFIG_KEYS, LORA_DEFAULTS, LORA_MODULE_KEYS, type LoraConfig, parseLoraFields, serializeLoraFields } from './lora.js';
import { type PeftMethod, registerPeftMethod } from './method.js';
import { selectProjections, type TargetModules } from './targets.js';

export interface QuantizeOptions {
  /** Dtype the quantized layers compute in: float32 or bfloat16 (the rest of the model is converted to it). */
  computeDtype?: 'float32' | 'bfloat16';
  /** Layers to quantize; default every projection except the output head ("all-linear"). */
  targets?: TargetModules;
  blockSize?: number;
  scaleBlockSize?: number;
}

export interface QuantizeReport {
  layers: number;
  parameters: number;
  /** Bytes the quantized weights would take in float32. */
  float32Bytes: number;
  /** Bytes they take in NF4, codes and double-quantized scales included. */
  nf4Bytes: number;
  bitsPerParameter: number;
}

/**
 * QLoRA's frozen base: every targeted projection's weight is replaced by its NF4 form (block 64, scales in 8 bits
 * per block of 256), dequantized on the fly in the matmul. Attach LoRA on top with a PeftModel.
 */
export function quantizeModel(model: LanguageModel, options: QuantizeOptions = {}): QuantizeReport {
  const computeDtype: DType = options.computeDtype ?? 'float32';
  if (computeDtype !== 'float32' && computeDtype !== 'bfloat16') throw new TunekitError('E_QLORA', `computeDtype must be float32 or bfloat16, got ${computeDtype}`);
  const layers = selectProjections(model, { targets: options.targets ?? 'all-linear' });
  let parameters = 0;
  let nf4Bytes = 0;
  noGrad(() => {
    for (const [, layer] of layers) {
      if (layer.quantizedWeight !== null) continue;
      const quantized = layer.quantize(computeDtype, options);
      parameters += quantized.numel;
      nf4Bytes += quantized.bytes;
    }
  });
  model.to(computeDtype);
  model.freeze();
  return { layers: layers.length, parameters, float32Bytes: parameters * dtypeByteSize.float32, nf4Bytes, bitsPerParameter: parameters === 0 ? 0 : (8 * nf4Bytes) / parameters };
}

/** Restores float weights in every NF4 layer (e.g. before saving a merged model in float). */
export function dequantizeModel(model: LanguageModel): void {
  noGrad(() => {
    for (const [, module] of model.namedModules()) if (module instanceof ProjectionLayer && module.quantizedWeight !== null) module.dequantize();
  });
}

/**
 * Re-quantizes every float projection that was NF4 before a merge, returning the largest absolute change the
 * second rounding made to any weight: the error a merged-and-requantized model carries.
 */
export function requantizeLayers(layers: ProjectionLayer[], options: QuantizeOptions = {}): number {
  let worst = 0;
  noGrad(() => {
    for (const layer of layers) {
      if (layer.quantizedWeight !== null) continue;
      const original = layer.fanInFanOut ? tidy(() => layer.weight.t().float().contiguous()) : tidy(() => layer.weight.float());
      const quantized = layer.quantize(options.computeDtype ?? layer.weightDtype, options);
      worst = Math.max(worst, tidy(() => quantized.dequantize('float32').sub(original).abs().amax().item()));
      original.dispose();
    }
  });
  return worst;
}

/**
 * QLoRA: LoRA on a base whose projections are NF4 (`quantizeModel`). On disk it is a plain LoRA adapter, as PEFT
 * writes it (the quantization belongs to how the base is loaded, not to the adapter), so it reads back as LORA.
 */
export interface QLoraConfig extends Omit<LoraConfig, 'peftType'> {
  peftType: 'QLORA';
  quantization: QuantizeOptions;
}

/** A QLoRA config: LoRA with PEFT's defaults on an NF4 base (block 64, scales per 256 blocks, float32 compute). */
export function qloraConfig(options: ConfigOptions<QLoraConfig> = {}): QLoraConfig {
  return { ...COMMON_DEFAULTS, ...LORA_DEFAULTS, quantization: {}, ...options, peftType: 'QLORA' };
}

export const qloraMethod: PeftMethod<QLoraConfig> = {
  peftType: 'QLORA',
  filePeftType: 'LORA',
  moduleKeys: LORA_MODULE_KEYS,
  configKeys: LORA_CONFIG_KEYS,
  mergeable: true,
  parseConfig: (read, json, file) => ({ ...parseLoraFields(read, json, file), quantization: {} }),
  serializeConfig: serializeLoraFields,
  attach({ model, name }, config) {
    quantizeModel(model, config.quantization);
    return attachLora(model, name, config);
  },
};

registerPeftMethod(qloraMethod);
