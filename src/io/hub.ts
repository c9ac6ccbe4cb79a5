/**
 * Hugging Face hub downloads into the cache the Python libraries use (see hub-cache.ts), with the same rules as
 * `huggingface_hub.hf_hub_download`: a HEAD request on `{endpoint}/{repo}/resolve/{revision}/{file}` gives the
 * commit (`X-Repo-Commit`) and the blob name (`X-Linked-Etag` for LFS files, else `ETag`); a blob already cached is
 * linked, not downloaded again; a file asked for by commit hash and already cached costs no request at all.
 * Downloads go to `blobs/<etag>.incomplete`, resume from it with a Range request, are checked against the
 * expected size (and sha256 for LFS files), then renamed into place.
 *
 * Environment, as in Python: HF_ENDPOINT, HF_TOKEN (else $HF_TOKEN_PATH or $HF_HOME/token), HF_HUB_CACHE /
 * HF_HOME, HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) = 1/true/yes/on.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { writeAll } from './atomic.js';
import {
  defaultHubCacheDir,
  huggingFaceHome,
  isCommitHash,
  isFile,
  RepoCache,
  validateRepoFilename,
  validateRepoId,
  validateRevision,
  type HubRepoType,
} from './hub-cache.js';
import { hubRequest, raiseForStatus, type HubResponse, type HubTarget } from './hub-http.js';

export { defaultHubCacheDir, isCommitHash, repoFolderName, type HubRepoType } from './hub-cache.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export interface HubProgress {
  /** The repo file being downloaded. */
  file: string;
  downloadedBytes: number;
  /** Undefined when the server did not say. */
  totalBytes: number | undefined;
}

export interface HubOptions {
  /** Branch, tag or 40-character commit hash; default `main`. */
  revision?: string;
  repoType?: HubRepoType;
  /** The hub cache folder; default from the environment (see hub-cache.ts). */
  cacheDir?: string;
  /** Access token; default HF_TOKEN or the token file. `false` sends none. */
  token?: string | false;
  /** Default HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Never use the network; default HF_HUB_OFFLINE. */
  offline?: boolean;
  onProgress?: (progress: HubProgress) => void;
  /** Time allowed for each response's headers; default 10 s (huggingface_hub's etag timeout). */
  timeoutMs?: number;
  /** Where the HF_* variables are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface ResolvedOptions {
  revision: string;
  repoType: HubRepoType;
  cacheDir: string;
  token: string | undefined;
  endpoint: string;
  offline: boolean;
  onProgress?: (progress: HubProgress) => void;
  timeoutMs: number;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

async function readTokenFile(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const tokenPath = env.HF_TOKEN_PATH || path.join(huggingFaceHome(env), 'token');
  try {
    return (await readFile(tokenPath, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function resolveOptions(options: HubOptions): Promise<ResolvedOptions> {
  const env = options.env ?? process.env;
  const revision = options.revision ?? 'main';
  validateRevision(revision);
  let token: string | undefined;
  if (typeof options.token === 'string') token = options.token;
  else if (options.token !== false) token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || (await readTokenFile(env));
  return {
    revision,
    repoType: options.repoType ?? 'model',
    cacheDir: options.cacheDir ?? defaultHubCacheDir(env),
    token,
    endpoint: (options.endpoint ?? (env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT)).replace(/\/+$/, ''),
    offline: options.offline ?? isTrue(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE),
    onProgress: options.onProgress,
    timeoutMs: options.timeoutMs ?? 10_000,
  };
}

function repoUrlPrefix(repoType: HubRepoType): string {
  return repoType === 'model' ? '' : `${repoType}s/`;
}

function encodePath(filename: string): string {
  return filename.split('/').map(encodeURIComponent).join('/');
}

/** `{endpoint}/{repo}/resolve/{revision}/{filename}`, the revision escaped whole (`refs/pr/1` → `refs%2Fpr%2F1`). */
export function hubFileUrl(repoId: string, filename: string, options: { revision?: string; repoType?: HubRepoType; endpoint?: string } = {}): string {
  const endpoint = (options.endpoint ?? DEFAULT_HUB_ENDPOINT).replace(/\/+$/, '');
  const revision = encodeURIComponent(options.revision ?? 'main');
  return `${endpoint}/${repoUrlPrefix(options.repoType ?? 'model')}${repoId}/resolve/${revision}/${encodePath(filename)}`;
}

function targetOf(repoId: string, resolved: ResolvedOptions, filename?: string): HubTarget {
  return {
    repoId,
    revision: resolved.revision,
    filename,
    repoUrl: `${resolved.endpoint}/${repoUrlPrefix(resolved.repoType)}${repoId}`,
  };
}

function baseHeaders(resolved: ResolvedOptions): Record<string, string> {
  // identity: the sizes the hub reports are of the raw bytes, and compressed transfer would hide them
  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'tunekit' };
  if (resolved.token !== undefined) headers.authorization = `Bearer ${resolved.token}`;
  return headers;
}

function notCachedError(repoId: string, resolved: ResolvedOptions, what: string, reason: string): TunekitError {
  return new TunekitError(
    'E_HUB_NOT_CACHED',
    `${what} of hub repo "${repoId}" at revision "${resolved.revision}" is not in the cache ` +
      `${resolved.cacheDir} and ${reason}. Run once with network access to download it (without HF_HUB_OFFLINE=1).`,
  );
}

interface FileMetadata {
  commitHash: string;
  etag: string;
  size: number | undefined;
  /** Where to GET the bytes: the CDN location of an LFS file, else the resolve URL. */
  downloadUrl: string;
}

function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function parseSize(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value);
}

function metadataOf(hubResponse: HubResponse, target: HubTarget): FileMetadata {
  const { response, url } = hubResponse;
  const commitHash = response.headers.get('x-repo-commit');
  const etag = response.headers.get('x-linked-etag') ?? response.headers.get('etag');
  if (commitHash === null || !isCommitHash(commitHash) || etag === null || normalizeEtag(etag) === '') {
    throw new TunekitError(
      'E_HUB_BAD_RESPONSE',
      `${url}: the response lacks ${commitHash === null ? 'the X-Repo-Commit header' : etag === null ? 'an ETag' : 'a valid commit hash or ETag'}; ` +
        `is ${target.repoUrl} a Hugging Face hub (check HF_ENDPOINT)?`,
    );
  }
  const location = response.status >= 300 && response.status <= 399 ? response.headers.get('location') : null;
  return {
    commitHash,
    etag: normalizeEtag(etag),
    size: parseSize(response.headers.get('x-linked-size') ?? response.headers.get('content-length')),
    downloadUrl: location === null ? url : new URL(location, url).href,
  };
}

/** HEAD on the resolve URL; a file the hub reports missing is recorded under .no_exist as huggingface_hub does. */
async function fetchFileMetadata(repoId: string, filename: string, resolved: ResolvedOptions, cache: RepoCache): Promise<FileMetadata> {
  const target = targetOf(repoId, resolved, filename);
  const url = hubFileUrl(repoId, filename, resolved);
  const hubResponse = await hubRequest(url, {
    method: 'HEAD',
    headers: baseHeaders(resolved),
    redirects: 'same-host',
    timeoutMs: resolved.timeoutMs,
  });
  const { response } = hubResponse;
  if (response.status === 404 && response.headers.get('x-error-code') === 'EntryNotFound') {
    const commitHash = response.headers.get('x-repo-commit');
    if (commitHash !== null && isCommitHash(commitHash)) {
      await cache.markMissing(commitHash, filename).catch(() => undefined);
      await cache.writeRef(resolved.revision, commitHash).catch(() => undefined);
    }
  }
  await raiseForStatus(hubResponse, target, resolved.token !== undefined);
  return metadataOf(hubResponse, target);
}

/** Downloads of one blob in this process share one promise, so parallel callers never write the same file. */
const downloadsInFlight = new Map<string, Promise<void>>();

function isSha256(etag: string): boolean {
  return /^[0-9a-f]{64}$/.test(etag);
}

async function hashFile(filePath: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
}

/** `Content-Range: bytes <first>-<last>/<total>` → first. */
function rangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

async function downloadBlob(
  repoId: string,
  filename: string,
  metadata: FileMetadata,
  resolved: ResolvedOptions,
  cache: RepoCache,
): Promise<void> {
  const blobPath = cache.blobPath(metadata.etag);
  const partialPath = `${blobPath}.incomplete`;
  await mkdir(path.dirname(blobPath), { recursive: true });
  const target = targetOf(repoId, resolved, filename);
  const expectedSize = metadata.size;

  let resumeFrom = 0;
  try {
    resumeFrom = (await stat(partialPath)).size;
  } catch {
    // nothing to resume
  }
  if (expectedSize !== undefined && resumeFrom > expectedSize) resumeFrom = 0;

  // hashed as the bytes arrive, so a large file is not read back; bytes kept from an earlier try are read once
  const hash = isSha256(metadata.etag) ? createHash('sha256') : undefined;
  let hashedAll = false;
  let totalBytes = expectedSize;
  if (expectedSize === undefined || resumeFrom < expectedSize) {
    let response: Response | undefined;
    for (let attempt = 0; attempt < 2 && response === undefined; attempt++) {
      const headers = baseHeaders(resolved);
      if (resumeFrom > 0) headers.range = `bytes=${resumeFrom}-`;
      const hubResponse = await hubRequest(metadata.downloadUrl, {
        method: 'GET',
        headers,
        redirects: 'all',
        timeoutMs: resolved.timeoutMs,
        origin: new URL(resolved.endpoint).origin,
      });
      const candidate = hubResponse.response;
      if (resumeFrom > 0 && (candidate.status === 416 || (candidate.status === 206 && rangeStart(candidate) !== resumeFrom))) {
        // the partial file does not fit this blob: start again from nothing
        await candidate.body?.cancel();
        resumeFrom = 0;
        continue;
      }
      await raiseForStatus(hubResponse, target, resolved.token !== undefined);
      if (candidate.status !== 206) resumeFrom = 0;
      response = candidate;
    }
    if (response === undefined || response.body === null) {
      throw new TunekitError('E_HUB_BAD_RESPONSE', `${metadata.downloadUrl}: no content returned for "${filename}"`);
    }
    const contentLength = parseSize(response.headers.get('content-length'));
    totalBytes ??= contentLength === undefined ? undefined : resumeFrom + contentLength;

    if (hash !== undefined && resumeFrom > 0) await hashFile(partialPath, hash);
    const file = await open(partialPath, resumeFrom > 0 ? 'a' : 'w');
    try {
      let downloadedBytes = resumeFrom;
      resolved.onProgress?.({ file: filename, downloadedBytes, totalBytes });
      for await (const chunk of response.body) {
        await writeAll(file, chunk);
        hash?.update(chunk);
        downloadedBytes += chunk.byteLength;
        resolved.onProgress?.({ file: filename, downloadedBytes, totalBytes });
      }
      await file.sync();
      hashedAll = true;
    } catch (error) {
      if (error instanceof TunekitError) throw error;
      throw new TunekitError(
        'E_HUB_NETWORK',
        `download of "${filename}" from hub repo "${repoId}" broke off (${(error as Error).message}); ` +
          `run again to resume from ${partialPath}`,
      );
    } finally {
      await file.close();
    }
  }

  const actualSize = (await stat(partialPath)).size;
  if (totalBytes !== undefined && actualSize !== totalBytes) {
    await rm(partialPath, { force: true });
    throw new TunekitError(
      'E_HUB_CHECKSUM',
      `"${filename}" from hub repo "${repoId}": expected ${totalBytes} bytes, received ${actualSize}; the partial ` +
        'download was deleted, run again to retry',
    );
  }
  if (hash !== undefined) {
    if (!hashedAll) await hashFile(partialPath, hash);
    const digest = hash.digest('hex');
    if (digest !== metadata.etag) {
      await rm(partialPath, { force: true });
      throw new TunekitError(
        'E_HUB_CHECKSUM',
        `"${filename}" from hub repo "${repoId}": sha256 ${digest} differs from the hub's ${metadata.etag}; the ` +
          'download was deleted, run again to retry',
      );
    }
  }
  await rename(partialPath, blobPath);
}

async function ensureBlob(repoId: string, filename: string, metadata: FileMetadata, resolved: ResolvedOptions, cache: RepoCache): Promise<void> {
  const blobPath = cache.blobPath(metadata.etag);
  let pending = downloadsInFlight.get(blobPath);
  if (pending === undefined) {
    pending = (async () => {
      if (!(await isFile(blobPath))) await downloadBlob(repoId, filename, metadata, resolved, cache);
    })().finally(() => downloadsInFlight.delete(blobPath));
    downloadsInFlight.set(blobPath, pending);
  }
  await pending;
}

async function downloadResolved(repoId: string, filename: string, resolved: ResolvedOptions): Promise<string> {
  validateRepoId(repoId);
  validateRepoFilename(filename);
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);

  if (isCommitHash(resolved.revision)) {
    const pointer = cache.pointerPath(resolved.revision, filename);
    if (await isFile(pointer)) return pointer;
  }
  if (resolved.offline) {
    const cached = await cache.cachedFile(resolved.revision, filename);
    if (cached !== undefined) return cached;
    throw notCachedError(repoId, resolved, `file "${filename}"`, 'offline mode is on (HF_HUB_OFFLINE)');
  }

  let metadata: FileMetadata;
  try {
    metadata = await fetchFileMetadata(repoId, filename, resolved, cache);
  } catch (error) {
    // as in huggingface_hub: when the hub cannot be reached, what the cache holds for this revision will do
    if (error instanceof TunekitError && error.code === 'E_HUB_NETWORK') {
      const cached = await cache.cachedFile(resolved.revision, filename);
      if (cached !== undefined) return cached;
    }
    throw error;
  }
  await cache.writeRef(resolved.revision, metadata.commitHash);
  const pointer = cache.pointerPath(metadata.commitHash, filename);
  if (await isFile(pointer)) return pointer;
  await ensureBlob(repoId, filename, metadata, resolved, cache);
  return cache.linkPointer(metadata.commitHash, filename, metadata.etag);
}

/**
 * Downloads one file of a hub repo into the cache (or finds it there) and returns its path, which is
 * `<cache>/models--org--name/snapshots/<commit>/<filename>`.
 */
export async function hubDownload(repoId: string, filename: string, options: HubOptions = {}): Promise<string> {
  return downloadResolved(repoId, filename, await resolveOptions(options));
}

/**
 * Whether a file exists in a hub repo at a revision (one HEAD request; offline: whether the cache has it). A
 * missing repo or revision, or no access, is an error, not `false`.
 */
export async function hubFileExists(repoId: string, filename: string, options: HubOptions = {}): Promise<boolean> {
  const resolved = await resolveOptions(options);
  validateRepoId(repoId);
  validateRepoFilename(filename);
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);
  if (resolved.offline) return (await cache.cachedFile(resolved.revision, filename)) !== undefined;
  try {
    await fetchFileMetadata(repoId, filename, resolved, cache);
    return true;
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_HUB_ENTRY_NOT_FOUND') return false;
    throw error;
  }
}

export interface RepoInfo {
  /** The commit the revision resolved to. */
  commitHash: string;
  /** Every file in the repo at that commit. */
  files: string[];
}

/** `GET {endpoint}/api/{models|datasets|spaces}/{repo}/revision/{revision}`: the commit and the file list. */
async function fetchRepoInfo(repoId: string, resolved: ResolvedOptions): Promise<RepoInfo> {
  const url = `${resolved.endpoint}/api/${resolved.repoType}s/${repoId}/revision/${encodeURIComponent(resolved.revision)}`;
  const hubResponse = await hubRequest(url, {
    method: 'GET',
    headers: { ...baseHeaders(resolved), accept: 'application/json' },
    redirects: 'all',
    timeoutMs: resolved.timeoutMs,
  });
  await raiseForStatus(hubResponse, targetOf(repoId, resolved), resolved.token !== undefined);
  let body: unknown;
  try {
    body = await hubResponse.response.json();
  } catch (error) {
    throw new TunekitError('E_HUB_BAD_RESPONSE', `${url}: not JSON (${(error as Error).message}); check HF_ENDPOINT`);
  }
  const info = body as { sha?: unknown; siblings?: unknown };
  const siblings = Array.isArray(info?.siblings) ? (info.siblings as Array<{ rfilename?: unknown }>) : undefined;
  if (typeof info?.sha !== 'string' || !isCommitHash(info.sha) || siblings === undefined
    || !siblings.every((sibling) => typeof sibling?.rfilename === 'string')) {
    throw new TunekitError('E_HUB_BAD_RESPONSE', `${url}: expected {"sha": commit hash, "siblings": [{"rfilename": …}]}`);
  }
  return { commitHash: info.sha, files: siblings.map((sibling) => sibling.rfilename as string) };
}

/** The commit and file list of a repo at a revision (online only). */
export async function hubRepoInfo(repoId: string, options: HubOptions = {}): Promise<RepoInfo> {
  validateRepoId(repoId);
  const resolved = await resolveOptions(options);
  if (resolved.offline) throw notCachedError(repoId, resolved, 'the file list', 'offline mode is on (HF_HUB_OFFLINE)');
  return fetchRepoInfo(repoId, resolved);
}

/**
 * Python's fnmatch, as huggingface_hub applies it to repo paths: `*` matches any run of characters, `/` included;
 * `?` one character; `[abc]`, `[!abc]` a set; a pattern ending in `/` means everything under that folder.
 */
export function matchesPattern(filename: string, pattern: string): boolean {
  const full = pattern.endsWith('/') ? `${pattern}*` : pattern;
  let source = '';
  for (let index = 0; index < full.length; index++) {
    const character = full[index];
    if (character === '*') source += '.*';
    else if (character === '?') source += '.';
    else if (character === '[') {
      const close = full.indexOf(']', index + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let set = full.slice(index + 1, close).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      source += `[${set}]`;
      index = close;
    } else source += character.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's').test(filename);
}

function selectFiles(files: string[], allowPatterns?: string[], ignorePatterns?: string[]): string[] {
  return files.filter((file) =>
    (allowPatterns === undefined || allowPatterns.some((pattern) => matchesPattern(file, pattern)))
    && !(ignorePatterns ?? []).some((pattern) => matchesPattern(file, pattern)));
}

export interface SnapshotOptions extends HubOptions {
  /** Download only files matching one of these fnmatch patterns (e.g. `*.json`, `*.safetensors`). */
  allowPatterns?: string[];
  /** Skip files matching one of these. */
  ignorePatterns?: string[];
}

async function offlineSnapshot(repoId: string, resolved: ResolvedOptions, reason: string): Promise<string> {
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);
  const commitHash = await cache.commitFor(resolved.revision);
  if (commitHash !== undefined) {
    const snapshot = cache.snapshotDir(commitHash);
    try {
      if ((await stat(snapshot)).isDirectory()) return snapshot;
    } catch {
      // not there
    }
  }
  throw notCachedError(repoId, resolved, 'a snapshot', reason);
}

/**
 * Downloads every file of a repo at a revision (or those `allowPatterns` select) and returns the snapshot folder
 * `<cache>/models--org--name/snapshots/<commit>`. Offline, or when the hub cannot be reached, returns the cached
 * snapshot for the revision as it is.
 */
export async function snapshotDownload(repoId: string, options: SnapshotOptions = {}): Promise<string> {
  validateRepoId(repoId);
  const resolved = await resolveOptions(options);
  if (resolved.offline) return offlineSnapshot(repoId, resolved, 'offline mode is on (HF_HUB_OFFLINE)');
  let info: RepoInfo;
  try {
    info = await fetchRepoInfo(repoId, resolved);
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_HUB_NETWORK') {
      return offlineSnapshot(repoId, resolved, `the hub cannot be reached (${error.message})`).catch(() => {
        throw error;
      });
    }
    throw error;
  }
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);
  await cache.writeRef(resolved.revision, info.commitHash);
  const pinned = { ...resolved, revision: info.commitHash };
  for (const file of selectFiles(info.files, options.allowPatterns, options.ignorePatterns)) {
    await downloadResolved(repoId, file, pinned);
  }
  const snapshot = cache.snapshotDir(info.commitHash);
  await mkdir(snapshot, { recursive: true });
  return snapshot;
}

// ---- model and adapter sources -------------------------------------------------------------------------------

const MODEL_CONFIG = 'config.json';
const SINGLE_WEIGHTS = 'model.safetensors';
const WEIGHTS_INDEX = 'model.safetensors.index.json';
/** Files a model folder may have beside its weights; fetched when the repo has them. */
export const OPTIONAL_MODEL_FILES: readonly string[] = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
];
const ADAPTER_CONFIG = 'adapter_config.json';
const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PICKLE_WEIGHTS = /(^|\/)[^/]*\.(bin|pt|pth|ckpt|pkl)$/;

export interface ModelSourceOptions extends HubOptions {
  /** More repo files to fetch when present (exact names). */
  extraFiles?: string[];
}

function pickleOnlyError(repoId: string, revision: string, pickleFiles: string[], wanted: string): TunekitError {
  const shown = pickleFiles.slice(0, 3).join(', ') + (pickleFiles.length > 3 ? `, … (${pickleFiles.length} files)` : '');
  return new TunekitError(
    'E_HUB_PICKLE_ONLY',
    `hub repo "${repoId}" at revision "${revision}" has weights only as pickle files (${shown}), no ${wanted}. ` +
      'tunekit loads only safetensors, because loading a pickle file can run arbitrary code. Use a repo or ' +
      'revision that has safetensors weights (many repos have them on a "refs/pr/N" conversion branch), or convert ' +
      'the weights yourself from Python: `model.save_pretrained(folder, safe_serialization=True)` with transformers ' +
      '(or the safetensors convert tool), then pass the folder.',
  );
}

async function localDirectory(idOrPath: string): Promise<string | undefined> {
  let info;
  try {
    info = await stat(idOrPath);
  } catch {
    const looksLikePath = /^(\.{1,2}|~)?[/\\]/.test(idOrPath) || idOrPath.split('/').length > 2 || path.isAbsolute(idOrPath);
    if (looksLikePath) throw new TunekitError('E_NOT_FOUND', `${idOrPath}: no such folder (and not a hub repo id)`);
    return undefined;
  }
  if (!info.isDirectory()) {
    throw new TunekitError('E_NOT_FOUND', `${idOrPath}: is a file; expected a model folder or a hub repo id`);
  }
  return idOrPath;
}

function parseWeightMap(text: string, source: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TunekitError('E_SAFETENSORS_INDEX', `${source}: not valid JSON (${(error as Error).message})`);
  }
  const weightMap = (parsed as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new TunekitError('E_SAFETENSORS_INDEX', `${source}: "weight_map" must be an object {tensor name: shard file}`);
  }
  const shards = [...new Set(Object.values(weightMap))];
  for (const shard of shards) {
    if (typeof shard !== 'string' || shard !== path.posix.basename(shard) || shard === '..' || shard === '.' || shard === '') {
      throw new TunekitError('E_SAFETENSORS_INDEX', `${source}: weight_map names ${JSON.stringify(shard)}, not a file in the folder`);
    }
  }
  return (shards as string[]).sort();
}

/** A model snapshot in the cache is usable offline when it has its config and every weight file. */
async function checkCachedModel(snapshot: string, repoId: string, resolved: ResolvedOptions, reason: string): Promise<string> {
  const missing = (file: string) => notCachedError(repoId, resolved, `"${file}"`, reason);
  if (!(await isFile(path.join(snapshot, MODEL_CONFIG)))) throw missing(MODEL_CONFIG);
  if (await isFile(path.join(snapshot, SINGLE_WEIGHTS))) return snapshot;
  const indexPath = path.join(snapshot, WEIGHTS_INDEX);
  if (!(await isFile(indexPath))) throw missing(SINGLE_WEIGHTS);
  for (const shard of parseWeightMap(await readFile(indexPath, 'utf8'), indexPath)) {
    if (!(await isFile(path.join(snapshot, shard)))) throw missing(shard);
  }
  return snapshot;
}

async function cachedModelSnapshot(repoId: string, resolved: ResolvedOptions, reason: string): Promise<string> {
  return checkCachedModel(await offlineSnapshot(repoId, resolved, reason), repoId, resolved, reason);
}

/**
 * A model folder from a local path or a hub repo id. A local folder is returned as it is. A repo id is looked up
 * on the hub and what a model needs is downloaded: config.json, the optional files in OPTIONAL_MODEL_FILES, and the
 * weights (model.safetensors, or model.safetensors.index.json and every shard it lists); the snapshot folder is
 * returned. A repo with only pickle weights is refused. Offline, the cached snapshot is used if it is complete.
 */
export async function resolveModelSource(idOrPath: string, options: ModelSourceOptions = {}): Promise<string> {
  const local = await localDirectory(idOrPath);
  if (local !== undefined) return local;
  const repoId = idOrPath;
  validateRepoId(repoId);
  const resolved = await resolveOptions(options);
  if (resolved.offline) return cachedModelSnapshot(repoId, resolved, 'offline mode is on (HF_HUB_OFFLINE)');

  let info: RepoInfo;
  try {
    info = await fetchRepoInfo(repoId, resolved);
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_HUB_NETWORK') {
      return cachedModelSnapshot(repoId, resolved, 'the hub cannot be reached').catch(() => {
        throw error;
      });
    }
    throw error;
  }
  const available = new Set(info.files);
  if (!available.has(MODEL_CONFIG)) {
    throw new TunekitError(
      'E_HUB_NOT_A_MODEL',
      `hub repo "${repoId}" at revision "${resolved.revision}" has no ${MODEL_CONFIG}, so it is not a transformers ` +
        `model${available.has(ADAPTER_CONFIG) ? ` (it holds a PEFT adapter: load it as an adapter)` : ''}`,
    );
  }
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);
  await cache.writeRef(resolved.revision, info.commitHash);
  const pinned = { ...resolved, revision: info.commitHash };
  const fetchFile = (file: string) => downloadResolved(repoId, file, pinned);

  const wanted = [MODEL_CONFIG, ...OPTIONAL_MODEL_FILES, ...(options.extraFiles ?? [])].filter((file) => available.has(file));
  for (const file of new Set(wanted)) await fetchFile(file);
  if (available.has(SINGLE_WEIGHTS)) {
    await fetchFile(SINGLE_WEIGHTS);
  } else if (available.has(WEIGHTS_INDEX)) {
    const indexPath = await fetchFile(WEIGHTS_INDEX);
    for (const shard of parseWeightMap(await readFile(indexPath, 'utf8'), `${repoId}/${WEIGHTS_INDEX}`)) {
      if (!available.has(shard)) {
        throw new TunekitError(
          'E_SAFETENSORS_INDEX',
          `hub repo "${repoId}": ${WEIGHTS_INDEX} lists shard "${shard}", which the repo does not have`,
        );
      }
      await fetchFile(shard);
    }
  } else {
    const pickles = info.files.filter((file) => PICKLE_WEIGHTS.test(file));
    if (pickles.length > 0) throw pickleOnlyError(repoId, resolved.revision, pickles, `${SINGLE_WEIGHTS} or ${WEIGHTS_INDEX}`);
    throw new TunekitError(
      'E_HUB_NO_WEIGHTS',
      `hub repo "${repoId}" at revision "${resolved.revision}" has neither ${SINGLE_WEIGHTS} nor ${WEIGHTS_INDEX} ` +
        `(files: ${info.files.slice(0, 10).join(', ')}${info.files.length > 10 ? ', …' : ''})`,
    );
  }
  return cache.snapshotDir(info.commitHash);
}

/**
 * A PEFT adapter folder from a local path or a hub repo id: adapter_config.json and adapter_model.safetensors (and
 * tokenizer files when the repo has them, as adapters that add tokens ship them). Pickle-only adapters are refused.
 */
export async function resolveAdapterSource(idOrPath: string, options: ModelSourceOptions = {}): Promise<string> {
  const local = await localDirectory(idOrPath);
  if (local !== undefined) return local;
  const repoId = idOrPath;
  validateRepoId(repoId);
  const resolved = await resolveOptions(options);
  const cachedAdapter = async (reason: string) => {
    const snapshot = await offlineSnapshot(repoId, resolved, reason);
    for (const file of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) {
      if (!(await isFile(path.join(snapshot, file)))) throw notCachedError(repoId, resolved, `"${file}"`, reason);
    }
    return snapshot;
  };
  if (resolved.offline) return cachedAdapter('offline mode is on (HF_HUB_OFFLINE)');

  let info: RepoInfo;
  try {
    info = await fetchRepoInfo(repoId, resolved);
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_HUB_NETWORK') {
      return cachedAdapter('the hub cannot be reached').catch(() => {
        throw error;
      });
    }
    throw error;
  }
  const available = new Set(info.files);
  if (!available.has(ADAPTER_CONFIG)) {
    throw new TunekitError(
      'E_HUB_NOT_AN_ADAPTER',
      `hub repo "${repoId}" at revision "${resolved.revision}" has no ${ADAPTER_CONFIG}, so it is not a PEFT adapter` +
        `${available.has(MODEL_CONFIG) ? ' (it holds a full model: load it as a model)' : ''}`,
    );
  }
  if (!available.has(ADAPTER_WEIGHTS)) {
    const pickles = info.files.filter((file) => PICKLE_WEIGHTS.test(file));
    if (pickles.length > 0) throw pickleOnlyError(repoId, resolved.revision, pickles, ADAPTER_WEIGHTS);
    throw new TunekitError('E_HUB_NO_WEIGHTS', `hub repo "${repoId}" at revision "${resolved.revision}" has no ${ADAPTER_WEIGHTS}`);
  }
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);
  await cache.writeRef(resolved.revision, info.commitHash);
  const pinned = { ...resolved, revision: info.commitHash };
  const tokenizerFiles = OPTIONAL_MODEL_FILES.filter((file) => file !== 'generation_config.json');
  const wanted = [ADAPTER_CONFIG, ADAPTER_WEIGHTS, ...tokenizerFiles, ...(options.extraFiles ?? [])];
  for (const file of new Set(wanted.filter((name) => available.has(name)))) await downloadResolved(repoId, file, pinned);
  return cache.snapshotDir(info.commitHash);
}
