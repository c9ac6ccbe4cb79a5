import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'tunekit-api-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The ```ts blocks of the README. */
function readmeExamples(): string[] {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
}

describe('the public API', () => {
  it('the README has a TypeScript example', () => {
    assert.ok(readmeExamples().length > 0);
  });

  it("the README's TypeScript examples compile with tsc --strict against the published types, as a user's project imports 'tunekit'", () => {
    const project = path.join(scratch, 'user-project');
    mkdirSync(path.join(project, 'node_modules'), { recursive: true });
    symlinkSync(repoRoot, path.join(project, 'node_modules', 'tunekit'), 'dir');
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'user-project', type: 'module', private: true }));
    const files = readmeExamples().map((code, index) => {
      const file = `example-${index}.ts`;
      writeFileSync(path.join(project, file), code);
      return file;
    });
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
          skipLibCheck: true,
        },
        files,
      }),
    );
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('every CLI file imports only the public API (src/index.ts), its own folder and node builtins', () => {
    const cliDir = path.join(repoRoot, 'src', 'cli');
    const offenders: string[] = [];
    for (const file of readdirSync(cliDir).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(path.join(cliDir, file), 'utf8');
      for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const specifier = match[1] ?? match[2];
        const allowed = specifier === '../index.js' || specifier.startsWith('./') || specifier.startsWith('node:');
        if (!allowed) offenders.push(`${file}: ${specifier}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('no layer imports a layer above it (DESIGN order, with report below evaluate as it reads plain data only), and only the CLI imports src/index.ts', () => {
    const order = ['metrics', 'torch', 'nn', 'optim', 'io', 'report', 'tokenize', 'models', 'peft', 'generate', 'data', 'train', 'evaluate', 'demo', 'serve', 'cli'];
    const source = path.join(repoRoot, 'src');
    const offenders: string[] = [];
    for (const layer of readdirSync(source).filter((name) => order.includes(name))) {
      for (const file of readdirSync(path.join(source, layer)).filter((name) => name.endsWith('.ts'))) {
        const text = readFileSync(path.join(source, layer, file), 'utf8');
        for (const match of text.matchAll(/from\s+['"]\.\.\/([^'"]+)['"]/g)) {
          const target = match[1].split('/')[0].replace(/\.js$/, '');
          if (target === 'index' ? layer !== 'cli' : order.includes(target) && order.indexOf(target) > order.indexOf(layer)) offenders.push(`src/${layer}/${file} imports ../${match[1]}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
  });
});
