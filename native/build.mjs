// Builds native/build/Release/tunekit.node against the libtorch that findLibtorch() locates.
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './find-libtorch.mjs';

const nativeDir = path.dirname(fileURLToPath(import.meta.url));

function nodeGypPath() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const bundled = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return bundled;
  throw new Error('node-gyp not found: run this through npm (npm rebuild tunekit), or install node-gyp');
}

function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.join(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

let torch;
try {
  torch = findLibtorch();
} catch (error) {
  console.error(`\ntunekit: ${error.message}\n`);
  process.exit(1);
}

const libraries = ['-ltorch', '-ltorch_cpu', '-lc10'];
if (torch.hasCuda) libraries.push('-ltorch_cuda', '-lc10_cuda');
// c10d's ProcessGroupGloo.hpp includes Gloo's headers, which the torch wheels do not ship (Debian: libgloo-dev).
// Without them (or with TUNEKIT_DISTRIBUTED=0) the addon builds without its distributed part.
const glooCandidates = [process.env.GLOO_INCLUDE, torch.include, '/usr/include', '/usr/local/include'].filter(Boolean);
const glooInclude = glooCandidates.find((dir) => existsSync(path.join(dir, 'gloo', 'algorithm.h')));
const c10dHeader = path.join(torch.include, 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupGloo.hpp');
const distributed = process.env.TUNEKIT_DISTRIBUTED !== '0' && glooInclude !== undefined && existsSync(c10dHeader);
const gypi = {
  variables: {
    torch_include: torch.include,
    torch_api_include: path.join(torch.include, 'torch', 'csrc', 'api', 'include'),
    torch_lib: torch.lib,
    torch_cxx11_abi: torch.cxx11Abi ? 1 : 0,
    torch_libraries: libraries.join(' '),
    tunekit_distributed: distributed ? 1 : 0,
    gloo_include: glooInclude ?? '',
  },
};
const gypiPath = path.join(nativeDir, 'libtorch.gypi');
writeFileSync(gypiPath + '.tmp', JSON.stringify(gypi, null, 2));
renameSync(gypiPath + '.tmp', gypiPath);
console.error(`tunekit: building the addon against libtorch ${torch.version} (${torch.source}, ${torch.root}${torch.hasCuda ? ', CUDA' : ''})`);

console.error(
  distributed
    ? `tunekit: with data parallel training (c10d + Gloo, headers in ${glooInclude})`
    : process.env.TUNEKIT_DISTRIBUTED === '0'
      ? 'tunekit: without data parallel training (TUNEKIT_DISTRIBUTED=0)'
      : "tunekit: without data parallel training: Gloo's headers were not found (install libgloo-dev, or set GLOO_INCLUDE)",
);

const args = [nodeGypPath(), 'rebuild', `--directory=${nativeDir}`];
const headers = nodeHeadersDir();
if (headers) args.push(`--nodedir=${headers}`);
try {
  execFileSync(process.execPath, args, { stdio: 'inherit' });
} catch {
  process.exit(1);
}
