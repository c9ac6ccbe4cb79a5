import { TunekitError } from '../errors.js';
import type { LanguageModel } from '../models/types.js';
import { noGrad } from '../torch/runtime.js';
import type { Tensor } from '../torch/tensor.js';
import { adapterModulePattern, type ParameterCopy } from './method.js';

/** Per-adapter copies of the given base parameters: the originals stay for the other adapters and the bare model. */
export function copyParameters(parameters: readonly [string, Tensor][]): ParameterCopy[] {
  return parameters.map(([name, parameter]) => ({
    name,
    parameter,
    original: noGrad(() => parameter.clone()).keep(),
    adapterValue: noGrad(() => parameter.clone()).keep(),
  }));
}

/** modules_to_save: every parameter of the named modules (exact name or dotted suffix), as per-adapter copies. */
export function copyModules(model: LanguageModel, modules: readonly string[] | null): ParameterCopy[] {
  if (modules === null || modules.length === 0) return [];
  const matched = [...model.namedModules()].filter(([moduleName]) => moduleName !== '' && modules.some((target) => moduleName === target || moduleName.endsWith(`.${target}`)));
  if (matched.length === 0) throw new TunekitError('E_ADAPTER_TARGETS', `modules_to_save ${JSON.stringify(modules)} match no module`);
  const internal = adapterModulePattern();
  const parameters: [string, Tensor][] = [];
  for (const [moduleName, module] of matched) {
    for (const [parameterName, parameter] of module.namedParameters()) if (!internal.test(parameterName)) parameters.push([`${moduleName}.${parameterName}`, parameter]);
  }
  return copyParameters(parameters);
}
