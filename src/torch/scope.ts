/** What a scope needs to know about a tensor. */
export interface Scoped {
  dispose(): void;
  readonly isKept: boolean;
}

const scopes: Set<Scoped>[] = [];

/** Called by every new tensor: the innermost open scope will own it. Returns false when no scope is open. */
export function track(tensor: Scoped): boolean {
  const scope = scopes[scopes.length - 1];
  if (scope === undefined) return false;
  scope.add(tensor);
  return true;
}

function collect(value: unknown, isTensor: (v: unknown) => v is Scoped, found: Set<Scoped>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (isTensor(value)) {
    found.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, isTensor, found, depth + 1);
  } else if (value instanceof Map) {
    for (const item of value.values()) collect(item, isTensor, found, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collect(item, isTensor, found, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (found inside arrays, Maps and
 * plain objects) and those marked with `keep()`. Returned tensors move to the enclosing scope. `fn` must be
 * synchronous: a scope cannot follow an `await`.
 */
export function runScoped<T>(fn: () => T, isTensor: (v: unknown) => v is Scoped, onEscape: (tensor: Scoped) => void): T {
  const scope = new Set<Scoped>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const tensor of scope) if (!tensor.isKept) tensor.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous');
  const returned = new Set<Scoped>();
  collect(result, isTensor, returned);
  const parent = scopes[scopes.length - 1];
  for (const tensor of scope) {
    if (returned.has(tensor)) {
      if (parent !== undefined) parent.add(tensor);
      else onEscape(tensor);
    } else if (!tensor.isKept) tensor.dispose();
  }
  return result;
}
