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
