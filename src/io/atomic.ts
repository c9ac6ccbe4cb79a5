/**
 * Atomic file and folder writes: everything is written beside the target under `<target>.tmp-<pid>`, flushed to
 * disk, then renamed over the target. A reader sees the old content or the new, never half of it; on any error
 * the temporary is removed and the target is left as it was. A process killed mid-write cannot clean up after
 * itself, so every write first clears what dead processes left beside the same target (see
 * `cleanUpInterruptedWrites`).
 */
import { closeSync, fsyncSync, lstatSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Node's fs calls take at most 2^31 - 1 bytes at a time; larger writes go in chunks of this size. */
const CHUNK_BYTES = 1 << 30;

/** Temporary paths in use by this process, so two writes of one target in parallel do not share a temporary. */
const temporariesInUse = new Set<string>();

function claimTemporaryPath(targetPath: string): string {
  const base = `${targetPath}.tmp-${process.pid}`;
  let candidate = base;
  for (let attempt = 1; temporariesInUse.has(candidate); attempt++) candidate = `${base}-${attempt}`;
  temporariesInUse.add(candidate);
  return candidate;
}

/** `<target>.tmp-<pid>` or `<target>.tmp-<pid>-<n>`, as `claimTemporaryPath` names them. */
const TEMPORARY_SUFFIX = /^\.tmp-(\d+)(?:-\d+)?$/;
/** `<target>.old-<pid>`: the previous folder, moved aside by `withAtomicDirectory` while the new one takes its place. */
const PREVIOUS_SUFFIX = /^\.old-(\d+)$/;

/** True only when no process `pid` exists here (ESRCH). Our own pid, a live process or any doubt: false. */
function isDeadProcess(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function pathPresent(candidate: string): boolean {
  try {
    lstatSync(candidate);
    return true;
  } catch {
    return false;
  }
}

function changedAtMs(candidate: string): number {
  try {
    return lstatSync(candidate).ctimeMs;
  } catch {
    return 0;
  }
}

/**
 * Clears what interrupted writes of `targetPath` left beside it, where the writing process no longer exists:
 * - `<target>.tmp-<pid>[-n]` files and folders (half-written; never the target's content) are deleted;
 * - a `<target>.old-<pid>` folder is the previous content that `withAtomicDirectory` moved aside. If the target is
 *   missing, the write died before its new folder took the target's place, so the old folder is the user's and is
 *   renamed back (the most recently moved one if several). If the target exists, the old folder was already
 *   replaced and is deleted.
 * Only names built from this target are looked at, and nothing of a live process (or of this one) is touched.
 * Best effort and synchronous: a failure leaves things as they were; a folder that cannot be restored is kept.
 */
export function cleanUpInterruptedWrites(targetPath: string): void {
  const target = path.resolve(targetPath);
  const directory = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return;
  }
  const previous: string[] = [];
  for (const name of names) {
    if (!name.startsWith(base)) continue;
    const suffix = name.slice(base.length);
    const temporary = TEMPORARY_SUFFIX.exec(suffix);
    if (temporary !== null && isDeadProcess(Number(temporary[1]))) {
      try {
        rmSync(path.join(directory, name), { recursive: true, force: true });
      } catch {
        // left for a later write
      }
    }
    const old = PREVIOUS_SUFFIX.exec(suffix);
    if (old !== null && isDeadProcess(Number(old[1]))) previous.push(path.join(directory, name));
  }
  if (previous.length === 0) return;
  if (!pathPresent(target)) {
    previous.sort((a, b) => changedAtMs(b) - changedAtMs(a));
    const newest = previous.shift()!;
    try {
      renameSync(newest, target);
    } catch {
      return;
    }
  }
  for (const superseded of previous) {
    try {
      rmSync(superseded, { recursive: true, force: true });
    } catch {
      // left for a later write
    }
  }
}

/** Writes every byte of `data` at the handle's current position (fs writes may be partial). */
export async function writeAll(file: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const length = Math.min(CHUNK_BYTES, data.byteLength - offset);
    const { bytesWritten } = await file.write(data, offset, length);
    offset += bytesWritten;
  }
}

/** Makes a completed rename durable. Some platforms cannot open a directory; that only weakens durability. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Opens `<target>.tmp-<pid>`, lets `write` fill it through the handle, then fsyncs and renames it to `target`.
 * If `write` (or anything after it) throws, the temporary is removed and `target` is untouched.
 */
export async function withAtomicFile<T>(target: string, write: (file: FileHandle) => Promise<T>): Promise<T> {
  const targetPath = path.resolve(target);
  cleanUpInterruptedWrites(targetPath);
  const temporaryPath = claimTemporaryPath(targetPath);
  let file: FileHandle | undefined;
  try {
    file = await open(temporaryPath, 'w');
    const result = await write(file);
    await file.sync();
    await file.close();
    file = undefined;
    await rename(temporaryPath, targetPath);
    await syncDirectory(path.dirname(targetPath));
    return result;
  } catch (error) {
    await file?.close().catch(() => undefined);
    await rm(temporaryPath, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    temporariesInUse.delete(temporaryPath);
  }
}

/** Writes `data` (bytes, or a string as UTF-8) to `targetPath` atomically. */
export async function writeFileAtomic(targetPath: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  await withAtomicFile(targetPath, (file) => writeAll(file, bytes));
}

/** Synchronous `writeFileAtomic`, for small files written where awaiting is not possible. */
export function writeFileAtomicSync(target: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const targetPath = path.resolve(target);
  cleanUpInterruptedWrites(targetPath);
  const temporaryPath = claimTemporaryPath(targetPath);
  let descriptor: number | undefined;
  try {
    descriptor = openSync(temporaryPath, 'w');
    let offset = 0;
    while (offset < bytes.byteLength) {
      offset += writeSync(descriptor, bytes, offset, Math.min(CHUNK_BYTES, bytes.byteLength - offset));
    }
    fsyncSync(descriptor);
    closeSync(descriptor);
    descriptor = undefined;
    renameSync(temporaryPath, targetPath);
  } catch (error) {
    if (descriptor !== undefined) closeSync(descriptor);
    rmSync(temporaryPath, { force: true });
    throw error;
  } finally {
    temporariesInUse.delete(temporaryPath);
  }
}

async function pathExists(candidate: string): Promise<boolean> {
  try {
    await stat(candidate);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds a whole folder atomically: `write` fills the empty folder `<target>.tmp-<pid>` (its argument), which
 * then replaces `target`. An existing target is first moved to `<target>.old-<pid>` and
 * deleted once the new folder is in place, so there is a moment with no folder at all but never a partial one. On
 * error the temporary folder is deleted and the old folder is put back; if the process dies in that moment, the
 * next write of (or `checkDestination` on) the same target puts it back.
 */
export async function withAtomicDirectory<T>(
  target: string,
  write: (temporaryDirectory: string) => Promise<T>,
): Promise<T> {
  // Resolved, so that "out/" names the folder itself and not a temporary inside it.
  const targetDirectory = path.resolve(target);
  cleanUpInterruptedWrites(targetDirectory);
  const temporaryDirectory = claimTemporaryPath(targetDirectory);
  const previousDirectory = `${targetDirectory}.old-${process.pid}`;
  let movedPrevious = false;
  try {
    await rm(temporaryDirectory, { recursive: true, force: true });
    await mkdir(temporaryDirectory, { recursive: true });
    const result = await write(temporaryDirectory);
    if (await pathExists(targetDirectory)) {
      await rm(previousDirectory, { recursive: true, force: true });
      await rename(targetDirectory, previousDirectory);
      movedPrevious = true;
    }
    await rename(temporaryDirectory, targetDirectory);
    await syncDirectory(path.dirname(targetDirectory));
    if (movedPrevious) await rm(previousDirectory, { recursive: true, force: true }).catch(() => undefined);
    return result;
  } catch (error) {
    await rm(temporaryDirectory, { recursive: true, force: true }).catch(() => undefined);
    if (movedPrevious && !(await pathExists(targetDirectory))) {
      await rename(previousDirectory, targetDirectory).catch(() => undefined);
    }
    throw error;
  } finally {
    temporariesInUse.delete(temporaryDirectory);
  }
}
