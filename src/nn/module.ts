import { TunekitError } from '../errors.js';
import { type DType, isFloatingDtype } from '../torch/dtype.js';
import { callOp, type Device, Tensor } from '../torch/tensor.js';
import { noGrad } from '../torch/runtime.js';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/** Glob-like pattern ("decoder.*", "*.bias") or RegExp over dotted parameter names. */
export type NamePattern = string | RegExp;

export function matchesPattern(name: string, pattern: NamePattern): boolean {
  if (pattern instanceof RegExp) return pattern.test(name);
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * A layer or model. Parameters and submodules are registered by name, so `namedParameters()` yields dotted names
 * equal to the Hugging Face checkpoint keys, and loading a checkpoint is a name match.
 */
export class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, { tensor: Tensor; persistent: boolean; keepDtype: boolean }>();
  readonly #modules = new Map<string, Module>();

  /** Makes `tensor` a trainable leaf owned by this module (never disposed by `tidy`). */
  protected registerParameter(name: string, tensor: Tensor | null): Tensor {
    if (tensor !== null) {
      tensor.keep();
      if (!tensor.requiresGrad && tensor.isLeaf) tensor.requiresGrad = true;
    }
    this.#parameters.set(name, tensor);
    return tensor as Tensor;
  }

  /** A tensor that is state but not trained (e.g. RoPE tables); persistent buffers appear in `stateDict()`. */
  protected registerBuffer(name: string, tensor: Tensor, persistent = true, options: { keepDtype?: boolean } = {}): Tensor {
    tensor.keep();
    this.#buffers.set(name, { tensor, persistent, keepDtype: options.keepDtype ?? false });
    return tensor;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#modules.set(name, module);
    return module;
  }

  /** A registered parameter of this module (not of submodules); layers read weights through this so ties hold. */
  protected parameter(name: string): Tensor {
    const tensor = this.#parameters.get(name);
    if (tensor === undefined || tensor === null) throw new TunekitError('E_PARAMETER', `${this.constructor.name} has no parameter "${name}"`);
    return tensor;
  }

  protected optionalParameter(name: string): Tensor | null {
    return this.#parameters.get(name) ?? null;
  }

  /** Adds (or replaces) a named submodule from outside, e.g. when a PEFT method attaches its layers. */
  setChild<M extends Module>(name: string, module: M): M {
    return this.registerModule(name, module);
  }

  /** Removes a named submodule; returns it (undefined when absent). */
  deleteChild(name: string): Module | undefined {
    const module = this.#modules.get(name);
    this.#modules.delete(name);
    return module;
  }

  child(name: string): Module | undefined {
    return this.#modules.get(name);
  }

  /** The submodule at a dotted path ("model.layers.0.self_attn"), or undefined. */
  getSubmodule(path: string): Module | undefined {
    let module: Module | undefined = this;
    for (const part of path === '' ? [] : path.split('.')) {
      module = module.#modules.get(part);
      if (module === undefined) return undefined;
    }
    return module;
  }

  protected removeBuffer(name: string): Tensor | undefined {
    const entry = this.#buffers.get(name);
    this.#buffers.delete(name);
    return entry?.tensor;
  }

  /** Unregisters a parameter of this module and returns it (the caller decides whether to dispose it). */
  protected removeParameter(name: string): Tensor | undefined {
    const tensor = this.#parameters.get(name) ?? undefined;
    this.#parameters.delete(name);
    return tensor;
  }

  /** Replaces a registered parameter by another tensor (e.g. to tie embeddings); returns the new one. */
  setParameter(name: string, tensor: Tensor): Tensor {
    if (!this.#parameters.has(name)) throw new TunekitError('E_PARAMETER', `${this.constructor.name} has no parameter "${name}"`);
    return this.registerParameter(name, tensor);
  }

  *namedChildren(): IterableIterator<[string, Module]> {
    yield* this.#modules.entries();
  }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [name, module] of this.#modules) yield* module.namedModules(prefix === '' ? name : `${prefix}.${name}`);
  }

  /** Every parameter with its dotted name; a tensor shared by two names (tied weights) is listed once. */
  namedParameters(options: { includeDuplicates?: boolean } = {}): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const result: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, tensor] of module.#parameters) {
        if (tensor === null) continue;
        if (!options.includeDuplicates && seen.has(tensor)) continue;
        seen.add(tensor);
        result.push([prefix === '' ? name : `${prefix}.${name}`, tensor]);
      }
    }
    return result;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, tensor]) => tensor);
  }

  namedBuffers(options: { persistentOnly?: boolean } = {}): [string, Tensor][] {
    const result: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, { tensor, persistent }] of module.#buffers) {
        if (options.persistentOnly && !persistent) continue;
        result.push([prefix === '' ? name : `${prefix}.${name}`, tensor]);
      }
    }
    return result;
  }

  /** Parameters and persistent buffers by name (the live tensors, not copies; tied weights under every name). */
  stateDict(): Map<string, Tensor> {
    const state = new Map<string, Tensor>(this.namedParameters({ includeDuplicates: true }));
    for (const [name, tensor] of this.namedBuffers({ persistentOnly: true })) state.set(name, tensor);
    return state;
  }

  /**
   * Copies values from `state` into this module's tensors (converting dtype as needed). A shape mismatch always
   * fails, naming the key; with `strict`, so do missing and unexpected keys.
   */
  loadStateDict(state: Map<string, Tensor>, options: { strict?: boolean; source?: string; assign?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((key) => !state.has(key));
    const unexpectedKeys = [...state.keys()].filter((key) => !own.has(key));
    const where = options.source === undefined ? '' : ` (${options.source})`;
    for (const [key, target] of own) {
      const source = state.get(key);
      if (source === undefined) continue;
      const expected = target.shape;
      const found = source.shape;
      if (expected.length !== found.length || expected.some((size, i) => size !== found[i])) {
        throw new TunekitError('E_STATE_SHAPE', `shape mismatch for "${key}"${where}: model expects [${expected}], checkpoint has [${found}]`);
      }
    }
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts: string[] = [];
      if (missingKeys.length > 0) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new TunekitError('E_STATE_KEYS', `state dict does not match ${this.constructor.name}${where}: ${parts.join('; ')}`);
    }
    noGrad(() => {
      const done = new Set<Tensor>();
      for (const [key, target] of own) {
        const source = state.get(key);
        if (source === undefined || done.has(target)) continue;
        done.add(target);
        if (options.assign) {
          // Adopt the checkpoint's storage instead of copying it (PyTorch's `assign=True`).
          const converted = source.dtype === target.dtype && source.device === target.device ? source.alias() : source.to({ dtype: target.dtype, device: target.device as Device });
          callOp('aten::set_data', target, converted);
          converted.dispose();
        } else {
          target.copy_(source);
        }
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Stops gradients for all parameters, or those whose names match one of `patterns`. */
  freeze(patterns?: NamePattern[]): this {
    this.setTrainable(false, patterns);
    return this;
  }

  unfreeze(patterns?: NamePattern[]): this {
    this.setTrainable(true, patterns);
    return this;
  }

  private setTrainable(value: boolean, patterns?: NamePattern[]): void {
    for (const [name, tensor] of this.namedParameters()) {
      if (patterns === undefined || patterns.some((pattern) => matchesPattern(name, pattern))) tensor.requiresGrad = value;
    }
  }

  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter(([, tensor]) => tensor.requiresGrad);
  }

  /** Parameter counts (tied weights once). */
  parameterCount(): { total: number; trainable: number } {
    let total = 0;
    let trainable = 0;
    for (const [, tensor] of this.namedParameters()) {
      total += tensor.numel;
      if (tensor.requiresGrad) trainable += tensor.numel;
    }
    return { total, trainable };
  }

  zeroGrad(): void {
    for (const tensor of this.parameters()) tensor.zeroGrad();
  }

  /**
   * Converts every parameter and buffer in place (their `Tensor` objects stay the same, so ties and optimizer
   * references survive), as `nn.Module.to` does.
   */
  to(target: DType | Device | { dtype?: DType; device?: Device }): this {
    noGrad(() => {
      const tensors = new Set<Tensor>([...this.parameters(), ...this.namedBuffers().map(([, t]) => t)]);
      const fixedDtype = new Set<Tensor>();
      for (const [, module] of this.namedModules()) for (const { tensor, keepDtype } of module.#buffers.values()) if (keepDtype) fixedDtype.add(tensor);
      const options = typeof target === 'string' ? (target === 'cpu' || target.startsWith('cuda') ? { device: target as Device } : { dtype: target as DType }) : target;
      for (const tensor of tensors) {
        // As in PyTorch, a dtype change applies to floating-point tensors only (codes and ids keep theirs).
        const floating = isFloatingDtype(tensor.dtype) && !fixedDtype.has(tensor);
        const wanted = floating ? options : { device: options.device };
        if (wanted.dtype === undefined && wanted.device === undefined) continue;
        const converted = tensor.to(wanted);
        callOp('aten::set_data', tensor, converted);
        converted.dispose();
      }
    });
    return this;
  }

  /** Frees every parameter and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const [, tensor] of this.namedParameters()) tensor.dispose();
    for (const [, tensor] of this.namedBuffers()) tensor.dispose();
  }
}
