/**
 * The one rule for every command that writes: a destination that holds something is replaced only when the caller
 * says so (`overwrite`), never when it is, contains or lies inside something the same command reads, never when it
 * is the working folder, and every reason it cannot be written is one clear error before any work starts.
 */
import { accessSync, constants, existsSync, lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { cleanUpInterruptedWrites } from './atomic.js';

const DESTINATION_ERROR = 'E_DESTINATION';

export type DestinationKind = 'file' | 'directory';

export interface DestinationOptions {
  /** What will be written there: one file, or a folder that replaces the destination as a whole. */
  kind: DestinationKind;
  /** Replace an existing non-empty destination (the CLI's `--overwrite`). Default false. */
  overwrite?: boolean;
  /**
   * Paths the same operation reads (model, adapter, data). Even with `overwrite` the destination may not be one
   * of them, contain one or lie inside one; compared both as written and with symbolic links resolved. Inputs that
   * do not exist on disk (a hub repo id) are ignored.
   */
  inputs?: readonly string[];
}

/** Errno codes that say why a folder cannot be written, in words. */
const WRITE_FAILURES: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function refuse(shown: string, reason: string): TunekitError {
  return new TunekitError(DESTINATION_ERROR, `cannot write to "${shown}": ${reason}`);
}

/** The real path of `candidate`, also when its end does not exist yet: the longest existing prefix is resolved. */
function realPathOf(candidate: string): string {
  const absolute = path.resolve(candidate);
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(realpathSync.native(current), ...missing);
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      missing.unshift(path.basename(current));
      current = parent;
    }
  }
}

/** True when `inner` is `outer` or lies inside it (both absolute). */
function isWithin(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** How `destination` overlaps `protectedPath`, or undefined when it does not. */
function overlap(destination: string, protectedPath: string): 'is' | 'contains' | 'is inside' | undefined {
  if (destination === protectedPath) return 'is';
  if (isWithin(protectedPath, destination)) return 'contains';
  if (isWithin(destination, protectedPath)) return 'is inside';
  return undefined;
}

/** Both spellings of a path that exists (as written, absolute; and with links resolved), else none. */
function spellingsOf(candidate: string): string[] {
  try {
    lstatSync(candidate);
  } catch {
    return [];
  }
  return [path.resolve(candidate), realPathOf(candidate)];
}

function describeFailure(error: unknown): string {
  const code = errnoCode(error);
  return (code !== undefined && WRITE_FAILURES[code]) || code || String(error);
}

/**
 * Checks that `target` can be written as `options.kind` and that doing so loses nothing the caller did not agree
 * to lose; throws a one-line `TunekitError` with code `E_DESTINATION` naming the path and the reason otherwise.
 * Refused: the working folder (or a folder above it); a path that is, contains or lies inside one of
 * `options.inputs`; a missing or read-only parent folder; a folder where a file is expected and the reverse; a
 * device or other special file; a mount point; a broken symbolic link; and, unless `options.overwrite`, an
 * existing non-empty file or folder. An empty file or folder, or nothing at all, is fine.
 * First clears what interrupted writes of the same target left behind (`cleanUpInterruptedWrites`): a folder that
 * a killed write had moved aside is restored here, and so counts as existing.
 * Returns the absolute path to write to (so `out/` and `./out` name the same thing).
 */
export function checkDestination(target: string, options: DestinationOptions): string {
  const shown = target;
  if (target.trim() === '') throw new TunekitError(DESTINATION_ERROR, 'the destination path is empty');
  const absolute = path.resolve(target);
  cleanUpInterruptedWrites(absolute);
  const spellings = [absolute, realPathOf(absolute)];

  const workingFolder = realPathOf(process.cwd());
  for (const spelling of spellings) {
    const relation = overlap(spelling, workingFolder);
    if (relation === 'is') throw refuse(shown, 'it is the current folder; choose a new folder');
    if (relation === 'contains') throw refuse(shown, 'it contains the current folder; choose a new folder');
  }

  for (const input of options.inputs ?? []) {
    for (const inputSpelling of spellingsOf(input)) {
      for (const spelling of spellings) {
        const relation = overlap(spelling, inputSpelling);
        // A new file beside an input's own files (a .gguf in the adapter folder) takes nothing away; an existing one may be part of the input.
        const newFileInside = relation === 'is inside' && options.kind === 'file' && !existsSync(absolute);
        if (relation !== undefined && !newFileInside) throw refuse(shown, `it ${relation} the input "${input}"; choose another destination`);
      }
    }
  }

  const parent = path.dirname(absolute);
  let parentStats: Stats;
  try {
    parentStats = statSync(parent);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') throw refuse(shown, `the folder "${parent}" does not exist; create it first`);
    if (code === 'ENOTDIR') throw refuse(shown, `"${parent}" is not a folder`);
    throw refuse(shown, `the folder "${parent}" cannot be read (${describeFailure(error)})`);
  }
  if (!parentStats.isDirectory()) throw refuse(shown, `"${parent}" is not a folder`);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw refuse(shown, `the folder "${parent}" is not writable (${describeFailure(error)})`);
  }

  let link: Stats;
  try {
    link = lstatSync(absolute);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return absolute;
    throw refuse(shown, `it cannot be inspected (${describeFailure(error)})`);
  }
  // A link is replaced itself (its target is left alone), but what it points at decides what is lost.
  if (link.dev !== parentStats.dev) throw refuse(shown, 'it is a mount point, which cannot be replaced');
  let stats = link;
  if (link.isSymbolicLink()) {
    try {
      stats = statSync(absolute);
    } catch {
      throw refuse(shown, 'it is a broken symbolic link');
    }
  }

  if (options.kind === 'file') {
    if (stats.isDirectory()) throw refuse(shown, 'it is a folder and a file is expected');
    if (!stats.isFile()) throw refuse(shown, 'it is not a regular file');
    if (stats.size > 0 && options.overwrite !== true) throw refuse(shown, 'the file already exists; pass --overwrite to replace it');
    return absolute;
  }
  if (!stats.isDirectory()) throw refuse(shown, 'it is a file and a folder is expected');
  let entries: string[];
  try {
    entries = readdirSync(absolute);
  } catch (error) {
    throw refuse(shown, `the folder cannot be listed (${describeFailure(error)})`);
  }
  if (entries.length > 0 && options.overwrite !== true) {
    throw refuse(shown, 'the folder already exists and is not empty; pass --overwrite to replace it');
  }
  return absolute;
}
