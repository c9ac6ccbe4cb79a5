/**
 * The hub client against a hostile server: a fake hub on 127.0.0.1 (a free port) whose every answer the test
 * chooses, and a second loopback server on another port standing for another host. Each refusal must be a
 * TunekitError with a one-line message naming the file, header or variable at fault, and nothing outside the cache
 * folder may change (the test folder around it is compared before and after).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { TunekitError } from '../src/errors.js';
import { hubDownload, resolveModelSource, snapshotDownload, type SnapshotOptions } from '../src/io/hub.js';
import { repoFolderName } from '../src/io/hub-cache.js';
import { closeServer, listenOnLoopback } from './helpers/loopback.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const gitSha1 = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const COMMIT = createHash('sha1').update('hostile').digest('hex');
/** Any test that makes more requests than this is looping: the server answers 500 from then on. */
const MAX_REQUESTS = 40;

interface SeenRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => void;

class Server {
  readonly requests: SeenRequest[] = [];
  handler: Handler = (_request, response) => response.writeHead(404).end();
  private server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push({ method: request.method ?? '', path: url.pathname, authorization: request.headers.authorization, range: request.headers.range });
    if (this.requests.length > MAX_REQUESTS) {
      response.writeHead(500).end();
      return;
    }
    this.handler(request, response, url);
  });
  port = 0;

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  count(method: string): number {
    return this.requests.filter((request) => request.method === method).length;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

const hub = new Server();
const other = new Server();
const root = mkdtempSync(path.join(tmpdir(), 'tunekit-hub-hostile-'));
let counter = 0;
/** The folder a test may not change outside `cacheDir`; it holds `outside/` with a file an attack would overwrite. */
let work = '';
/** Deep enough that `../../../../../x` from the blobs folder still lands inside `work`, where it would be seen. */
let cacheDir = '';
let outside = '';

function options(extra: SnapshotOptions = {}): SnapshotOptions {
  return { endpoint: hub.origin, cacheDir, token: false, env: {}, idleTimeoutMs: 2000, ...extra };
}

const repoRoot = () => path.join(cacheDir, repoFolderName('org/repo'));

/** Every entry under `folder` but the cache: kind, size, modification time, link target. */
function treeOutsideCache(folder: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const full = path.join(current, name);
      if (full === cacheDir) continue;
      const info = lstatSync(full);
      const relative = path.relative(folder, full);
      if (info.isSymbolicLink()) entries[relative] = `link ${readlinkSync(full)}`;
      else if (info.isDirectory()) {
        entries[relative] = 'folder';
        walk(full);
      } else entries[relative] = `file ${info.size} ${info.mtimeMs}`;
    }
  };
  walk(folder);
  return entries;
}

/** Runs `action`, which must fail with `code` and a one-line message matching `patterns`, changing nothing outside the cache. */
async function refused(action: () => Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<TunekitError> {
  const before = treeOutsideCache(work);
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TunekitError, `expected a TunekitError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(!caught.message.includes('\n'), `not one line: ${caught.message}`);
  for (const pattern of patterns) assert.match(caught.message, pattern);
  assert.deepEqual(treeOutsideCache(work), before, 'something outside the cache changed');
  return caught;
}

function sendListing(response: http.ServerResponse, files: string[]): void {
  const body = JSON.stringify({ id: 'org/repo', sha: COMMIT, siblings: files.map((rfilename) => ({ rfilename })) });
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body);
}

/** A hub that serves `files` honestly (git sha1 ETags, ranges) unless `override` answers a request first. */
function honestHub(files: Record<string, Buffer>, override?: (request: http.IncomingMessage, response: http.ServerResponse, filename: string) => boolean): Handler {
  return (request, response, url) => {
    if (url.pathname === `/api/models/org/repo/revision/main`) return sendListing(response, Object.keys(files));
    const match = /^\/org\/repo\/resolve\/[^/]+\/(.+)$/.exec(url.pathname);
    const filename = match ? match[1].split('/').map(decodeURIComponent).join('/') : '';
    if (override?.(request, response, filename)) return;
    const content = files[filename];
    if (content === undefined) {
      response.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': COMMIT }).end();
      return;
    }
    const headers = { 'x-repo-commit': COMMIT, etag: `"${gitSha1(content)}"` };
    const start = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1] ?? 0);
    if (start > 0) {
      response.writeHead(206, { ...headers, 'content-length': String(content.length - start), 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` });
    } else response.writeHead(200, { ...headers, 'content-length': String(content.length) });
    response.end(request.method === 'HEAD' ? undefined : content.subarray(start));
  };
}

/** An LFS-like file: the HEAD names it by sha256; the GET is answered by `sendBody`. */
function lfsHub(content: Buffer, sendBody: (request: http.IncomingMessage, response: http.ServerResponse) => void, headHeaders: Record<string, string> = {}): Handler {
  return (request, response, url) => {
    if (url.pathname !== '/org/repo/resolve/main/weights.safetensors') return void response.writeHead(404).end();
    if (request.method === 'HEAD') {
      response.writeHead(200, { 'x-repo-commit': COMMIT, 'x-linked-etag': `"${sha256(content)}"`, 'x-linked-size': String(content.length), ...headHeaders }).end();
      return;
    }
    sendBody(request, response);
  };
}

const config = Buffer.from(JSON.stringify({ model_type: 'llama' }));
const big = Buffer.from(Array.from({ length: 200_000 }, (_, index) => (index * 31) % 253));

before(async () => {
  await hub.start();
  await other.start();
});

after(async () => {
  await hub.stop();
  await other.stop();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  work = path.join(root, `test-${counter++}`);
  cacheDir = path.join(work, 'd1', 'd2', 'd3', 'cache');
  outside = path.join(work, 'outside');
  mkdirSync(outside, { recursive: true });
  mkdirSync(path.dirname(cacheDir), { recursive: true });
  writeFileSync(path.join(outside, 'precious.txt'), 'do not overwrite');
  hub.requests.length = 0;
  other.requests.length = 0;
  hub.handler = honestHub({ 'config.json': config });
  other.handler = (_request, response) => response.writeHead(404).end();
});

describe('hostile ETags', () => {
  for (const etag of ['../../../../../x', '/tmp/x', '../../x', 'not-a-digest', 'A'.repeat(40), `${'a'.repeat(40)}/../x`]) {
    it(`refuses the ETag ${JSON.stringify(etag)} before any byte is fetched`, async () => {
      hub.handler = honestHub({ 'config.json': config }, (request, response) => {
        response.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${etag}"`, 'content-length': String(config.length) });
        response.end(request.method === 'HEAD' ? undefined : config);
        return true;
      });
      await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_BAD_RESPONSE', /ETag header/, /config\.json/, /40 or 64/);
      assert.deepEqual(hub.requests.map((request) => request.method), ['HEAD']);
      assert.equal(existsSync(path.join(repoRoot(), 'blobs')), false);
    });
  }

  it('refuses a traversal in X-Linked-Etag (the LFS header) too', async () => {
    hub.handler = lfsHub(big, (_request, response) => response.end(big), { 'x-linked-etag': '"../../../../../x"' });
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options()), 'E_HUB_BAD_RESPONSE', /X-Linked-Etag header/, /weights\.safetensors/);
  });
});

describe('hostile file names', () => {
  for (const name of ['../x', '/etc/x', 'a\\..\\..\\x', 'a//b', '', 'a/./b', 'C:evil']) {
    it(`refuses the whole listing when a sibling is named ${JSON.stringify(name)}`, async () => {
      hub.handler = (_request, response, url) =>
        url.pathname.startsWith('/api/') ? sendListing(response, ['config.json', name]) : response.writeHead(404).end();
      await refused(() => snapshotDownload('org/repo', options()), 'E_HUB_INVALID', /"rfilename" of a sibling/, /\/api\/models\/org\/repo/);
      await refused(() => resolveModelSource('org/repo', options()), 'E_HUB_INVALID', /rfilename/);
      assert.equal(hub.count('HEAD'), 0);
    });
  }

  it('refuses to write through a symlink already in the snapshot folder', async () => {
    hub.handler = honestHub({ 'sub/evil.json': config });
    const snapshot = path.join(repoRoot(), 'snapshots', COMMIT);
    mkdirSync(snapshot, { recursive: true });
    symlinkSync(outside, path.join(snapshot, 'sub'));
    const error = await refused(() => snapshotDownload('org/repo', options()), 'E_HUB_UNSAFE_PATH', /is a symlink/, /sub/);
    assert.ok(error.message.includes(path.join(snapshot, 'sub')));
    assert.deepEqual(readdirSync(outside), ['precious.txt']);
  });

  it('refuses a blobs folder that is a symlink, and a partial file that is a symlink', async () => {
    mkdirSync(repoRoot(), { recursive: true });
    symlinkSync(outside, path.join(repoRoot(), 'blobs'));
    await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_UNSAFE_PATH', /blobs: is a symlink/);
    rmSync(path.join(repoRoot(), 'blobs'));
    mkdirSync(path.join(repoRoot(), 'blobs'));
    symlinkSync(path.join(outside, 'precious.txt'), path.join(repoRoot(), 'blobs', `${gitSha1(config)}.incomplete`));
    await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_UNSAFE_PATH', /\.incomplete: is a symlink/);
    assert.equal(readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'do not overwrite');
  });

  it('refuses a file listed both as a file and as a folder, without a raw fs error', async () => {
    hub.handler = honestHub({ a: config, 'a/b': config });
    await refused(() => snapshotDownload('org/repo', options()), 'E_HUB_UNSAFE_PATH', /a: is a symlink/);
  });

  for (const shard of ['../x.safetensors', '/tmp/x.safetensors', 'sub/x.safetensors', 'a\\x.safetensors', '..']) {
    it(`refuses the shard name ${JSON.stringify(shard)} in model.safetensors.index.json`, async () => {
      const index = Buffer.from(JSON.stringify({ weight_map: { 'a.weight': shard } }));
      hub.handler = honestHub({ 'config.json': config, 'model.safetensors.index.json': index, 'x.safetensors': config });
      await refused(() => resolveModelSource('org/repo', options()), 'E_SAFETENSORS_INDEX', /model\.safetensors\.index\.json/, /weight_map\["a\.weight"\]/);
      assert.equal(hub.requests.some((request) => request.path.includes('x.safetensors')), false);
    });
  }
});

describe('redirects', () => {
  it('follows a redirect to another host for the bytes, without the token', async () => {
    hub.handler = (_request, response) => {
      response.writeHead(302, { location: `${other.origin}/cdn/blob`, 'x-repo-commit': COMMIT, 'x-linked-etag': `"${sha256(big)}"`, 'x-linked-size': String(big.length) }).end();
    };
    other.handler = (_request, response) => response.writeHead(200, { 'content-length': String(big.length) }).end(big);
    const local = await hubDownload('org/repo', 'weights.safetensors', options({ token: 'hf_secret' }));
    assert.deepEqual(readFileSync(local), big);
    assert.equal(hub.requests[0].authorization, 'Bearer hf_secret');
    assert.deepEqual(other.requests.map((request) => [request.method, request.authorization]), [['GET', undefined]]);
  });

  it('does not send the token again when another host redirects back to the hub', async () => {
    hub.handler = honestHub({ 'config.json': config }, (request, response) => {
      if (request.method !== 'HEAD' || request.headers['x-back'] !== undefined) return false;
      response.writeHead(302, { location: `${other.origin}/cdn/config`, 'x-repo-commit': COMMIT, etag: `"${gitSha1(config)}"`, 'content-length': '0' }).end();
      return true;
    });
    other.handler = (_request, response) => response.writeHead(302, { location: `${hub.origin}/org/repo/resolve/main/config.json` }).end();
    const local = await hubDownload('org/repo', 'config.json', options({ token: 'hf_secret' }));
    assert.deepEqual(readFileSync(local), config);
    assert.deepEqual(hub.requests.map((request) => [request.method, request.authorization]), [['HEAD', 'Bearer hf_secret'], ['GET', undefined]]);
  });

  it('refuses a file list redirected to another host', async () => {
    hub.handler = (_request, response) => response.writeHead(302, { location: `${other.origin}/api/models/org/repo/revision/main` }).end();
    other.handler = (_request, response) => sendListing(response, ['config.json']);
    await refused(() => snapshotDownload('org/repo', options({ token: 'hf_secret' })), 'E_HUB_BAD_RESPONSE', /another origin/, /Location header/);
    assert.equal(other.requests.length, 0);
  });

  for (const location of ['file:///etc/passwd', 'data:text/plain,owned', 'ftp://127.0.0.1/x']) {
    it(`refuses a redirect to ${location}`, async () => {
      hub.handler = honestHub({ 'config.json': config }, (request, response) => {
        if (request.method === 'HEAD') return false;
        response.writeHead(302, { location }).end();
        return true;
      });
      await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_BAD_RESPONSE', /Location header/, /only http\(s\) redirects/);
      assert.equal(existsSync(path.join(repoRoot(), 'snapshots')), false);
    });
  }

  it('stops after 10 redirects', async () => {
    hub.handler = honestHub({ 'config.json': config }, (request, response) => {
      if (request.method === 'HEAD') return false;
      response.writeHead(302, { location: `${other.origin}/loop` }).end();
      return true;
    });
    other.handler = (_request, response) => response.writeHead(302, { location: `${other.origin}/loop` }).end();
    await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_NETWORK', /more than 10 redirects/);
    assert.ok(other.requests.length <= 10);
  });
});

describe('sizes', () => {
  it('refuses a huge Content-Length before writing a byte', async () => {
    hub.handler = lfsHub(big, (_request, response) => {
      response.writeHead(200, { 'content-length': String(10 ** 12) });
      response.write(big.subarray(0, 1000));
    });
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options()), 'E_HUB_CHECKSUM', /Content-Length header/, /announces 1000000000000/, /refused before writing/);
    assert.deepEqual(readdirSync(path.join(repoRoot(), 'blobs')), []);
  });

  it('refuses a size above maxFileBytes, announced by the HEAD or by the GET alone', async () => {
    hub.handler = lfsHub(big, (_request, response) => response.end(big), { 'x-linked-size': String(10 ** 15) });
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options()), 'E_HUB_TOO_LARGE', /weights\.safetensors/, /maxFileBytes/);
    assert.equal(hub.count('GET'), 0);
    hub.handler = honestHub({ 'config.json': config }, (request, response) => {
      response.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${gitSha1(config)}"`, ...(request.method === 'GET' ? { 'content-length': String(10 ** 12) } : {}) });
      if (request.method === 'HEAD') response.end();
      else response.flushHeaders(); // and no body: the client must refuse on the header alone
      return true;
    });
    await refused(() => hubDownload('org/repo', 'config.json', options({ maxFileBytes: 1 << 20 })), 'E_HUB_TOO_LARGE', /Content-Length header/, /maxFileBytes \(1048576\)/);
  });

  it('writes nothing past the expected size of a body longer than announced', async () => {
    const small = big.subarray(0, 100);
    hub.handler = lfsHub(small, (_request, response) => {
      response.writeHead(200); // chunked: no Content-Length to stop the client
      response.write(small);
      response.end(Buffer.alloc(100_000, 1));
    });
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options()), 'E_HUB_CHECKSUM', /more than the 100 bytes expected/, /weights\.safetensors/);
    assert.deepEqual(readdirSync(path.join(repoRoot(), 'blobs')), []);
  });

  it('with no size announced anywhere, stops at maxFileBytes', async () => {
    hub.handler = honestHub({ 'config.json': config }, (request, response) => {
      response.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${gitSha1(config)}"` });
      if (request.method === 'HEAD') response.end();
      else response.end(Buffer.alloc(50_000, 2));
      return true;
    });
    await refused(() => hubDownload('org/repo', 'config.json', options({ maxFileBytes: 10_000 })), 'E_HUB_CHECKSUM', /more than the 10000 bytes maxFileBytes allows/);
    assert.deepEqual(readdirSync(path.join(repoRoot(), 'blobs')), []);
  });
});

describe('stalls and drips', { timeout: 30_000 }, () => {
  it('a body that stalls fails after idleTimeoutMs, leaving a partial file the next call resumes', async () => {
    const half = 100_000;
    hub.handler = lfsHub(big, (request, response) => {
      if (request.headers.range) {
        const start = Number(/^bytes=(\d+)-$/.exec(request.headers.range)![1]);
        response.writeHead(206, { 'content-length': String(big.length - start), 'content-range': `bytes ${start}-${big.length - 1}/${big.length}` });
        response.end(big.subarray(start));
        return;
      }
      response.writeHead(200, { 'content-length': String(big.length) });
      response.write(big.subarray(0, half)); // and then nothing, the connection left open
    });
    const started = Date.now();
    await refused(
      () => hubDownload('org/repo', 'weights.safetensors', options({ idleTimeoutMs: 300 })),
      'E_HUB_NETWORK',
      /weights\.safetensors/,
      /no data for 0\.3 s \(idleTimeoutMs\)/,
      /run again to resume from .*\.incomplete/,
    );
    assert.ok(Date.now() - started < 5000);
    const partial = path.join(repoRoot(), 'blobs', `${sha256(big)}.incomplete`);
    assert.deepEqual(readFileSync(partial), big.subarray(0, half));
    const local = await hubDownload('org/repo', 'weights.safetensors', options({ idleTimeoutMs: 300 }));
    assert.deepEqual(readFileSync(local), big);
    assert.deepEqual(hub.requests.filter((request) => request.method === 'GET').map((request) => request.range), [undefined, `bytes=${half}-`]);
  });

  it('a slow drip completes when each byte comes within idleTimeoutMs, and fails when not', async () => {
    const small = big.subarray(0, 30);
    const drip = (intervalMs: number) => (_request: http.IncomingMessage, response: http.ServerResponse) => {
      response.writeHead(200, { 'content-length': String(small.length) });
      let sent = 0;
      const timer = setInterval(() => {
        if (response.destroyed || sent === small.length) {
          clearInterval(timer);
          if (!response.destroyed) response.end();
          return;
        }
        response.write(small.subarray(sent, sent + 1));
        sent++;
      }, intervalMs);
      response.on('close', () => clearInterval(timer));
    };
    hub.handler = lfsHub(small, drip(10));
    const local = await hubDownload('org/repo', 'weights.safetensors', options({ idleTimeoutMs: 1000 }));
    assert.deepEqual(readFileSync(local), small);

    cacheDir = path.join(work, 'd1', 'd2', 'd3', 'cache2');
    hub.handler = lfsHub(small, drip(400));
    const started = Date.now();
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options({ idleTimeoutMs: 150 })), 'E_HUB_NETWORK', /idleTimeoutMs/, /run again to resume/);
    assert.ok(Date.now() - started < 5000);
  });
});

describe('content checks', () => {
  it('refuses a regular file whose content is not the git blob its ETag names, keeping nothing under a final name', async () => {
    hub.handler = honestHub({ 'config.json': config }, (request, response) => {
      const forged = Buffer.from(JSON.stringify({ model_type: 'evil' }));
      response.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${gitSha1(config)}"`, 'content-length': String(forged.length) });
      response.end(request.method === 'HEAD' ? undefined : forged);
      return true;
    });
    await refused(() => hubDownload('org/repo', 'config.json', options()), 'E_HUB_CHECKSUM', /git blob sha1/, new RegExp(gitSha1(config)), /config\.json/);
    assert.deepEqual(readdirSync(path.join(repoRoot(), 'blobs')), []);
    assert.equal(existsSync(path.join(repoRoot(), 'snapshots')), false);
  });

  it('refuses an LFS file whose content is not its sha256', async () => {
    hub.handler = lfsHub(big, (_request, response) => response.writeHead(200, { 'content-length': String(big.length) }).end(Buffer.alloc(big.length, 9)));
    await refused(() => hubDownload('org/repo', 'weights.safetensors', options()), 'E_HUB_CHECKSUM', /sha256/, new RegExp(sha256(big)));
    assert.deepEqual(readdirSync(path.join(repoRoot(), 'blobs')), []);
  });
});

describe('HF_ENDPOINT', () => {
  for (const value of ['not a url', 'ftp://example.com', 'file:///etc', 'http://user:pass@127.0.0.1', 'javascript:alert(1)']) {
    it(`refuses HF_ENDPOINT=${JSON.stringify(value)} with one line naming it`, async () => {
      await refused(() => hubDownload('org/repo', 'config.json', { cacheDir, env: { HF_ENDPOINT: value } }), 'E_HUB_INVALID', /^HF_ENDPOINT is /, /http\(s\) URL/);
      await refused(() => resolveModelSource('org/repo', { cacheDir, env: { HF_ENDPOINT: value } }), 'E_HUB_INVALID', /HF_ENDPOINT/);
      assert.equal(existsSync(cacheDir), false);
    });
  }

  it('names the endpoint option when that is what is wrong', async () => {
    await refused(() => snapshotDownload('org/repo', { cacheDir, endpoint: 'nope', env: {} }), 'E_HUB_INVALID', /^the endpoint option is "nope"/);
  });
});
