import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import {
  hubDownload,
  hubFileExists,
  hubFileUrl,
  matchesPattern,
  resolveAdapterSource,
  resolveModelSource,
  snapshotDownload,
  type SnapshotOptions,
  type HubProgress,
} from '../src/io/hub.js';
import { defaultHubCacheDir, repoFolderName } from '../src/io/hub-cache.js';
import { serializeSafetensors, type TensorRecord } from '../src/io/safetensors.js';
import { readSafetensorsFolder } from '../src/io/sharded.js';
import { closeServer, listenOnLoopback } from './helpers/loopback.js';

// ---- a fake hub: repos held in memory, served over HTTP on 127.0.0.1 -------------------------------------------

interface FakeFile {
  content: Buffer;
  lfs: boolean;
}

interface FakeRepo {
  branches: Record<string, string>;
  commits: Record<string, Record<string, FakeFile>>;
  /** 401 unless this bearer token is sent. */
  token?: string;
  /** 403 GatedRepo unless `token` is sent. */
  gated?: boolean;
  /** 307 to this repo id (a renamed repo). */
  renamedTo?: string;
}

interface SeenRequest {
  method: string;
  path: string;
  host: string;
  authorization?: string;
  range?: string;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const gitSha1 = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const commitHash = (seed: string) => createHash('sha1').update(seed).digest('hex');

class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  readonly requests: SeenRequest[] = [];
  /** The host the LFS redirect points at: another name for this server, standing for the CDN's other host. */
  cdnHost = 'localhost';
  /** sha256 → bytes served instead of the real ones. */
  readonly tampered = new Map<string, Buffer>();
  /** sha256 → size announced instead of the real one. */
  readonly wrongSize = new Map<string, number>();
  ignoreRange = false;
  /** Close the connection after sending this many bytes of a body. */
  cutAfter: number | undefined;
  private server = http.createServer((request, response) => this.handle(request, response));
  port = 0;

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addRepo(repoId: string, files: Record<string, string | Buffer | { lfs: Buffer }>, extra: Partial<FakeRepo> = {}): string {
    const commit = commitHash(`${repoId}-${this.repos.size}-${Object.keys(files).join()}`);
    const fakeFiles: Record<string, FakeFile> = {};
    for (const [name, value] of Object.entries(files)) {
      fakeFiles[name] = Buffer.isBuffer(value) || typeof value === 'string'
        ? { content: Buffer.from(value), lfs: false }
        : { content: value.lfs, lfs: true };
    }
    const existing = this.repos.get(repoId);
    if (existing) {
      existing.commits[commit] = fakeFiles;
      existing.branches.main = commit;
    } else {
      this.repos.set(repoId, { branches: { main: commit }, commits: { [commit]: fakeFiles }, ...extra });
    }
    return commit;
  }

  count(filter: (request: SeenRequest) => boolean = () => true): number {
    return this.requests.filter(filter).length;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push({
      method: request.method ?? '',
      path: url.pathname,
      host: request.headers.host ?? '',
      authorization: request.headers.authorization,
      range: request.headers.range,
    });
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (cdn) return this.serveCdn(cdn[1], request, response);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) return this.serveApi(api[1], decodeURIComponent(api[2]), request, response);
    const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const filename = resolve[4].split('/').map(decodeURIComponent).join('/');
      return this.serveResolve(resolve[2], decodeURIComponent(resolve[3]), filename, request, response, resolve[1] ?? '');
    }
    response.writeHead(404).end();
  }

  /** Checks repo, access and revision as the hub does; returns the commit, or undefined after answering. */
  private access(repoId: string, revision: string, request: http.IncomingMessage, response: http.ServerResponse): [FakeRepo, string] | undefined {
    const repo = this.repos.get(repoId);
    if (!repo) {
      response.writeHead(404, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
      return undefined;
    }
    const authorized = repo.token !== undefined && request.headers.authorization === `Bearer ${repo.token}`;
    if (repo.token !== undefined && !repo.gated && !authorized) {
      response.writeHead(401, { 'x-error-message': 'Invalid username or password.' }).end();
      return undefined;
    }
    if (repo.gated && !authorized) {
      response.writeHead(403, { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access to model is restricted.' }).end();
      return undefined;
    }
    const commit = repo.branches[revision] ?? (repo.commits[revision] ? revision : undefined);
    if (commit === undefined) {
      response.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': 'Invalid rev id' }).end();
      return undefined;
    }
    return [repo, commit];
  }

  private serveResolve(repoId: string, revision: string, filename: string, request: http.IncomingMessage, response: http.ServerResponse, prefix: string): void {
    const renamed = this.repos.get(repoId)?.renamedTo;
    if (renamed) {
      response.writeHead(307, { location: `/${prefix}${renamed}/resolve/${encodeURIComponent(revision)}/${filename}` }).end();
      return;
    }
    const found = this.access(`${prefix}${repoId}`, revision, request, response);
    if (!found) return;
    const [repo, commit] = found;
    const file = repo.commits[commit][filename];
    if (!file) {
      response.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit }).end();
      return;
    }
    if (file.lfs) {
      const hash = sha256(file.content);
      response.writeHead(302, {
        location: `http://${this.cdnHost}:${this.port}/cdn/${hash}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${hash}"`,
        'x-linked-size': String(this.wrongSize.get(hash) ?? file.content.length),
        etag: `"${gitSha1(Buffer.from(`pointer ${hash}`))}"`,
        'content-length': '0',
      }).end();
      return;
    }
    this.sendBytes(file.content, request, response, { 'x-repo-commit': commit, etag: `"${gitSha1(file.content)}"` });
  }

  private serveCdn(hash: string, request: http.IncomingMessage, response: http.ServerResponse): void {
    for (const repo of this.repos.values()) {
      for (const files of Object.values(repo.commits)) {
        for (const file of Object.values(files)) {
          if (file.lfs && sha256(file.content) === hash) {
            return this.sendBytes(this.tampered.get(hash) ?? file.content, request, response, {});
          }
        }
      }
    }
    response.writeHead(404).end();
  }

  private sendBytes(content: Buffer, request: http.IncomingMessage, response: http.ServerResponse, headers: Record<string, string>): void {
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range && !this.ignoreRange) {
      const start = Number(range[1]);
      if (start >= content.length) {
        response.writeHead(416, { ...headers, 'content-range': `bytes */${content.length}` }).end();
        return;
      }
      response.writeHead(206, {
        ...headers,
        'content-length': String(content.length - start),
        'content-range': `bytes ${start}-${content.length - 1}/${content.length}`,
      });
      response.end(request.method === 'HEAD' ? undefined : content.subarray(start));
      return;
    }
    response.writeHead(200, { ...headers, 'content-length': String(content.length) });
    if (this.cutAfter !== undefined && request.method === 'GET') {
      response.write(content.subarray(0, this.cutAfter), () => response.destroy());
      return;
    }
    response.end(request.method === 'HEAD' ? undefined : content);
  }

  private serveApi(repoId: string, revision: string, request: http.IncomingMessage, response: http.ServerResponse): void {
    const found = this.access(repoId, revision, request, response);
    if (!found) return;
    const [repo, commit] = found;
    const siblings = Object.keys(repo.commits[commit]).map((rfilename) => ({ rfilename }));
    const body = JSON.stringify({ _id: 'x', id: repoId, modelId: repoId, sha: commit, private: false, siblings });
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    response.end(body);
  }
}

// ---- fixtures --------------------------------------------------------------------------------------------------

function f32(values: number[]): TensorRecord {
  return { dtype: 'F32', shape: [values.length], data: new Uint8Array(new Float32Array(values).buffer) };
}

const config = JSON.stringify({ model_type: 'llama', hidden_size: 4 });
const tokenizer = JSON.stringify({ version: '1.0', model: { type: 'BPE' } });
const singleWeights = Buffer.from(serializeSafetensors({ 'model.norm.weight': f32([1, 2, 3, 4]) }, { format: 'pt' }));
const shardOne = Buffer.from(serializeSafetensors({ 'a.weight': f32([1, 2]) }, { format: 'pt' }));
const shardTwo = Buffer.from(serializeSafetensors({ 'b.weight': f32([3, 4, 5]) }, { format: 'pt' }));
const shardIndex = JSON.stringify({
  metadata: { total_size: 20 },
  weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' },
});
/** 300 KB of LFS content, so a download arrives in several chunks and can be cut in the middle. */
const bigBlob = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 7919) % 251));

const hub = new FakeHub();
const root = mkdtempSync(path.join(tmpdir(), 'tunekit-hub-'));
let cacheCounter = 0;
let cacheDir = '';
let tinyCommit = '';
let shardedCommit = '';

function options(extra: SnapshotOptions = {}): SnapshotOptions {
  return { endpoint: hub.endpoint, cacheDir, token: false, env: {}, ...extra };
}

function rejectsWith(promise: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TunekitError, String(error));
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

before(async () => {
  await hub.start();
  tinyCommit = hub.addRepo('org/tiny', {
    'config.json': config,
    'tokenizer.json': tokenizer,
    'README.md': '# tiny',
    'model.safetensors': { lfs: singleWeights },
    'nested/deep/big.bin.safetensors': { lfs: bigBlob },
  });
  shardedCommit = hub.addRepo('org/sharded', {
    'config.json': config,
    'generation_config.json': JSON.stringify({ max_new_tokens: 5 }),
    'model.safetensors.index.json': shardIndex,
    'model-00001-of-00002.safetensors': { lfs: shardOne },
    'model-00002-of-00002.safetensors': { lfs: shardTwo },
    'pytorch_model.bin': { lfs: Buffer.from('pickle!') },
  });
  hub.addRepo('org/pickled', {
    'config.json': config,
    'pytorch_model.bin': { lfs: Buffer.from('pickle bytes') },
    'training_args.bin': 'more pickle',
  });
  hub.addRepo('org/private', { 'config.json': config }, { token: 'secret-token' });
  hub.addRepo('org/gated', { 'config.json': config }, { token: 'secret-token', gated: true });
  hub.addRepo('org/old-name', {}, { renamedTo: 'org/tiny' });
  hub.addRepo('org/adapter', {
    'adapter_config.json': JSON.stringify({ peft_type: 'LORA', r: 2 }),
    'adapter_model.safetensors': { lfs: singleWeights },
  });
  hub.addRepo('org/pickled-adapter', {
    'adapter_config.json': JSON.stringify({ peft_type: 'LORA', r: 2 }),
    'adapter_model.bin': { lfs: Buffer.from('pickle') },
  });
  hub.addRepo('datasets/org/data', { 'train.jsonl': '{"a": 1}\n' });
});

after(async () => {
  await hub.stop();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  cacheDir = path.join(root, `cache-${cacheCounter++}`);
  hub.requests.length = 0;
  hub.cdnHost = 'localhost';
  hub.ignoreRange = false;
  hub.cutAfter = undefined;
  hub.tampered.clear();
  hub.wrongSize.clear();
});

const repoRoot = (repoId: string) => path.join(cacheDir, repoFolderName(repoId));

// ---- tests -----------------------------------------------------------------------------------------------------

describe('hubDownload: cache layout of huggingface_hub', () => {
  it('stores a small file as blobs/<git sha1>, links it from snapshots/<commit>, records refs/main', async () => {
    const local = await hubDownload('org/tiny', 'config.json', options());
    assert.equal(local, path.join(repoRoot('org/tiny'), 'snapshots', tinyCommit, 'config.json'));
    assert.equal(readFileSync(local, 'utf8'), config);
    assert.ok(lstatSync(local).isSymbolicLink());
    assert.equal(readlinkSync(local), `../../blobs/${gitSha1(Buffer.from(config))}`);
    assert.equal(readFileSync(path.join(repoRoot('org/tiny'), 'refs', 'main'), 'utf8'), tinyCommit);
    assert.deepEqual(readdirSync(path.join(repoRoot('org/tiny'), 'blobs')), [gitSha1(Buffer.from(config))]);
  });

  it('follows the LFS redirect, names the blob by sha256, links nested files with the right depth', async () => {
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
    assert.equal(readlinkSync(local), `../../../../blobs/${sha256(bigBlob)}`);
    assert.equal(hub.count((request) => request.path.startsWith('/cdn/')), 1);
    assert.equal(hub.count((request) => request.method === 'HEAD'), 1);
  });

  it('does not download again: one HEAD by branch, no request at all by commit hash', async () => {
    await hubDownload('org/tiny', 'model.safetensors', options());
    hub.requests.length = 0;
    const again = await hubDownload('org/tiny', 'model.safetensors', options());
    assert.deepEqual(hub.requests.map((request) => request.method), ['HEAD']);
    hub.requests.length = 0;
    const pinned = await hubDownload('org/tiny', 'model.safetensors', options({ revision: tinyCommit }));
    assert.equal(hub.requests.length, 0);
    assert.equal(pinned, again);
  });

  it('links a cached blob again without downloading it when the snapshot link is gone', async () => {
    const local = await hubDownload('org/tiny', 'model.safetensors', options());
    rmSync(local);
    hub.requests.length = 0;
    assert.equal(await hubDownload('org/tiny', 'model.safetensors', options()), local);
    assert.deepEqual(hub.requests.map((request) => request.method), ['HEAD']);
    assert.deepEqual(readFileSync(local), singleWeights);
  });

  it('reports progress up to the total size', async () => {
    const seen: HubProgress[] = [];
    await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options({ onProgress: (progress) => seen.push(progress) }));
    assert.ok(seen.length >= 2);
    assert.deepEqual(seen.at(-1), { file: 'nested/deep/big.bin.safetensors', downloadedBytes: bigBlob.length, totalBytes: bigBlob.length });
    for (let index = 1; index < seen.length; index++) assert.ok(seen[index].downloadedBytes >= seen[index - 1].downloadedBytes);
  });

  it('builds resolve URLs as huggingface_hub (revision escaped whole, datasets prefixed)', () => {
    assert.equal(hubFileUrl('org/m', 'a b/c.json', { revision: 'refs/pr/1' }), 'https://huggingface.co/org/m/resolve/refs%2Fpr%2F1/a%20b/c.json');
    assert.equal(hubFileUrl('org/d', 'x.csv', { repoType: 'dataset', endpoint: 'http://h/' }), 'http://h/datasets/org/d/resolve/main/x.csv');
    assert.equal(repoFolderName('org/d', 'dataset'), 'datasets--org--d');
  });

  it('downloads from dataset repos into datasets--org--name', async () => {
    const local = await hubDownload('org/data', 'train.jsonl', options({ repoType: 'dataset' }));
    assert.equal(path.relative(cacheDir, local).split(path.sep).slice(0, 2).join('/'), 'datasets--org--data/snapshots');
    assert.equal(readFileSync(local, 'utf8'), '{"a": 1}\n');
  });

  it('follows a relative redirect of a renamed repo', async () => {
    const local = await hubDownload('org/old-name', 'config.json', options());
    assert.equal(readFileSync(local, 'utf8'), config);
    assert.ok(local.includes('models--org--old-name'));
  });

  it('reads the cache folder, endpoint, token and offline switch from the environment', async () => {
    assert.equal(defaultHubCacheDir({ HF_HUB_CACHE: '/a' }), '/a');
    assert.equal(defaultHubCacheDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
    assert.equal(defaultHubCacheDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'huggingface', 'hub'));
    const home = path.join(root, 'hf-home');
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'token'), 'secret-token\n');
    const env = { HF_HOME: home, HF_ENDPOINT: hub.endpoint };
    const local = await hubDownload('org/private', 'config.json', { env });
    assert.equal(local, path.join(home, 'hub', 'models--org--private', 'snapshots', hub.repos.get('org/private')!.branches.main, 'config.json'));
    assert.equal(hub.requests.at(-1)?.authorization, 'Bearer secret-token');
    hub.requests.length = 0;
    await hubDownload('org/private', 'config.json', { env: { ...env, HF_HUB_OFFLINE: '1' } });
    assert.equal(hub.requests.length, 0);
  });
});

describe('hubDownload: tokens and redirects', () => {
  it('sends HF_TOKEN to the hub but not to a CDN on another host', async () => {
    const local = await hubDownload('org/tiny', 'model.safetensors', options({ token: undefined, env: { HF_TOKEN: 'hf_abc' } }));
    assert.deepEqual(readFileSync(local), singleWeights);
    const head = hub.requests.find((request) => request.method === 'HEAD')!;
    const cdn = hub.requests.find((request) => request.path.startsWith('/cdn/'))!;
    assert.equal(head.authorization, 'Bearer hf_abc');
    assert.match(cdn.host, /^localhost:/);
    assert.equal(cdn.authorization, undefined);
  });

  it('keeps the token on a redirect within the hub (a renamed private repo)', async () => {
    hub.addRepo('org/private-old', {}, { renamedTo: 'org/private' });
    const local = await hubDownload('org/private-old', 'config.json', options({ token: 'secret-token' }));
    assert.equal(readFileSync(local, 'utf8'), config);
    assert.deepEqual(hub.requests.map((request) => [request.method, request.path, request.authorization]), [
      ['HEAD', '/org/private-old/resolve/main/config.json', 'Bearer secret-token'],
      ['HEAD', '/org/private/resolve/main/config.json', 'Bearer secret-token'],
      ['GET', '/org/private/resolve/main/config.json', 'Bearer secret-token'],
    ]);
  });
});

describe('hubDownload: offline and unreachable hub', () => {
  it('HF_HUB_OFFLINE=1 resolves from the cache with no request', async () => {
    await hubDownload('org/tiny', 'config.json', options());
    hub.requests.length = 0;
    const local = await hubDownload('org/tiny', 'config.json', options({ env: { HF_HUB_OFFLINE: '1' } }));
    assert.equal(readFileSync(local, 'utf8'), config);
    const byCommit = await hubDownload('org/tiny', 'config.json', options({ offline: true, revision: tinyCommit }));
    assert.equal(byCommit, local);
    assert.equal(hub.requests.length, 0);
  });

  it('offline, a file not cached is a clear error naming repo, file and revision', async () => {
    await rejectsWith(hubDownload('org/tiny', 'tokenizer.json', options({ offline: true })), 'E_HUB_NOT_CACHED', /"org\/tiny"/, /"tokenizer\.json"/, /"main"/, /not in the cache/, /HF_HUB_OFFLINE/);
    await hubDownload('org/tiny', 'config.json', options());
    await rejectsWith(hubDownload('org/tiny', 'tokenizer.json', options({ offline: true })), 'E_HUB_NOT_CACHED', /tokenizer\.json/);
    await rejectsWith(hubDownload('org/tiny', 'config.json', options({ offline: true, revision: 'v2' })), 'E_HUB_NOT_CACHED', /"v2"/);
    assert.equal(hub.count((request) => request.path.includes('tokenizer')), 0);
  });

  it('when the hub cannot be reached, uses the cached file, else names the URL', async () => {
    await hubDownload('org/tiny', 'config.json', options());
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadEndpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const local = await hubDownload('org/tiny', 'config.json', options({ endpoint: deadEndpoint }));
    assert.equal(readFileSync(local, 'utf8'), config);
    await rejectsWith(
      hubDownload('org/tiny', 'tokenizer.json', options({ endpoint: deadEndpoint })),
      'E_HUB_NETWORK',
      new RegExp(`${deadEndpoint.replace(/[.]/g, '\\.')}/org/tiny/resolve/main/tokenizer\\.json`),
      /ECONNREFUSED/,
    );
  });
});

describe('hubDownload: resumable and verified downloads', () => {
  const blobDir = () => path.join(repoRoot('org/tiny'), 'blobs');
  const partialPath = () => path.join(blobDir(), `${sha256(bigBlob)}.incomplete`);

  it('resumes from a partial .incomplete file with a Range request', async () => {
    mkdirSync(blobDir(), { recursive: true });
    writeFileSync(partialPath(), bigBlob.subarray(0, 123_457));
    const seen: HubProgress[] = [];
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options({ onProgress: (progress) => seen.push(progress) }));
    const cdn = hub.requests.filter((request) => request.path.startsWith('/cdn/'));
    assert.deepEqual(cdn.map((request) => request.range), ['bytes=123457-']);
    assert.deepEqual(readFileSync(local), bigBlob);
    assert.equal(existsSync(partialPath()), false);
    assert.equal(seen[0].downloadedBytes, 123_457);
  });

  it('keeps what arrived before a broken connection and resumes from it on the next call', async () => {
    hub.cutAfter = 100_000;
    await rejectsWith(hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options()), 'E_HUB_NETWORK', /broke off/, /run again to resume/);
    assert.equal(readFileSync(partialPath()).length, 100_000);
    hub.cutAfter = undefined;
    hub.requests.length = 0;
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
    assert.deepEqual(hub.requests.filter((request) => request.path.startsWith('/cdn/')).map((request) => request.range), ['bytes=100000-']);
  });

  it('detects a corrupt partial file through the sha256 of the whole blob', async () => {
    mkdirSync(blobDir(), { recursive: true });
    writeFileSync(partialPath(), Buffer.alloc(5000, 7));
    await rejectsWith(hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options()), 'E_HUB_CHECKSUM', /sha256/);
    assert.deepEqual(readdirSync(blobDir()), []);
  });

  it('starts over when the server ignores the Range header (200 instead of 206)', async () => {
    hub.ignoreRange = true;
    mkdirSync(blobDir(), { recursive: true });
    writeFileSync(partialPath(), bigBlob.subarray(0, 1000));
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
  });

  it('starts over when the partial file is longer than the blob (416)', async () => {
    mkdirSync(blobDir(), { recursive: true });
    writeFileSync(partialPath(), Buffer.concat([bigBlob, Buffer.from('junk')]));
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
  });

  it('finishes without a request for the bytes when the partial file is already complete', async () => {
    mkdirSync(blobDir(), { recursive: true });
    writeFileSync(partialPath(), bigBlob);
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
    assert.equal(hub.count((request) => request.path.startsWith('/cdn/')), 0);
  });

  it('detects a sha256 mismatch and keeps nothing of the bad download', async () => {
    const bad = Buffer.from(bigBlob);
    bad[150_000] ^= 0xff;
    hub.tampered.set(sha256(bigBlob), bad);
    await rejectsWith(
      hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options()),
      'E_HUB_CHECKSUM',
      /sha256/,
      new RegExp(sha256(bigBlob)),
      /nested\/deep\/big\.bin\.safetensors/,
    );
    assert.deepEqual(readdirSync(blobDir()), []);
    assert.equal(existsSync(path.join(repoRoot('org/tiny'), 'snapshots', tinyCommit, 'nested')), false);
    hub.tampered.clear();
    const local = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(readFileSync(local), bigBlob);
  });

  it('refuses, before writing, a Content-Length other than the size the hub announced', async () => {
    hub.wrongSize.set(sha256(singleWeights), singleWeights.length + 10);
    await rejectsWith(
      hubDownload('org/tiny', 'model.safetensors', options()),
      'E_HUB_CHECKSUM',
      new RegExp(`expected ${singleWeights.length + 10} bytes, the Content-Length header of \\S+ announces ${singleWeights.length}; refused before writing`),
    );
    assert.deepEqual(readdirSync(blobDir()), []);
  });

  it('downloads a blob once when asked for it twice at the same time', async () => {
    const [first, second] = await Promise.all([
      hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options()),
      hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options()),
    ]);
    assert.equal(first, second);
    assert.deepEqual(readFileSync(first), bigBlob);
    assert.equal(hub.count((request) => request.path.startsWith('/cdn/')), 1);
  });
});

describe('hub errors', () => {
  it('401: not authorized, set HF_TOKEN', async () => {
    await rejectsWith(hubDownload('org/private', 'config.json', options()), 'E_HUB_UNAUTHORIZED', /"org\/private"/, /401/, /set HF_TOKEN/);
    await rejectsWith(hubDownload('org/private', 'config.json', options({ token: 'wrong' })), 'E_HUB_UNAUTHORIZED', /token sent was refused/);
    const local = await hubDownload('org/private', 'config.json', options({ token: 'secret-token' }));
    assert.equal(readFileSync(local, 'utf8'), config);
  });

  it('403 GatedRepo: accept the terms on the hub and set HF_TOKEN', async () => {
    await rejectsWith(
      hubDownload('org/gated', 'config.json', options()),
      'E_HUB_GATED',
      /"org\/gated" is gated/,
      /accept its terms/,
      new RegExp(`${hub.endpoint.replace(/[.]/g, '\\.')}/org/gated `),
      /HF_TOKEN/,
    );
  });

  it('404: repo, revision and file not found are told apart', async () => {
    await rejectsWith(hubDownload('org/nothing', 'config.json', options()), 'E_HUB_REPO_NOT_FOUND', /"org\/nothing" not found/);
    await rejectsWith(hubDownload('org/tiny', 'config.json', options({ revision: 'v9' })), 'E_HUB_REVISION_NOT_FOUND', /"org\/tiny" has no revision "v9"/);
    await rejectsWith(hubDownload('org/tiny', 'missing.json', options()), 'E_HUB_ENTRY_NOT_FOUND', /"org\/tiny" has no file "missing\.json" at revision "main"/);
    // recorded as huggingface_hub records it
    assert.ok(existsSync(path.join(repoRoot('org/tiny'), '.no_exist', tinyCommit, 'missing.json')));
  });

  it('refuses repo ids, file names and revisions that would leave the cache', async () => {
    await rejectsWith(hubDownload('../etc', 'config.json', options()), 'E_HUB_INVALID');
    await rejectsWith(hubDownload('org/tiny', '../../x', options()), 'E_HUB_INVALID');
    await rejectsWith(hubDownload('org/tiny', 'config.json', options({ revision: '../x' })), 'E_HUB_INVALID');
    assert.equal(hub.requests.length, 0);
  });
});

describe('hubFileExists', () => {
  it('answers with one HEAD request, and from the cache offline', async () => {
    assert.equal(await hubFileExists('org/tiny', 'config.json', options()), true);
    assert.equal(await hubFileExists('org/tiny', 'nope.json', options()), false);
    assert.deepEqual(hub.requests.map((request) => request.method), ['HEAD', 'HEAD']);
    await rejectsWith(hubFileExists('org/nothing', 'config.json', options()), 'E_HUB_REPO_NOT_FOUND');
    assert.equal(await hubFileExists('org/tiny', 'config.json', options({ offline: true })), false);
    await hubDownload('org/tiny', 'config.json', options());
    assert.equal(await hubFileExists('org/tiny', 'config.json', options({ offline: true })), true);
  });
});

describe('snapshotDownload', () => {
  it('downloads every file of the revision the API lists, or those the patterns select', async () => {
    const snapshot = await snapshotDownload('org/sharded', options({ allowPatterns: ['*.json', '*.safetensors'] }));
    assert.equal(snapshot, path.join(repoRoot('org/sharded'), 'snapshots', shardedCommit));
    assert.deepEqual(readdirSync(snapshot).sort(), [
      'config.json',
      'generation_config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    const folder = await readSafetensorsFolder(snapshot);
    assert.deepEqual([...folder.tensors.keys()].sort(), ['a.weight', 'b.weight']);
    assert.equal(hub.count((request) => request.path.startsWith('/api/')), 1);
    assert.equal(readFileSync(path.join(repoRoot('org/sharded'), 'refs', 'main'), 'utf8'), shardedCommit);

    const second = await snapshotDownload('org/sharded', options({ ignorePatterns: ['*.bin', 'model-*'] }));
    assert.equal(second, snapshot);
    assert.ok(!readdirSync(snapshot).includes('pytorch_model.bin'));
    hub.requests.length = 0;
    assert.equal(await snapshotDownload('org/sharded', options({ offline: true })), snapshot);
    assert.equal(hub.requests.length, 0);
    await rejectsWith(snapshotDownload('org/tiny', options({ offline: true })), 'E_HUB_NOT_CACHED', /"org\/tiny"/);
  });

  it('matches patterns as fnmatch does', () => {
    assert.ok(matchesPattern('a/b/c.json', '*.json'));
    assert.ok(matchesPattern('model-00001-of-00002.safetensors', 'model-?????-of-*.safetensors'));
    assert.ok(matchesPattern('onnx/model.onnx', 'onnx/'));
    assert.ok(matchesPattern('x1.bin', 'x[0-9].bin'));
    assert.ok(!matchesPattern('xa.bin', 'x[!a-z].bin'));
    assert.ok(!matchesPattern('config.json5', '*.json'));
    assert.ok(matchesPattern('a+b(c).json', 'a+b(c).*'));
  });
});

describe('resolveModelSource', () => {
  it('returns a local folder as it is, without any request', async () => {
    const local = path.join(root, 'local-model');
    mkdirSync(local, { recursive: true });
    assert.equal(await resolveModelSource(local, options()), local);
    assert.equal(hub.requests.length, 0);
    await rejectsWith(resolveModelSource(path.join(root, 'missing-folder'), options()), 'E_NOT_FOUND', /no such folder/);
    await rejectsWith(resolveModelSource('./not-here', options()), 'E_NOT_FOUND');
  });

  it('downloads config, tokenizer and single-file weights, nothing else', async () => {
    const snapshot = await resolveModelSource('org/tiny', options());
    assert.equal(snapshot, path.join(repoRoot('org/tiny'), 'snapshots', tinyCommit));
    assert.deepEqual(readdirSync(snapshot).sort(), ['config.json', 'model.safetensors', 'tokenizer.json']);
    hub.requests.length = 0;
    assert.equal(await resolveModelSource('org/tiny', options()), snapshot);
    assert.deepEqual(hub.requests.map((request) => `${request.method} ${request.path}`), [`GET /api/models/org/tiny/revision/main`]);
    hub.requests.length = 0;
    assert.equal(await resolveModelSource('org/tiny', options({ env: { HF_HUB_OFFLINE: 'true' } })), snapshot);
    assert.equal(hub.requests.length, 0);
  });

  it('downloads the index and every shard it lists, not the pickle file beside them', async () => {
    const snapshot = await resolveModelSource('org/sharded', options());
    assert.deepEqual(readdirSync(snapshot).sort(), [
      'config.json',
      'generation_config.json',
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    const folder = await readSafetensorsFolder(snapshot);
    assert.deepEqual([...folder.tensors.get('b.weight')!.shape], [3]);
    assert.equal(await resolveModelSource('org/sharded', options({ offline: true })), snapshot);
  });

  it('offline, an incomplete snapshot names the missing file', async () => {
    await hubDownload('org/sharded', 'config.json', options());
    await hubDownload('org/sharded', 'model.safetensors.index.json', options());
    await hubDownload('org/sharded', 'model-00001-of-00002.safetensors', options());
    await rejectsWith(resolveModelSource('org/sharded', options({ offline: true })), 'E_HUB_NOT_CACHED', /"model-00002-of-00002\.safetensors"/);
    await rejectsWith(resolveModelSource('org/tiny', options({ offline: true })), 'E_HUB_NOT_CACHED', /"org\/tiny"/);
  });

  it('refuses a repo with only pickle weights, saying why and what to do', async () => {
    await rejectsWith(
      resolveModelSource('org/pickled', options()),
      'E_HUB_PICKLE_ONLY',
      /pytorch_model\.bin/,
      /only safetensors/,
      /can run arbitrary code/,
      /safe_serialization=True/,
      /revision/,
    );
    assert.equal(hub.count((request) => request.path.endsWith('.bin')), 0);
  });

  it('passes hub errors through', async () => {
    await rejectsWith(resolveModelSource('org/gated', options()), 'E_HUB_GATED');
    await rejectsWith(resolveModelSource('org/nothing', options()), 'E_HUB_REPO_NOT_FOUND');
    await rejectsWith(resolveModelSource('org/tiny', options({ revision: 'nope' })), 'E_HUB_REVISION_NOT_FOUND', /"nope"/);
    await rejectsWith(resolveModelSource('org/adapter', options()), 'E_HUB_NOT_A_MODEL', /adapter/);
  });
});

describe('resolveAdapterSource', () => {
  it('downloads adapter_config.json and adapter_model.safetensors', async () => {
    const snapshot = await resolveAdapterSource('org/adapter', options());
    assert.deepEqual(readdirSync(snapshot).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    assert.equal(await resolveAdapterSource('org/adapter', options({ offline: true })), snapshot);
  });

  it('refuses pickle-only adapters and full models', async () => {
    await rejectsWith(resolveAdapterSource('org/pickled-adapter', options()), 'E_HUB_PICKLE_ONLY', /adapter_model\.bin/, /adapter_model\.safetensors/);
    await rejectsWith(resolveAdapterSource('org/tiny', options()), 'E_HUB_NOT_AN_ADAPTER', /full model/);
  });
});

// ---- the Python library reads what we cache, and we read what it caches -----------------------------------------

/** A Python with huggingface_hub (TUNEKIT_HF_PYTHON, else python3), or null: these tests then skip. */
function pythonWithHub(): string | null {
  const python = process.env.TUNEKIT_HF_PYTHON ?? 'python3';
  return spawnSync(python, ['-c', 'import huggingface_hub'], { stdio: 'ignore' }).status === 0 ? python : null;
}

const PYTHON_SCRIPT = `
import json, sys
from huggingface_hub import hf_hub_download, scan_cache_dir
mode, cache = sys.argv[1], sys.argv[2]
offline = mode == "read"
out = {name: hf_hub_download("org/tiny", name, cache_dir=cache, local_files_only=offline)
       for name in ["config.json", "nested/deep/big.bin.safetensors"]}
if offline:
    info = scan_cache_dir(cache)
    out["warnings"] = [str(warning) for warning in info.warnings]
    out["repos"] = [[repo.repo_id, sorted(repo.refs), sorted(str(f.file_path) for rev in repo.revisions for f in rev.files)]
                    for repo in info.repos]
print(json.dumps(out))
`;

describe('cache shared with Python huggingface_hub', { skip: pythonWithHub() === null && 'no python with huggingface_hub' }, () => {
  const runPython = async (mode: 'download' | 'read'): Promise<Record<string, unknown>> => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: root,
      HF_HOME: path.join(root, 'python-hf-home'),
      HF_ENDPOINT: hub.endpoint,
      HF_HUB_DISABLE_TELEMETRY: '1',
      HF_HUB_DISABLE_XET: '1',
      ...(mode === 'read' ? { HF_HUB_OFFLINE: '1' } : {}),
    };
    const { stdout } = await promisify(execFile)(pythonWithHub()!, ['-c', PYTHON_SCRIPT, mode, cacheDir], { env });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };

  it('Python finds offline what tunekit downloaded, and sees a healthy cache', async () => {
    const config = await hubDownload('org/tiny', 'config.json', options());
    const weights = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    hub.requests.length = 0;
    const seen = await runPython('read');
    assert.equal(hub.requests.length, 0);
    assert.equal(seen['config.json'], config);
    assert.equal(seen['nested/deep/big.bin.safetensors'], weights);
    assert.deepEqual(seen.warnings, []);
    assert.deepEqual(seen.repos, [['org/tiny', ['main'], [config, weights].sort()]]);
  });

  it('tunekit finds offline what Python downloaded', async () => {
    const downloaded = await runPython('download');
    hub.requests.length = 0;
    assert.equal(await hubDownload('org/tiny', 'config.json', options({ offline: true })), downloaded['config.json']);
    const weights = await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options({ offline: true }));
    assert.equal(weights, downloaded['nested/deep/big.bin.safetensors']);
    assert.deepEqual(readFileSync(weights), bigBlob);
    // and online it agrees with Python's blob names, so nothing is fetched again
    await hubDownload('org/tiny', 'nested/deep/big.bin.safetensors', options());
    assert.deepEqual(hub.requests.map((request) => request.method), ['HEAD']);
  });
});
