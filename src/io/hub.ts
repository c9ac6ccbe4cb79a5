/**
 * Hugging Face hub downloads into the cache the Python libraries use (see hub-cache.ts), with the same rules as
 * `huggingface_hub.hf_hub_download`: a HEAD request on `{endpoint}/{repo}/resolve/{revision}/{file}` gives the
 * commit (`X-Repo-Commit`) and the blob name (`X-Linked-Etag` for LFS files, else `ETag`); a blob already cached is
 * linked, not downloaded again; a file asked for by commit hash and already cached costs no request at all.
 * Downloads go to `blobs/<etag>.incomplete`, resume from it with a Range request, are checked against the
 * expected size and the digest the blob name is (sha256 for LFS files, git blob sha1 for the others), then
 * renamed into place.
 *
 * The server is not trusted (huggingface_hub trusts it more): a blob name must be a hex digest, every name that
 * becomes a path is validated and the path proven inside the cache (hub-cache.ts), the body may not exceed the
 * size announced (nor `maxFileBytes`), a stalled body fails after `idleTimeoutMs` leaving its partial file to
 * resume from, and the token goes only to the endpoint's origin (hub-http.ts).
 *
 * Environment, as in Python: HF_ENDPOINT, HF_TOKEN (else $HF_TOKEN_PATH or $HF_HOME/token), HF_HUB_CACHE /
 * HF_HOME, HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) = 1/true/yes/on.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { TunekitError } from '../errors.js';
import { writeAll } from './atomic.js';
import {
  defaultHubCacheDir,
  huggingFaceHome,
  isBlobName,
  isCommitHash,
  isFile,
  RepoCache,
  validateRepoFilename,
  validateRepoId,
  validateRevision,
  type HubRepoType,
} from './hub-cache.js';
import { bodyChunks, hubRequest, raiseForStatus, readSmallBody, redirectTarget, type HubResponse, type HubTarget } from './hub-http.js';
import { parseSafetensorsIndex, SHARDED_ERROR, shardFiles } from './sharded.js';

export { defaultHubCacheDir, isCommitHash, repoFolderName, type HubRepoType } from './hub-cache.js';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** Twice the hub's documented per-file limit (50 GB): a size announced above it is refused. */
const DEFAULT_MAX_FILE_BYTES = 100 * 1024 ** 3;
/** The repo listing is JSON of a few KB to a few MB. */
const MAX_LISTING_BYTES = 64 * 1024 ** 2;

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
  /** Time allowed between two chunks of a body; default 30 s. A download that stalls longer can be resumed. */
  idleTimeoutMs?: number;
  /** Largest file accepted, as announced or as received; default 100 GiB. */
  maxFileBytes?: number;
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
  idleTimeoutMs: number;
  maxFileBytes: number;
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

/** The endpoint without trailing slashes; refused unless an http(s) URL without credentials, query or fragment. */
function resolveEndpoint(options: HubOptions, env: NodeJS.ProcessEnv): string {
  const [value, name] = options.endpoint !== undefined
    ? [options.endpoint, 'the endpoint option']
    : env.HF_ENDPOINT ? [env.HF_ENDPOINT, 'HF_ENDPOINT'] : [DEFAULT_HUB_ENDPOINT, 'the default endpoint'];
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new TunekitError(
      'E_HUB_INVALID',
      `${name} is ${JSON.stringify(value)}: expected an http(s) URL without credentials, query or fragment, such as ${DEFAULT_HUB_ENDPOINT}`,
    );
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value > 0)) throw new TunekitError('E_HUB_INVALID', `${name} must be a positive number, got ${value}`);
  return value;
}

async function resolveOptions(options: HubOptions): Promise<ResolvedOptions> {
  const env = options.env ?? process.env;
  const revision = options.revision ?? 'main';
  validateRevision(revision);
  const endpoint = resolveEndpoint(options, env);
  let token: string | undefined;
  if (typeof options.token === 'string') token = options.token;
  else if (options.token !== false) token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || (await readTokenFile(env));
  return {
    revision,
    repoType: options.repoType ?? 'model',
    cacheDir: options.cacheDir ?? defaultHubCacheDir(env),
    token,
    endpoint,
    offline: options.offline ?? isTrue(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE),
    onProgress: options.onProgress,
    timeoutMs: positive(options.timeoutMs, 10_000, 'timeoutMs'),
    idleTimeoutMs: positive(options.idleTimeoutMs, 30_000, 'idleTimeoutMs'),
    maxFileBytes: positive(options.maxFileBytes, DEFAULT_MAX_FILE_BYTES, 'maxFileBytes'),
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
  /** The blob name: a git sha1 (40 hex digits) or, for LFS files, a sha256 (64). */
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
  const etagHeader = response.headers.has('x-linked-etag') ? 'X-Linked-Etag' : 'ETag';
  const etag = response.headers.get(etagHeader);
  if (commitHash === null || !isCommitHash(commitHash) || etag === null || normalizeEtag(etag) === '') {
    throw new TunekitError(
      'E_HUB_BAD_RESPONSE',
      `${url}: the response lacks ${commitHash === null ? 'the X-Repo-Commit header' : etag === null ? 'an ETag' : 'a valid commit hash or ETag'}; ` +
        `is ${target.repoUrl} a Hugging Face hub (check HF_ENDPOINT)?`,
    );
  }
  if (!isBlobName(normalizeEtag(etag))) {
    throw new TunekitError(
      'E_HUB_BAD_RESPONSE',
      `${url}: the ${etagHeader} header ${JSON.stringify(etag)} is not a git sha1 or sha256 (40 or 64 lowercase hex ` +
        `digits); refused, as it names the file "${target.filename ?? ''}" is stored under in the cache`,
    );
  }
  const location = response.status >= 300 && response.status <= 399 ? response.headers.get('location') : null;
  return {
    commitHash,
    etag: normalizeEtag(etag),
    // a redirect's Content-Length is of the redirect's own body, as huggingface_hub also reads it
    size: parseSize(response.headers.get('x-linked-size') ?? (location === null ? response.headers.get('content-length') : null)),
    downloadUrl: location === null ? url : redirectTarget(location, url).href,
  };
}

/** HEAD on the resolve URL; a file the hub reports missing is recorded under .no_exist as huggingface_hub does. */
async function fetchFileMetadata(repoId: string, filename: string, resolved: ResolvedOptions, cache: RepoCache): Promise<FileMetadata> {
  const target = targetOf(repoId, resolved, filename);
  const url = hubFileUrl(repoId, filename, resolved);
  const hubResponse = await hubRequest(url, {
    method: 'HEAD',
    headers: baseHeaders(resolved),
    redirects: 'same-origin',
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

async function hashFile(filePath: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
}

/** `Content-Range: bytes <first>-<last>/<total>` → first. */
function rangeStart(response: Response): number | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
  return match ? Number(match[1]) : undefined;
}

async function sizeOf(filePath: string): Promise<number | undefined> {
  try {
    return (await stat(filePath)).size;
  } catch {
    return undefined;
  }
}

/** The GET for the bytes from `resumeFrom` on; starts over at 0 when the partial file does not fit the blob. */
async function requestBytes(
  metadata: FileMetadata,
  resolved: ResolvedOptions,
  target: HubTarget,
  resumeFrom: number,
): Promise<{ response: Response; resumeFrom: number }> {
  for (;;) {
    const headers = baseHeaders(resolved);
    if (resumeFrom > 0) headers.range = `bytes=${resumeFrom}-`;
    const hubResponse = await hubRequest(metadata.downloadUrl, {
      method: 'GET',
      headers,
      redirects: 'all',
      timeoutMs: resolved.timeoutMs,
      origin: new URL(resolved.endpoint).origin,
    });
    const { response } = hubResponse;
    if (resumeFrom > 0 && (response.status === 416 || (response.status === 206 && rangeStart(response) !== resumeFrom))) {
      await response.body?.cancel().catch(() => undefined);
      resumeFrom = 0;
      continue;
    }
    await raiseForStatus(hubResponse, target, resolved.token !== undefined);
    if (response.status < 200 || response.status > 299 || response.body === null) {
      await response.body?.cancel().catch(() => undefined);
      throw new TunekitError('E_HUB_BAD_RESPONSE', `${hubResponse.url}: HTTP ${response.status} with no content for "${target.filename}"`);
    }
    return { response, resumeFrom: response.status === 206 ? resumeFrom : 0 };
  }
}

/** sha1 of `blob <size>\0<content>`: what git names a file by, and the hub's ETag of a file not in LFS. */
async function gitBlobSha1(filePath: string): Promise<string> {
  const hash = createHash('sha1').update(`blob ${(await stat(filePath)).size}\0`);
  await hashFile(filePath, hash);
  return hash.digest('hex');
}

async function downloadBlob(
  repoId: string,
  filename: string,
  metadata: FileMetadata,
  resolved: ResolvedOptions,
  cache: RepoCache,
): Promise<void> {
  const blobPath = await cache.prepare(cache.blobPath(metadata.etag));
  const partialPath = await cache.prepare(`${blobPath}.incomplete`);
  const target = targetOf(repoId, resolved, filename);
  const what = `"${filename}" from hub repo "${repoId}"`;
  const refuse = async (code: string, message: string): Promise<never> => {
    await rm(partialPath, { force: true });
    throw new TunekitError(code, `${what}: ${message}`);
  };
  const expectedSize = metadata.size;
  if (expectedSize !== undefined && expectedSize > resolved.maxFileBytes) {
    throw new TunekitError('E_HUB_TOO_LARGE', `${what}: the hub announces ${expectedSize} bytes, more than maxFileBytes (${resolved.maxFileBytes}); refused`);
  }

  const partialSize = await sizeOf(partialPath);
  let resumeFrom = partialSize === undefined || (expectedSize !== undefined && partialSize > expectedSize) ? 0 : partialSize;

  // sha256 is hashed as the bytes arrive, so a large LFS file is not read back; bytes kept from an earlier try are
  // read once. Git blobs (the small files outside LFS) are hashed afterwards, as their hash starts with the size.
  const sha256 = metadata.etag.length === 64 ? createHash('sha256') : undefined;
  let hashedAll = false;
  let totalBytes = expectedSize;
  if (partialSize === undefined || expectedSize === undefined || resumeFrom < expectedSize) {
    const requested = await requestBytes(metadata, resolved, target, resumeFrom);
    const { response } = requested;
    resumeFrom = requested.resumeFrom;
    const contentLength = parseSize(response.headers.get('content-length'));
    const announced = contentLength === undefined ? undefined : resumeFrom + contentLength;
    if (announced !== undefined && expectedSize !== undefined && announced !== expectedSize) {
      await response.body?.cancel().catch(() => undefined);
      throw new TunekitError(
        'E_HUB_CHECKSUM',
        `${what}: expected ${expectedSize} bytes, the Content-Length header of ${metadata.downloadUrl} announces ` +
          `${announced}${resumeFrom > 0 ? ` (from byte ${resumeFrom})` : ''}; refused before writing`,
      );
    }
    if (announced !== undefined && announced > resolved.maxFileBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw new TunekitError(
        'E_HUB_TOO_LARGE',
        `${what}: the Content-Length header of ${metadata.downloadUrl} announces ${announced} bytes, more than maxFileBytes (${resolved.maxFileBytes}); refused before writing`,
      );
    }
    totalBytes ??= announced;
    const limit = totalBytes ?? resolved.maxFileBytes;

    if (sha256 !== undefined && resumeFrom > 0) await hashFile(partialPath, sha256);
    const file = await open(partialPath, resumeFrom > 0 ? 'a' : 'w');
    let overflow = false;
    try {
      let downloadedBytes = resumeFrom;
      resolved.onProgress?.({ file: filename, downloadedBytes, totalBytes });
      for await (const chunk of bodyChunks(response, resolved.idleTimeoutMs, metadata.downloadUrl)) {
        if (downloadedBytes + chunk.byteLength > limit) {
          overflow = true;
          break;
        }
        await writeAll(file, chunk);
        sha256?.update(chunk);
        downloadedBytes += chunk.byteLength;
        resolved.onProgress?.({ file: filename, downloadedBytes, totalBytes });
      }
      await file.sync();
      hashedAll = true;
    } catch (error) {
      if (error instanceof TunekitError && error.code !== 'E_HUB_NETWORK') throw error;
      throw new TunekitError(
        'E_HUB_NETWORK',
        `download of ${what} broke off (${(error as Error).message}); run again to resume from ${partialPath}`,
      );
    } finally {
      await file.close();
    }
    if (overflow) {
      await refuse('E_HUB_CHECKSUM', `the server sent more than the ${limit} bytes ${totalBytes === undefined ? 'maxFileBytes allows' : 'expected'}; refused, the partial download was deleted`);
    }
  }

  const actualSize = (await sizeOf(partialPath)) ?? 0;
  if (totalBytes !== undefined && actualSize !== totalBytes) {
    await refuse('E_HUB_CHECKSUM', `expected ${totalBytes} bytes, received ${actualSize}; the partial download was deleted, run again to retry`);
  }
  if (sha256 !== undefined && !hashedAll) await hashFile(partialPath, sha256);
  const digest = sha256 !== undefined ? sha256.digest('hex') : await gitBlobSha1(partialPath);
  if (digest !== metadata.etag) {
    await refuse(
      'E_HUB_CHECKSUM',
      `${sha256 !== undefined ? 'sha256' : 'git blob sha1'} ${digest} differs from the hub's ETag ${metadata.etag}; the download was deleted, run again to retry`,
    );
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

/**
 * `GET {endpoint}/api/{models|datasets|spaces}/{repo}/revision/{revision}`: the commit and the file list, every
 * name in it a valid repo file name (a listing with one that is not is refused whole).
 */
async function fetchRepoInfo(repoId: string, resolved: ResolvedOptions): Promise<RepoInfo> {
  const url = `${resolved.endpoint}/api/${resolved.repoType}s/${repoId}/revision/${encodeURIComponent(resolved.revision)}`;
  const hubResponse = await hubRequest(url, {
    method: 'GET',
    headers: { ...baseHeaders(resolved), accept: 'application/json' },
    redirects: 'same-origin',
    timeoutMs: resolved.timeoutMs,
  });
  await raiseForStatus(hubResponse, targetOf(repoId, resolved), resolved.token !== undefined);
  const { response } = hubResponse;
  if (response.status >= 300) {
    await response.body?.cancel().catch(() => undefined);
    throw new TunekitError(
      'E_HUB_BAD_RESPONSE',
      `${url}: redirected to another origin (Location header ${JSON.stringify(response.headers.get('location'))}); the file list is only read from the endpoint`,
    );
  }
  let body: unknown;
  const text = (await readSmallBody(response, hubResponse.url, resolved.idleTimeoutMs, MAX_LISTING_BYTES)).toString('utf8');
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new TunekitError('E_HUB_BAD_RESPONSE', `${url}: not JSON (${(error as Error).message}); check HF_ENDPOINT`);
  }
  const info = body as { sha?: unknown; siblings?: unknown };
  const siblings = Array.isArray(info?.siblings) ? (info.siblings as Array<{ rfilename?: unknown }>) : undefined;
  if (typeof info?.sha !== 'string' || !isCommitHash(info.sha) || siblings === undefined
    || !siblings.every((sibling) => typeof sibling?.rfilename === 'string')) {
    throw new TunekitError('E_HUB_BAD_RESPONSE', `${url}: expected {"sha": commit hash, "siblings": [{"rfilename": …}]}`);
  }
  const files = siblings.map((sibling) => sibling.rfilename as string);
  for (const file of files) validateRepoFilename(file, `${url}: "rfilename" of a sibling`);
  return { commitHash: info.sha, files };
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

/**
 * A repo at a revision as a caller sees it: online, the hub's file list (and `get` downloads); offline, or when the
 * hub cannot be reached, the cached snapshot (and `get` finds the file there).
 */
interface RepoView {
  repoId: string;
  revision: string;
  /** The hub's file list; undefined offline. */
  files: string[] | undefined;
  has(file: string): Promise<boolean>;
  /** The local path of a file `has` confirmed. */
  get(file: string): Promise<string>;
  /** The error for a file that must be there: `absent()` online, "not in the cache" offline. */
  missing(file: string, absent: () => TunekitError): TunekitError;
}

/**
 * The one path from a repo id to a snapshot folder: the listing of the revision, then what `fetchWanted` asks for,
 * pinned to the listed commit. Offline (or the hub unreachable) `fetchWanted` runs against the cached snapshot of
 * the revision instead, so the same function checks that the cache holds what it needs.
 */
async function resolveSnapshot(repoId: string, options: HubOptions, fetchWanted: (view: RepoView) => Promise<void>): Promise<string> {
  validateRepoId(repoId);
  const resolved = await resolveOptions(options);
  const cache = new RepoCache(resolved.cacheDir, repoId, resolved.repoType);

  const fromCache = async (reason: string): Promise<string> => {
    const commitHash = await cache.commitFor(resolved.revision);
    const snapshot = commitHash === undefined ? undefined : cache.snapshotDir(commitHash);
    if (commitHash === undefined || snapshot === undefined || !(await stat(snapshot).then((info) => info.isDirectory(), () => false))) {
      throw notCachedError(repoId, resolved, 'a snapshot', reason);
    }
    const cached = (file: string) => {
      validateRepoFilename(file);
      return cache.pointerPath(commitHash, file);
    };
    await fetchWanted({
      repoId,
      revision: resolved.revision,
      files: undefined,
      has: (file) => isFile(cached(file)),
      get: async (file) => cached(file),
      missing: (file) => notCachedError(repoId, resolved, `"${file}"`, reason),
    });
    return snapshot;
  };
  if (resolved.offline) return fromCache('offline mode is on (HF_HUB_OFFLINE)');

  let info: RepoInfo;
  try {
    info = await fetchRepoInfo(repoId, resolved);
  } catch (error) {
    if (error instanceof TunekitError && error.code === 'E_HUB_NETWORK') {
      return fromCache('the hub cannot be reached').catch(() => {
        throw error;
      });
    }
    throw error;
  }
  await cache.writeRef(resolved.revision, info.commitHash);
  const pinned = { ...resolved, revision: info.commitHash };
  const listed = new Set(info.files);
  await fetchWanted({
    repoId,
    revision: resolved.revision,
    files: info.files,
    has: async (file) => listed.has(file),
    get: (file) => downloadResolved(repoId, file, pinned),
    missing: (_file, absent) => absent(),
  });
  return cache.prepare(cache.snapshotDir(info.commitHash), 'folder');
}

/**
 * Downloads every file of a repo at a revision (or those `allowPatterns` select) and returns the snapshot folder
 * `<cache>/models--org--name/snapshots/<commit>`. Offline, or when the hub cannot be reached, returns the cached
 * snapshot for the revision as it is.
 */
export async function snapshotDownload(repoId: string, options: SnapshotOptions = {}): Promise<string> {
  return resolveSnapshot(repoId, options, async (view) => {
    for (const file of selectFiles(view.files ?? [], options.allowPatterns, options.ignorePatterns)) await view.get(file);
  });
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

/** The error for a repo without safetensors weights: refused as pickle-only when it has pickle files. */
function noWeightsError(view: RepoView, wanted: string): TunekitError {
  const files = view.files ?? [];
  const pickles = files.filter((file) => PICKLE_WEIGHTS.test(file));
  if (pickles.length === 0) {
    return new TunekitError(
      'E_HUB_NO_WEIGHTS',
      `hub repo "${view.repoId}" at revision "${view.revision}" has no ${wanted} ` +
        `(files: ${files.slice(0, 10).join(', ')}${files.length > 10 ? ', …' : ''})`,
    );
  }
  const shown = pickles.slice(0, 3).join(', ') + (pickles.length > 3 ? `, … (${pickles.length} files)` : '');
  return new TunekitError(
    'E_HUB_PICKLE_ONLY',
    `hub repo "${view.repoId}" at revision "${view.revision}" has weights only as pickle files (${shown}), no ${wanted}. ` +
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

async function getPresent(view: RepoView, files: Iterable<string>): Promise<void> {
  for (const file of new Set(files)) if (await view.has(file)) await view.get(file);
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
  return resolveSnapshot(idOrPath, options, async (view) => {
    if (!(await view.has(MODEL_CONFIG))) {
      throw view.missing(MODEL_CONFIG, () => new TunekitError(
        'E_HUB_NOT_A_MODEL',
        `hub repo "${view.repoId}" at revision "${view.revision}" has no ${MODEL_CONFIG}, so it is not a transformers ` +
          `model${view.files?.includes(ADAPTER_CONFIG) ? ' (it holds a PEFT adapter: load it as an adapter)' : ''}`,
      ));
    }
    await getPresent(view, [MODEL_CONFIG, ...OPTIONAL_MODEL_FILES, ...(options.extraFiles ?? [])]);
    if (await view.has(SINGLE_WEIGHTS)) {
      await view.get(SINGLE_WEIGHTS);
    } else if (await view.has(WEIGHTS_INDEX)) {
      const indexPath = await view.get(WEIGHTS_INDEX);
      for (const shard of shardFiles(parseSafetensorsIndex(await readFile(indexPath, 'utf8'), indexPath))) {
        if (!(await view.has(shard))) {
          throw view.missing(shard, () => new TunekitError(
            SHARDED_ERROR,
            `hub repo "${view.repoId}": ${WEIGHTS_INDEX} lists shard "${shard}", which the repo does not have`,
          ));
        }
        await view.get(shard);
      }
    } else {
      throw view.missing(SINGLE_WEIGHTS, () => noWeightsError(view, `${SINGLE_WEIGHTS} or ${WEIGHTS_INDEX}`));
    }
  });
}

/**
 * A PEFT adapter folder from a local path or a hub repo id: adapter_config.json and adapter_model.safetensors (and
 * tokenizer files when the repo has them, as adapters that add tokens ship them). Pickle-only adapters are refused.
 */
export async function resolveAdapterSource(idOrPath: string, options: ModelSourceOptions = {}): Promise<string> {
  const local = await localDirectory(idOrPath);
  if (local !== undefined) return local;
  return resolveSnapshot(idOrPath, options, async (view) => {
    if (!(await view.has(ADAPTER_CONFIG))) {
      throw view.missing(ADAPTER_CONFIG, () => new TunekitError(
        'E_HUB_NOT_AN_ADAPTER',
        `hub repo "${view.repoId}" at revision "${view.revision}" has no ${ADAPTER_CONFIG}, so it is not a PEFT adapter` +
          `${view.files?.includes(MODEL_CONFIG) ? ' (it holds a full model: load it as a model)' : ''}`,
      ));
    }
    if (!(await view.has(ADAPTER_WEIGHTS))) throw view.missing(ADAPTER_WEIGHTS, () => noWeightsError(view, ADAPTER_WEIGHTS));
    const tokenizerFiles = OPTIONAL_MODEL_FILES.filter((file) => file !== 'generation_config.json');
    await getPresent(view, [ADAPTER_CONFIG, ADAPTER_WEIGHTS, ...tokenizerFiles, ...(options.extraFiles ?? [])]);
  });
}
