// Finds libtorch: LIBTORCH=/path first, then the Python torch install. Prints nothing; exports findLibtorch().
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const MINIMUM = [2, 1];

function versionAtLeast(version) {
  const [major, minor] = version.split(/[.+]/).map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
}

function fromEnvironment(root) {
  const versionFile = path.join(root, 'build-version');
  const version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : 'unknown';
  // Standalone libtorch archives since 2.7 ship the C++11 ABI only; older ones say so in their name.
  const abi = process.env.LIBTORCH_CXX11_ABI ?? '1';
  return { root, version, cxx11Abi: abi === '1' || abi === 'true', source: 'LIBTORCH' };
}

function fromPython() {
  const python = process.env.PYTHON ?? 'python3';
  const script = 'import json, os, torch; print(json.dumps({"root": os.path.dirname(torch.__file__), ' +
    '"version": torch.__version__, "abi": bool(torch._C._GLIBCXX_USE_CXX11_ABI)}))';
  try {
    const out = execFileSync(python, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const info = JSON.parse(out.trim().split('\n').pop());
    return { root: info.root, version: info.version, cxx11Abi: info.abi, source: `${python} torch` };
  } catch {
    return undefined;
  }
}

export function findLibtorch() {
  const found = process.env.LIBTORCH ? fromEnvironment(process.env.LIBTORCH) : fromPython();
  const help =
    'tunekit needs libtorch >= 2.1. Install PyTorch for the python3 on PATH (`pip install torch`), ' +
    'or point LIBTORCH=/path/to/libtorch at an unpacked libtorch (with include/ and lib/).';
  if (!found) throw new Error(`libtorch not found. ${help}`);
  const include = path.join(found.root, 'include');
  const lib = path.join(found.root, 'lib');
  if (!existsSync(path.join(include, 'ATen', 'ATen.h')) || !existsSync(lib)) {
    throw new Error(`libtorch at ${found.root} (from ${found.source}) has no include/ATen/ATen.h or lib/. ${help}`);
  }
  if (found.version !== 'unknown' && !versionAtLeast(found.version)) {
    throw new Error(`libtorch ${found.version} at ${found.root} is too old. ${help}`);
  }
  const hasCuda = existsSync(path.join(lib, 'libtorch_cuda.so'));
  return { ...found, include, lib, hasCuda };
}
