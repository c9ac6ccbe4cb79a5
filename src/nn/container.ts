import { Tensor } from '../torch/tensor.js';
import { Module } from './module.js';

/** An ordered list of submodules named "0", "1", … (as Hugging Face's `layers.0.…` keys expect). */
export class ModuleList<M extends Module> extends Module implements Iterable<M> {
  readonly #items: M[] = [];

  constructor(items: Iterable<M> = []) {
    super();
    for (const item of items) this.append(item);
  }

  append(item: M): this {
    this.registerModule(String(this.#items.length), item);
    this.#items.push(item);
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  at(index: number): M {
    const item = this.#items.at(index);
    if (item === undefined) throw new RangeError(`ModuleList index ${index} out of range (length ${this.#items.length})`);
    return item;
  }

  forEach(fn: (item: M, index: number) => void): void {
    this.#items.forEach((item, index) => fn(item, index));
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}

/** Submodules by name (PEFT's per-adapter layers: `lora_A.default`, `lora_A.task2`, …). */
export class ModuleDict<M extends Module> extends Module {
  readonly #items = new Map<string, M>();

  set(name: string, item: M): M {
    this.#items.set(name, item);
    return this.setChild(name, item);
  }

  get(name: string): M | undefined {
    return this.#items.get(name);
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  delete(name: string): M | undefined {
    const item = this.#items.get(name);
    this.#items.delete(name);
    this.deleteChild(name);
    return item;
  }

  get size(): number {
    return this.#items.size;
  }

  keys(): IterableIterator<string> {
    return this.#items.keys();
  }

  entries(): IterableIterator<[string, M]> {
    return this.#items.entries();
  }
}

/** Parameters by name directly on one module (PEFT's `ia3_l.default`, one vector per adapter). */
export class ParameterDict extends Module {
  set(name: string, tensor: Tensor): Tensor {
    return this.registerParameter(name, tensor);
  }

  get(name: string): Tensor | undefined {
    return this.namedParameters().find(([key]) => key === name)?.[1];
  }

  delete(name: string): void {
    this.removeParameter(name)?.dispose();
  }
}
