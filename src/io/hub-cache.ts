/**
 * The Hugging Face hub cache, laid out exactly as the Python `huggingface_hub` library lays it out, so both share
 * one cache:
 *
 *   <cache>/models--<org>--<name>/blobs/<etag>                  file contents, named by git sha1 or LFS sha256
 *                                 snapshots/<commit>/<filename>  relative symlink to ../../blobs/<etag>
 *                                 refs/<revision>                the commit hash a branch or tag last resolved to
 *                                 .no_exist/<commit>/<filename>  empty marker: the file is absent at that commit
 *
 * `<cache>` is `$HF_HUB_CACHE`, else `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
 *
 * Every name that becomes a path here comes from the server or the user, so each is validated (blob names are hex
 * digests, commits 40 hex digits, file names and revisions relative paths without `.`, `..`, empty segments or
 * backslashes), and `RepoCache.prepare` proves a path is inside the repo folder, with no symlink on the way, before
 * anything is written to it.
 */
import { copyFile, lstat, mkdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export type HubRepoType = 'model' | 'dataset' | 'space';

const COMMIT_HASH = /^[0-9a-f]{40}$/;

export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

function expandHome(candidate: string): string {
  return candidate === '~' || candidate.startsWith('~/') ? path.join(homedir(), candidate.slice(1)) : candidate;
}

/** `$XDG_CACHE_HOME`, else `~/.cache`: where per-user caches live. */
export function userCacheHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(homedir(), '.cache');
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function huggingFaceHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  return path.join(userCacheHome(env), 'huggingface');
}

export function defaultHubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return explicit ? expandHome(explicit) : path.join(huggingFaceHome(env), 'hub');
}

/** `models--org--name` (`datasets--…`, `spaces--…`): one folder per repo, no nesting. */
export function repoFolderName(repoId: string, repoType: HubRepoType = 'model'): string {
  return [`${repoType}s`, ...repoId.split('/')].join('--');
}

/** Repo ids are `name` or `org/name`; anything that could escape the cache folder is refused. */
export function validateRepoId(repoId: string): void {
  const parts = repoId.split('/');
  const valid = parts.length <= 2 && parts.every((part) => /^[\w.-]+$/.test(part) && part !== '.' && part !== '..')
    && !repoId.includes('--');
  if (!valid) {
    throw new TunekitError(
      'E_HUB_INVALID',
      `"${repoId}" is not a hub repo id: expected "name" or "org/name" of letters, digits, "-", "_" and "."` +
        ' (and not an existing local folder)',
    );
  }
}

/** A relative POSIX path that stays where it is joined: no `.`, `..` or empty segment, no `\\`, NUL or drive. */
function isRelativePath(candidate: string): boolean {
  return candidate !== '' && !/[\\\0]/.test(candidate) && !/^[A-Za-z]:/.test(candidate)
    && candidate.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/**
 * Repo file names are relative POSIX paths inside the repo. `source` says where the name came from (the user, the
 * hub's file list, a shard index) for the message.
 */
export function validateRepoFilename(filename: string, source?: string): void {
  if (!isRelativePath(filename)) {
    throw new TunekitError(
      'E_HUB_INVALID',
      `${source ? `${source}: ` : ''}${JSON.stringify(filename)} is not a file name inside a hub repo ` +
        '(expected a relative path without ".", "..", empty segments or backslashes); refused',
    );
  }
}

/** Revisions become a path under refs/, so they must stay inside it. */
export function validateRevision(revision: string): void {
  if (!isRelativePath(revision)) {
    throw new TunekitError('E_HUB_INVALID', `${JSON.stringify(revision)} is not a revision (branch, tag or commit hash)`);
  }
}

/** Blob names are the hub's ETags: a git sha1 (40 hex digits) for regular files, a sha256 (64) for LFS files. */
export function isBlobName(etag: string): boolean {
  return /^[0-9a-f]{40}$/.test(etag) || /^[0-9a-f]{64}$/.test(etag);
}

/** Paths of one repo in the cache. */
export class RepoCache {
  readonly root: string;

  constructor(cacheDir: string, readonly repoId: string, readonly repoType: HubRepoType = 'model') {
    this.root = path.join(cacheDir, repoFolderName(repoId, repoType));
  }

  blobPath(etag: string): string {
    return path.join(this.root, 'blobs', etag);
  }

  snapshotDir(commitHash: string): string {
    return path.join(this.root, 'snapshots', commitHash);
  }

  pointerPath(commitHash: string, filename: string): string {
    return path.join(this.snapshotDir(commitHash), ...filename.split('/'));
  }

  refPath(revision: string): string {
    return path.join(this.root, 'refs', ...revision.split('/'));
  }

  noExistPath(commitHash: string, filename: string): string {
    return path.join(this.root, '.no_exist', commitHash, ...filename.split('/'));
  }

  /**
   * Makes the folders leading to `target` and proves it safe to write: inside the repo folder, every folder on the
   * way a real folder (not a symlink that an earlier run, or anyone, left in the cache), and `target` itself absent
   * or of its kind: a plain `file`; a `pointer` (a file or the symlink we replace); a `folder` (created). Returns
   * `target`.
   */
  async prepare(target: string, kind: 'file' | 'pointer' | 'folder' = 'file'): Promise<string> {
    const relative = path.relative(this.root, path.resolve(target));
    if (relative === '' || relative.split(path.sep)[0] === '..' || path.isAbsolute(relative)) {
      throw new TunekitError('E_HUB_UNSAFE_PATH', `${target}: not inside the cache folder ${this.root}; refused`);
    }
    await mkdir(this.root, { recursive: true });
    const parts = relative.split(path.sep);
    let current = this.root;
    for (const [index, part] of parts.entries()) {
      current = path.join(current, part);
      const folder = index < parts.length - 1 || kind === 'folder';
      let info = await lstat(current).catch(() => undefined);
      if (info === undefined) {
        if (!folder) return target;
        await mkdir(current).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        info = await lstat(current);
      }
      const fits = folder ? info.isDirectory() : info.isFile() || (kind === 'pointer' && info.isSymbolicLink());
      if (!fits) {
        const found = info.isSymbolicLink() ? 'a symlink' : info.isDirectory() ? 'a folder' : 'not a plain file or folder';
        throw new TunekitError(
          'E_HUB_UNSAFE_PATH',
          `${current}: is ${found} in the cache where ${folder ? 'a folder' : 'a file'} belongs; refused to write ` +
            `${target} through it (remove it, or the repo's cache folder ${this.root})`,
        );
      }
    }
    return target;
  }

  /** The commit a revision stands for: itself when it is a hash, else what refs/ recorded; undefined if unknown. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      const recorded = (await readFile(this.refPath(revision), 'utf8')).trim();
      return isCommitHash(recorded) ? recorded : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records `refs/<revision>` (nothing for a commit hash; no write when unchanged, as the cache may be read-only). */
  async writeRef(revision: string, commitHash: string): Promise<void> {
    if (revision === commitHash) return;
    const refPath = this.refPath(revision);
    try {
      if ((await readFile(refPath, 'utf8')) === commitHash) return;
    } catch {
      // not recorded yet
    }
    await this.prepare(refPath);
    await writeFileAtomic(refPath, commitHash);
  }

  /** The cached file for a revision, or undefined; never touches the network. */
  async cachedFile(revision: string, filename: string): Promise<string | undefined> {
    const commitHash = await this.commitFor(revision);
    if (commitHash === undefined) return undefined;
    const pointer = this.pointerPath(commitHash, filename);
    return (await isFile(pointer)) ? pointer : undefined;
  }

  async markMissing(commitHash: string, filename: string): Promise<void> {
    const marker = await this.prepare(this.noExistPath(commitHash, filename));
    await writeFileAtomic(marker, '');
  }

  /**
   * Makes `snapshots/<commit>/<filename>` a relative symlink to the blob. Where symlinks are refused (Windows
   * without developer mode), the blob is copied instead, as huggingface_hub does.
   */
  async linkPointer(commitHash: string, filename: string, etag: string): Promise<string> {
    const pointer = await this.prepare(this.pointerPath(commitHash, filename), 'pointer');
    const blob = this.blobPath(etag);
    if (await pathPresent(pointer)) await rm(pointer, { force: true });
    try {
      await symlink(path.relative(path.dirname(pointer), blob), pointer);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return pointer;
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOSYS') throw error;
      await copyFile(blob, pointer);
    }
    return pointer;
  }
}

export async function isFile(candidate: string): Promise<boolean> {
  try {
    return (await stat(candidate)).isFile();
  } catch {
    return false;
  }
}

/** True for anything at the path, broken symlinks included. */
async function pathPresent(candidate: string): Promise<boolean> {
  try {
    await lstat(candidate);
    return true;
  } catch {
    return false;
  }
}
