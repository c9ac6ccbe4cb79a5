// A stand-in for huggingface.co on 127.0.0.1: model and dataset repos whose files are buffers or files on disk,
// served as the hub serves them (the revision listing API, and resolve with HEAD and GET, git-sha1 ETags).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { closeServer, listenOnLoopback } from './loopback.js';

export type RepoKind = 'model' | 'dataset';
/** A file's content, or the path of a file on disk to serve (read when first asked for). */
export type RepoFile = Buffer | { path: string };

const gitSha1 = (data: Buffer): string => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

export class FakeHub {
  private readonly repos = new Map<string, { commit: string; files: Record<string, RepoFile> }>();
  private readonly loaded = new Map<string, Buffer>();
  readonly requests: string[] = [];
  private readonly server = http.createServer((request, response) => this.handle(request, response));
  private port = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  add(kind: RepoKind, repoId: string, files: Record<string, RepoFile>): void {
    const commit = createHash('sha1').update(`${kind}:${repoId}:${Object.keys(files).join()}`).digest('hex');
    this.repos.set(`${kind}:${repoId}`, { commit, files });
  }

  private content(key: string, file: RepoFile): Buffer {
    if (Buffer.isBuffer(file)) return file;
    if (!this.loaded.has(key)) this.loaded.set(key, readFileSync(file.path));
    return this.loaded.get(key)!;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push(`${request.method} ${url.pathname}`);
    const api = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const kind: RepoKind = (api ? api[1] === 'datasets' : resolve?.[1] !== undefined) ? 'dataset' : 'model';
    const repoId = api?.[2] ?? resolve?.[2];
    const revision = decodeURIComponent(api?.[3] ?? resolve?.[3] ?? '');
    const repo = repoId === undefined ? undefined : this.repos.get(`${kind}:${repoId}`);
    if (repo === undefined) return void response.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
    if (revision !== 'main' && revision !== repo.commit) return void response.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
    if (api) {
      const body = JSON.stringify({ id: repoId, sha: repo.commit, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    const name = resolve![4].split('/').map(decodeURIComponent).join('/');
    const file = repo.files[name];
    if (file === undefined) return void response.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': repo.commit }).end();
    const data = this.content(`${kind}:${repoId}/${name}`, file);
    response.writeHead(200, { 'x-repo-commit': repo.commit, etag: `"${gitSha1(data)}"`, 'content-length': String(data.length) });
    response.end(request.method === 'HEAD' ? undefined : data);
  }
}
