export { Module, matchesPattern, type LoadResult, type NamePattern } from './module.js';
export { ModuleList } from './container.js';
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout, type LayerOptions } from './layers.js';
export * as functional from './functional.js';
