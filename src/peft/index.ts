export { PeftModel, type Batch, type TrainableSummary } from './peft-model.js';
export { loadAdapter, saveAdapter, readAdapterConfig, adapterStateDict, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type LoadAdapterOptions } from './format.js';
export { parseAdapterConfig, serializeAdapterConfig, type AdapterConfig, type LoraConfig, type PromptTuningConfig, type IA3Config, type BottleneckConfig } from './config.js';
export { LoraLayer, loraScaling } from './lora.js';
export { Ia3Layer } from './ia3.js';
export { BottleneckLayer } from './bottleneck.js';
export { SoftPrompt } from './prompt-tuning.js';
export { DEFAULT_LORA_TARGETS, DEFAULT_IA3_TARGETS, selectProjections, isTargeted } from './targets.js';
export { selectTrainable, type SelectiveOptions } from './selective.js';
