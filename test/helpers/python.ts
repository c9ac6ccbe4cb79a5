import { execFileSync, spawnSync } from 'node:child_process';

let cached: string | null | undefined;

/** The Python that has torch (PYTHON or python3), or null when there is none: tests against it then skip. */
export function pythonWithTorch(): string | null {
  if (cached !== undefined) return cached;
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  cached = probe.status === 0 ? python : null;
  return cached;
}

export function runPythonJson<T>(script: string, args: string[]): T {
  const python = pythonWithTorch();
  if (python === null) throw new Error('python with torch is not available');
  const out = execFileSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}

/** Whether the Python that tests use (PYTHON or python3) can import every one of `modules`. */
export function pythonHas(...modules: string[]): boolean {
  const python = process.env.PYTHON ?? 'python3';
  return spawnSync(python, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' }).status === 0;
}
