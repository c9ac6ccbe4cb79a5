import type { AdapterConfig } from '../../src/peft/config.js';
import { AdamW } from '../../src/optim/index.js';
import type { Batch } from '../../src/models/index.js';
import { loraConfig as peftLoraConfig, type PeftModel } from '../../src/peft/index.js';
import { tidy } from '../../src/torch/index.js';

/** The fields every adapter config carries. */
export const common = { taskType: 'CAUSAL_LM', baseModelNameOrPath: null, revision: null, inferenceMode: false } as const;

/** A LoRA config with PEFT's defaults but r 4 on q_proj/v_proj, and `extra` on top. */
export function loraConfig(extra: Record<string, unknown> = {}): AdapterConfig {
  return { ...peftLoraConfig({ ...common, r: 4, targetModules: ['q_proj', 'v_proj'] }), ...extra } as AdapterConfig;
}

/** A few AdamW steps on whatever the adapter made trainable, so its weights are no longer their initial values. */
export function trainBriefly(peft: PeftModel, batch: Batch, steps = 3): void {
  const optimizer = new AdamW(peft.parameters().filter((p) => p.requiresGrad), { lr: 5e-2 });
  for (let step = 0; step < steps; step++) {
    tidy(() => peft.loss(batch).backward());
    optimizer.step();
    optimizer.zeroGrad();
  }
  optimizer.dispose();
}
