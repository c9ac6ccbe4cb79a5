import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** The pid of a process that has exited (a child that ran and ended), for "left by a dead writer" cases. */
export function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined || child.status !== 0) throw new Error('could not run a child process');
  return child.pid;
}

/** A sleeping child: its pid stands for a live writer. Stop it with `kill()` when done. */
export function startSleeper(): ChildProcess & { pid: number } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('could not start a child process');
  child.unref();
  return child as ChildProcess & { pid: number };
}

/**
 * Everything under `root` (not `root` itself): relative path → type, size, mtime and a hash of the content (or a
 * link's target). Paths for which `skip(relativePath)` is true are left out with all they contain.
 */
export function snapshotTree(root: string, skip: (relativePath: string) => boolean = () => false): Map<string, string> {
  const entries = new Map<string, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(path.join(root, relative)).sort()) {
      const child = relative === '' ? name : path.join(relative, name);
      if (skip(child)) continue;
      const full = path.join(root, child);
      const stats = lstatSync(full);
      if (stats.isSymbolicLink()) {
        entries.set(child, `link → ${readlinkSync(full)}`);
      } else if (stats.isDirectory()) {
        entries.set(child, `folder mtime=${stats.mtimeMs}`);
        walk(child);
      } else {
        const hash = createHash('sha256').update(readFileSync(full)).digest('hex');
        entries.set(child, `file size=${stats.size} mtime=${stats.mtimeMs} sha256=${hash}`);
      }
    }
  };
  walk('');
  return entries;
}
