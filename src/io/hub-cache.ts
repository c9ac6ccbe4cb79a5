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

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function huggingFaceHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  const cacheHome = env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(homedir(), '.cache');
  return path.join(cacheHome, 'huggingface');
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

/** Repo file names are relative POSIX paths inside the repo. */
export function validateRepoFilename(filename: string): void {
  const parts = filename.split('/');
  if (filename === '' || filename.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new TunekitError('E_HUB_INVALID', `"${filename}" is not a file name inside a hub repo`);
  }
}

/** Revisions become a path under refs/, so they must stay inside it. */
export function validateRevision(revision: string): void {
  const parts = revision.split('/');
  if (revision === '' || revision.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new TunekitError('E_HUB_INVALID', `"${revision}" is not a revision (branch, tag or commit hash)`);
  }
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
    await mkdir(path.dirname(refPath), { recursive: true });
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
    const marker = this.noExistPath(commitHash, filename);
    await mkdir(path.dirname(marker), { recursive: true });
    await writeFileAtomic(marker, '');
  }

  /**
   * Makes `snapshots/<commit>/<filename>` a relative symlink to the blob. Where symlinks are refused (Windows
   * without developer mode), the blob is copied instead, as huggingface_hub does.
   */
  async linkPointer(commitHash: string, filename: string, etag: string): Promise<string> {
    const pointer = this.pointerPath(commitHash, filename);
    const blob = this.blobPath(etag);
    await mkdir(path.dirname(pointer), { recursive: true });
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
