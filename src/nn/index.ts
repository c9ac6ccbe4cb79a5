export { Module, matchesPattern, type LoadResult, type NamePattern } from './module.js';
export { ModuleDict, ModuleList, ParameterDict } from './container.js';
export { Conv1D, ProjectionLayer, withoutInitialization, type LinearAdapter, Linear, Embedding, LayerNorm, RMSNorm, Dropout, type LayerOptions } from './layers.js';
export * as functional from './functional.js';
