/**
 * Atomic file and folder writes: everything is written beside the target under `<target>.tmp-<pid>`, flushed to
 * disk, then renamed over the target. A reader sees the old content or the new, never half of it; on any error
 * the temporary is removed and the target is left as it was.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
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
 * Opens `<targetPath>.tmp-<pid>`, lets `write` fill it through the handle, then fsyncs and renames it to
 * `targetPath`. If `write` (or anything after it) throws, the temporary is removed and `targetPath` is untouched.
 */
export async function withAtomicFile<T>(targetPath: string, write: (file: FileHandle) => Promise<T>): Promise<T> {
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
export function writeFileAtomicSync(targetPath: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
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
 * Builds a whole folder atomically: `write` fills the empty folder `<targetDirectory>.tmp-<pid>` (its argument),
 * which then replaces `targetDirectory`. An existing target is first moved to `<targetDirectory>.old-<pid>` and
 * deleted once the new folder is in place, so there is a moment with no folder at all but never a partial one. On
 * error the temporary folder is deleted and the old folder is put back.
 */
export async function withAtomicDirectory<T>(
  targetDirectory: string,
  write: (temporaryDirectory: string) => Promise<T>,
): Promise<T> {
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
