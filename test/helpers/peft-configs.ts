import type { AdapterConfig } from '../../src/peft/config.js';

/** The fields every adapter config carries. */
export const common = { taskType: 'CAUSAL_LM', baseModelNameOrPath: null, revision: null, inferenceMode: false } as const;

/** A LoRA config with PEFT's defaults (r 4, alpha 8, q_proj/v_proj) and `extra` on top. */
export function loraConfig(extra: Record<string, unknown> = {}): AdapterConfig {
  return {
    ...common,
    peftType: 'LORA',
    r: 4,
    loraAlpha: 8,
    loraDropout: 0,
    targetModules: ['q_proj', 'v_proj'],
    useRslora: false,
    initLoraWeights: true,
    bias: 'none',
    fanInFanOut: false,
    modulesToSave: null,
    layersToTransform: null,
    layersPattern: null,
    rankPattern: {},
    alphaPattern: {},
    ...extra,
  } as AdapterConfig;
}
