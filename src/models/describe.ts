import { dtypeByteSize } from '../torch/dtype.js';
import { architectureFor, type ModelDimensions } from './registry.js';
import type { LanguageModel } from './types.js';

/** A model's architecture, size and memory, as `tunekit info` shows them. */
export interface ModelDescription extends Partial<ModelDimensions> {
  modelType: string;
  architecture: string;
  kind: LanguageModel['kind'];
  parameters: number;
  dtype: string;
  parameterBytes: number;
  vocabSize: number;
}

export function describeModel(model: LanguageModel): ModelDescription {
  const parameters = model.parameters();
  const description: ModelDescription = {
    modelType: model.config.modelType,
    architecture: model.constructor.name,
    kind: model.kind,
    parameters: model.parameterCount().total,
    dtype: [...new Set(parameters.map((p) => p.dtype))].join(','),
    parameterBytes: parameters.reduce((sum, p) => sum + p.numel * dtypeByteSize[p.dtype], 0),
    vocabSize: model.config.vocabSize,
  };
  if (model.source === null) return description;
  const config = { values: model.source.config, source: `${model.source.dir}/config.json` };
  return { ...description, ...architectureFor(config).dimensions(config) };
}
