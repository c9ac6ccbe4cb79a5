export { PeftModel, getPeftModel, type FromPretrainedOptions, type TrainableSummary } from './peft-model.js';
export {
  adapterLayersOf,
  adapterModulePattern,
  methodName,
  peftMethod,
  peftMethods,
  registerPeftMethod,
  type AdapterLayer,
  type Attachment,
  type AttachContext,
  type ParameterCopy,
  type PeftMethod,
} from './method.js';
export { loadAdapter, saveAdapter, readAdapterConfig, adapterStateDict, canonicalKey, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type LoadAdapterOptions } from './format.js';
export { configReader, parseAdapterConfig, serializeAdapterConfig, COMMON_DEFAULTS, type AdapterConfig, type AdapterConfigBase, type ConfigOptions, type ConfigReader, type TaskType } from './config.js';
export { LoraLayer, loraConfig, loraScaling, LORA_DEFAULTS, type LoraBias, type LoraConfig, type LoraSettings } from './lora.js';
export { qloraConfig, quantizeModel, dequantizeModel, requantizeLayers, type QLoraConfig, type QuantizeOptions, type QuantizeReport } from './qlora.js';
export { Ia3Layer, ia3Config, type IA3Config } from './ia3.js';
export { BottleneckLayer, bottleneckConfig, type BottleneckConfig } from './bottleneck.js';
export { SoftPrompt, promptTuningConfig, type PromptTuningConfig } from './prompt-tuning.js';
export { selectParameters, selectTrainable, selectiveConfig, type SelectiveConfig, type SelectiveOptions } from './selective.js';
export { DEFAULT_LORA_TARGETS, DEFAULT_IA3_TARGETS, selectProjections, isTargeted, type TargetModules } from './targets.js';
export { nearestTokens, type NearestToken } from './inspect.js';
export { exportLoraToGguf, permuteRotaryRows, GGUF_EXPORT_ERROR, type ExportLoraToGgufOptions, type ExportLoraToGgufResult, type GgufOutType } from './gguf.js';
