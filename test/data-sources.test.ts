import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TunekitError } from '../src/errors.js';
import { openDataset, type DatasetRecord, type OpenDatasetOptions } from '../src/data/sources.js';
import { convertedSplitFiles, splitFiles } from '../src/data/sources/hub.js';
import { closeServer, listenOnLoopback } from './helpers/loopback.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test → the repo's test/fixtures/data */
const FIXTURE = path.resolve(here, '../../test/fixtures/data/small.parquet');

const folder = mkdtempSync(path.join(tmpdir(), 'tunekit-data-sources-'));
after(() => rmSync(folder, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const file = path.join(folder, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return file;
}

async function readAll(source: string, options: OpenDatasetOptions = {}): Promise<DatasetRecord[]> {
  const items: DatasetRecord[] = [];
  for await (const item of (await openDataset(source, options)).records()) items.push(item);
  return items;
}

/** Asserts that reading `source` fails with one TunekitError of `code` whose one-line message matches `pattern`. */
async function rejects(source: string, code: string, pattern: RegExp, options: OpenDatasetOptions = {}): Promise<void> {
  await assert.rejects(readAll(source, options), (error: unknown) => {
    assert.ok(error instanceof TunekitError, `not a TunekitError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), `not one line: ${error.message}`);
    return true;
  });
}

const pyarrow = spawnSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0;

describe('CSV and TSV', () => {
  it('reads quoted commas, doubled quotes, embedded newlines, CRLF and a BOM, naming the line each row starts on', async () => {
    const file = write('quoted.csv', '\ufeffprompt,completion\r\n"a, b","say ""hi"""\r\n\r\n"two\nlines",x\r\nplain,\r\n');
    const items = await readAll(file);
    assert.deepEqual(items.map((item) => item.record), [
      { prompt: 'a, b', completion: 'say "hi"' },
      { prompt: 'two\nlines', completion: 'x' },
      { prompt: 'plain', completion: '' },
    ]);
    assert.deepEqual(items.map((item) => item.where), [`${file}:2`, `${file}:4`, `${file}:6`]);
  });

  it('keeps every value a string (no type guessing)', async () => {
    const items = await readAll(write('numbers.csv', 'id,score\n007,1.5\n'));
    assert.deepEqual(items[0].record, { id: '007', score: '1.5' });
  });

  it('reads TSV by extension, and CSV under another name with the format option', async () => {
    const tsv = await readAll(write('data.tsv', 'a\tb\nx, y\t"q\tr"\n'));
    assert.deepEqual(tsv.map((item) => item.record), [{ a: 'x, y', b: 'q\tr' }]);
    const other = await readAll(write('data.txt', 'a,b\n1,2\n'), { format: 'csv' });
    assert.deepEqual(other[0].record, { a: '1', b: '2' });
  });

  it('refuses an unterminated quote, a wrong field count and invalid UTF-8, naming the file and line', async () => {
    const unterminated = write('unterminated.csv', 'a,b\n1,2\n3,"never closed\nmore\n');
    await rejects(unterminated, 'E_DATA_CSV', new RegExp(`^${unterminated}:3: a quoted field .* not closed`));
    const count = write('count.csv', 'a,b\n1,2\n3,4,5\n');
    await rejects(count, 'E_DATA_CSV', new RegExp(`^${count}:3: the row has 3 fields, the header 2`));
    const short = write('short.csv', 'a,b\n1,2\n3\n');
    await rejects(short, 'E_DATA_CSV', new RegExp(`^${short}:3: the row has 1 field, the header 2`));
    assert.deepEqual((await readAll(short, { relaxColumnCount: true }))[1].record, { a: '3', b: null });
    const utf8 = write('utf8.csv', Buffer.concat([Buffer.from('a,b\n1,2\nx,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
    await rejects(utf8, 'E_DATA_UTF8', new RegExp(`^${utf8}:3: invalid UTF-8 at byte 3 of the line \\(0xc3\\)`));
    const quote = write('quote.csv', 'a,b\n1,x"y\n');
    await rejects(quote, 'E_DATA_CSV', new RegExp(`^${quote}:2: a quote inside an unquoted field`));
    const header = write('header.csv', 'a,a\n1,2\n');
    await rejects(header, 'E_DATA_CSV', new RegExp(`^${header}:1: the header names field "a" twice`));
  });

  it('finds invalid UTF-8 split across read chunks', async () => {
    const bytes = Buffer.concat([Buffer.from('a\n'), Buffer.from('é'.repeat(50)), Buffer.from([0xe2, 0x82]), Buffer.from('\n')]);
    const file = write('split-utf8.csv', bytes);
    await rejects(file, 'E_DATA_UTF8', new RegExp(`^${file}:2: invalid UTF-8 at byte 101 `), { chunkBytes: 7 });
    const good = write('split-good.csv', `a\n${'é✓'.repeat(40)}\n`);
    assert.equal((await readAll(good, { chunkBytes: 5 }))[0].record.a, 'é✓'.repeat(40));
  });
});

describe('JSON arrays', () => {
  it('reads a top-level array element by element, naming the line each starts on', async () => {
    const file = write('array.json', '\ufeff[\n  {"prompt": "a [b] {c}", "n": 1},\n  {"prompt": "say \\"]\\"", "list": [1, [2]]}\n]\n');
    const items = await readAll(file, { chunkBytes: 4 });
    assert.deepEqual(items.map((item) => item.record), [{ prompt: 'a [b] {c}', n: 1 }, { prompt: 'say "]"', list: [1, [2]] }]);
    assert.deepEqual(items.map((item) => item.where), [`${file}:2`, `${file}:3`]);
    assert.deepEqual(await readAll(write('empty.json', '[]')), []);
  });

  it('reads the array in a field, named or (when it is the only one) found', async () => {
    const file = write('field.json', '{"version": "1.0", "data": [{"a": 1}, {"a": 2}], "meta": {"x": [3]}}');
    assert.deepEqual((await readAll(file, { field: 'data' })).map((item) => item.record), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual((await readAll(file)).map((item) => item.record), [{ a: 1 }, { a: 2 }]);
    const two = write('two.json', '{"train": [{"a": 1}], "test": [{"a": 2}]}');
    await rejects(two, 'E_DATA_JSON', /several fields holding arrays \("train", "test"\); pass `field`/);
    assert.deepEqual((await readAll(two, { field: 'test' })).map((item) => item.record), [{ a: 2 }]);
    await rejects(file, 'E_DATA_JSON', /has no field "rows"/, { field: 'rows' });
  });

  it('reads JSON Lines held in a .json file, and a lone object as one record, as HF does', async () => {
    const lines = write('lines.json', '{"a": [1]}\n{"a": [2]}\n');
    assert.deepEqual((await readAll(lines)).map((item) => [item.record, item.where]), [[{ a: [1] }, `${lines}:1`], [{ a: [2] }, `${lines}:2`]]);
    assert.deepEqual((await readAll(write('lone.json', '{"a": 1}'))).map((item) => item.record), [{ a: 1 }]);
  });

  it('stops reading at the limit, before a later malformed element', async () => {
    const file = write('limit.json', '[{"a": 1}, {"a": 2}, 3]');
    assert.deepEqual((await readAll(file, { limit: 2 })).map((item) => item.record), [{ a: 1 }, { a: 2 }]);
    const csv = write('limit.csv', 'a\n1\n2\n3\n');
    assert.deepEqual((await readAll(csv, { limit: 2 })).map((item) => item.record), [{ a: '1' }, { a: '2' }]);
    assert.deepEqual(await readAll(csv, { limit: 0 }), []);
  });

  it('refuses an element that is not an object, invalid JSON, truncation and invalid UTF-8, naming file, line and element', async () => {
    const notObject = write('not-object.json', '[{"a": 1},\n "text",\n {"a": 2}]');
    await rejects(notObject, 'E_DATA_JSON', new RegExp(`^${notObject}:2: element 1: expected a JSON object \\(a record\\), found a string`));
    const invalid = write('invalid.json', '[{"a": 1},\n{"a": tru}]');
    await rejects(invalid, 'E_DATA_JSON', new RegExp(`^${invalid}:2: element 1: not valid JSON`));
    const truncated = write('truncated.json', '[{"a": 1},\n{"a": "cut');
    await rejects(truncated, 'E_DATA_JSON', new RegExp(`^${truncated}:2: a object starting here is not closed|^${truncated}:2: an? object starting here is not closed`));
    const utf8 = write('utf8.json', Buffer.concat([Buffer.from('[\n{"a": "'), Buffer.from([0xff]), Buffer.from('"}]')]));
    await rejects(utf8, 'E_DATA_UTF8', new RegExp(`^${utf8}:2: invalid UTF-8 at byte 8 of the line \\(0xff\\)`));
    const trailing = write('trailing.json', '[{"a": 1}] x');
    await rejects(trailing, 'E_DATA_JSON', /unexpected "x" after the end/);
  });
});

describe('JSON Lines', () => {
  it('reads records and refuses a line that is not an object', async () => {
    const file = write('lines.jsonl', '{"a": 1}\n\n{"a": 2}\n[3]\n');
    await rejects(file, 'E_JSONL', new RegExp(`^${file}:4: expected a JSON object \\(a record\\), found an array`));
    assert.deepEqual((await readAll(file, { limit: 2 })).map((item) => [item.record, item.where]), [[{ a: 1 }, `${file}:1`], [{ a: 2 }, `${file}:3`]]);
  });
});

describe('Parquet', () => {
  it('reads the recorded fixture: strings, int64, floats, nulls, booleans, lists, over 3 row groups', async () => {
    const dataset = await openDataset(FIXTURE);
    assert.equal(dataset.count, 7);
    const items = await readAll(FIXTURE);
    assert.equal(items.length, 7);
    assert.deepEqual(items[0].record, { prompt: 'Say hi', id: 1, score: 0.5, ok: true, tags: ['a', 'b'] });
    assert.deepEqual(items[1].record.tags, []);
    assert.deepEqual(items[2].record, { prompt: null, id: 3, score: null, ok: true, tags: null });
    assert.deepEqual(items[3].record, { prompt: 'Ünïcode ✓', id: 4, score: -2, ok: true, tags: ['ü'] });
    assert.equal(items[6].record.id, Number.MAX_SAFE_INTEGER);
    assert.equal(typeof items[6].record.id, 'number');
    assert.equal(items[4].where, `${FIXTURE} row 4`);
  });

  it('projects fields (reading only those columns) and stops at a limit', async () => {
    const items = await readAll(FIXTURE, { fields: ['prompt', 'tags'], limit: 4 });
    assert.deepEqual(items.map((item) => item.record), [
      { prompt: 'Say hi', tags: ['a', 'b'] },
      { prompt: 'Count', tags: [] },
      { prompt: null, tags: null },
      { prompt: 'Ünïcode ✓', tags: ['ü'] },
    ]);
    assert.equal((await openDataset(FIXTURE, { limit: 4 })).count, 4);
    await rejects(FIXTURE, 'E_DATA_PARQUET', /no column "answer"/, { fields: ['answer'] });
  });

  it('refuses a truncated file and a file that is not Parquet, naming the file', async () => {
    const bytes = readFileSync(FIXTURE);
    const truncated = write('truncated.parquet', bytes.subarray(0, bytes.length - 100));
    await assert.rejects(openDataset(truncated), (error: unknown) => {
      assert.ok(error instanceof TunekitError && error.code === 'E_DATA_PARQUET');
      assert.match(error.message, new RegExp(`^${truncated}: not a readable Parquet file, or truncated`));
      assert.ok(!error.message.includes('\n'));
      return true;
    });
    const text = write('text.parquet', 'not parquet at all');
    await assert.rejects(openDataset(text), /text\.parquet: not a readable Parquet file/);
  });

  it('refuses an int64 beyond 2^53 − 1 naming the row and column (pyarrow-written)', { skip: !pyarrow && 'pyarrow is not importable' }, async () => {
    const file = path.join(folder, 'big.parquet');
    const script = `import pyarrow as pa, pyarrow.parquet as pq\npq.write_table(pa.table({"id": pa.array([1, 2**60], pa.int64()), "tags": [[1], [2**61]]}), ${JSON.stringify(file)})`;
    assert.equal(spawnSync('python3', ['-c', script]).status, 0);
    await rejects(file, 'E_DATA_PARQUET', new RegExp(`^${file} row 1: column "id": the int64 value 1152921504606846976 is beyond`));
    await rejects(file, 'E_DATA_PARQUET', /row 1: column "tags\[0\]": the int64 value 2305843009213693952/, { fields: ['tags'] });
  });
});

describe('sources and options', () => {
  it('reads a local folder laid out as a dataset repo by split', async () => {
    write('repo/data/train.jsonl', '{"a": "train"}\n');
    write('repo/data/validation.jsonl', '{"a": "validation"}\n');
    write('repo/README.md', '# card');
    assert.deepEqual((await readAll(path.join(folder, 'repo'))).map((item) => item.record), [{ a: 'train' }]);
    assert.deepEqual((await readAll(path.join(folder, 'repo'), { split: 'validation' })).map((item) => item.record), [{ a: 'validation' }]);
    await rejects(path.join(folder, 'repo'), 'E_DATA_SOURCE', /no data files for split "test" \(the folder's files give train, validation\)/, { split: 'test' });
  });

  it('names a missing field, a missing file and bad options', async () => {
    const file = write('fields.jsonl', '{"a": 1, "b": 2}\n{"a": 3}\n');
    assert.deepEqual((await readAll(file, { fields: ['a'] })).map((item) => item.record), [{ a: 1 }, { a: 3 }]);
    await rejects(file, 'E_DATA_SOURCE', new RegExp(`^${file}:2: the record has no field "b" \\(fields: a\\)`), { fields: ['b'] });
    await rejects(path.join(folder, 'absent.csv'), 'E_NOT_FOUND', /absent\.csv: no such file or folder/);
    await rejects(write('x.xml', '<a/>'), 'E_DATA_SOURCE', /unknown data format/);
    await rejects(file, 'E_DATA_SOURCE', /limit must be a whole number/, { limit: -1 });
  });

  it('resolves split files by Hugging Face naming conventions', () => {
    const pick = (files: string[], split: string) => splitFiles(files, split).files;
    assert.deepEqual(pick(['train.csv', 'test.csv', 'validation.csv', 'README.md'], 'train'), ['train.csv']);
    assert.deepEqual(pick(['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet', 'data/test-00000-of-00001.parquet'], 'train'),
      ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    assert.deepEqual(pick(['en/train/a.parquet', 'en/dev/b.parquet'], 'validation'), ['en/dev/b.parquet']);
    assert.deepEqual(pick(['dialogsum.train.jsonl', 'dialogsum.test.jsonl'], 'test'), ['dialogsum.test.jsonl']);
    assert.deepEqual(pick(['trainer.csv'], 'train'), ['trainer.csv'], 'no split in the names: everything is train');
    assert.deepEqual(pick(['trainer.csv', 'test.csv'], 'train'), []);
    assert.deepEqual(pick(['.hidden/train.csv', 'x/__pycache__/train.json'], 'train'), []);
    assert.deepEqual(convertedSplitFiles(['default/train/0000.parquet', 'default/train/0001.parquet', 'default/test/0000.parquet'], 'train').files,
      ['default/train/0000.parquet', 'default/train/0001.parquet']);
    assert.deepEqual(convertedSplitFiles(['a/train/0000.parquet', 'b/train/0000.parquet'], 'train'), { files: [], configs: ['a', 'b'] });
    assert.deepEqual(convertedSplitFiles(['plain_text/ds-train.parquet'], 'train').files, ['plain_text/ds-train.parquet']);
  });
});

describe('streaming', () => {
  // ~40 MB each, read with a heap held to one chunk and a record: RSS must not grow by the file's size
  const ROWS = 200_000;
  const text = 'lorem ipsum dolor sit amet, '.repeat(7);

  function generate(name: string, header: string, row: (index: number) => string): string {
    const file = path.join(folder, name);
    const handle = openSync(file, 'w');
    writeSync(handle, header);
    let batch = '';
    for (let index = 0; index < ROWS; index++) {
      batch += row(index);
      if (batch.length > 1 << 20) {
        writeSync(handle, batch);
        batch = '';
      }
    }
    writeSync(handle, batch);
    closeSync(handle);
    return file;
  }

  /**
   * Reads `file` through openDataset in a fresh Node process (away from the test runner's own allocations) and
   * returns the row count and the growth of RSS, sampled every 5000 rows, over the process's RSS before reading.
   */
  function peakGrowth(file: string, end = ''): { rows: number; growthMiB: number } {
    if (end) writeFileSync(file, end, { flag: 'a' });
    const sources = path.resolve(here, '../src/data/sources.js');
    const script = `import { openDataset } from ${JSON.stringify(pathToFileURL(sources).href)};
      const dataset = await openDataset(${JSON.stringify(file)});
      const start = process.memoryUsage().rss; let peak = start; let rows = 0;
      for await (const item of dataset.records()) {
        if (typeof item.record.text !== 'string') throw new Error('no text at ' + item.where);
        if (++rows % 5000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      console.log(JSON.stringify({ rows, growthMiB: (peak - start) / 2 ** 20 }));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout) as { rows: number; growthMiB: number };
  }

  it('reads a ~40 MB CSV with bounded memory', async () => {
    const file = generate('large.csv', 'id,text\n', (index) => `${index},"${text}, ""${index}"""\n`);
    const { rows, growthMiB } = peakGrowth(file);
    assert.equal(rows, ROWS);
    assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
    rmSync(file);
  });

  it('reads a ~40 MB JSON array with bounded memory', async () => {
    const file = generate('large.json', '[\n', (index) => `${index === 0 ? '' : ',\n'}{"id": ${index}, "text": "${text} \\"${index}\\""}`);
    const { rows, growthMiB } = peakGrowth(file, '\n]\n');
    assert.equal(rows, ROWS);
    assert.ok(growthMiB < 64, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
    rmSync(file);
  });
});

// ---- hub datasets, against a fake hub on 127.0.0.1 -------------------------------------------------------------

const gitSha1 = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

/** Dataset repos in memory, served as the hub serves them: the listing API and resolve (HEAD and GET). */
class FakeDatasetHub {
  /** repo → revision → (commit, files) */
  readonly repos = new Map<string, Map<string, { commit: string; files: Record<string, Buffer> }>>();
  readonly requests: string[] = [];
  private readonly server = http.createServer((request, response) => this.handle(request, response));
  port = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  addRepo(repoId: string, files: Record<string, string | Buffer>, revision = 'main'): void {
    const buffers = Object.fromEntries(Object.entries(files).map(([name, content]) => [name, Buffer.from(content)]));
    const commit = createHash('sha1').update(`${repoId}@${revision}:${Object.keys(files).join()}`).digest('hex');
    if (!this.repos.has(repoId)) this.repos.set(repoId, new Map());
    this.repos.get(repoId)!.set(revision, { commit, files: buffers });
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    this.requests.push(`${request.method} ${url.pathname}`);
    const api = /^\/api\/datasets\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/datasets\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const match = api ?? resolve;
    if (!match) return void response.writeHead(404).end();
    const revisions = this.repos.get(match[1]);
    if (!revisions) return void response.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end();
    const found = revisions.get(decodeURIComponent(match[2]));
    if (!found) return void response.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
    if (api) {
      const body = JSON.stringify({ id: match[1], sha: found.commit, siblings: Object.keys(found.files).map((rfilename) => ({ rfilename })) });
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    }
    const file = found.files[match[3].split('/').map(decodeURIComponent).join('/')];
    if (!file) return void response.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': found.commit }).end();
    response.writeHead(200, { 'x-repo-commit': found.commit, etag: `"${gitSha1(file)}"`, 'content-length': String(file.length) });
    response.end(request.method === 'HEAD' ? undefined : file);
  }
}

describe('hub datasets', () => {
  const hub = new FakeDatasetHub();
  const cacheDir = path.join(folder, 'hub-cache');
  const options = (): OpenDatasetOptions => ({ endpoint: hub.endpoint, cacheDir, token: false, offline: false, env: {} });
  const parquet = readFileSync(FIXTURE);

  before(async () => {
    await hub.start();
    hub.addRepo('knkarthick/dialogsum', {
      '.gitattributes': '*.parquet filter=lfs',
      'README.md': '---\nlicense: cc-by-nc-sa-4.0\n---\n',
      'train.csv': 'id,dialogue,summary\ntrain_0,"#Person1#: Hi, Mr. Smith.\n#Person2#: Hello.",A greeting.\n',
      'validation.csv': 'id,dialogue,summary\nval_0,x,y\n',
      'test.csv': 'id,dialogue,summary\ntest_0,x,y\n',
    });
    hub.addRepo('org/pushed', { 'README.md': '# card', 'data/train-00000-of-00001.parquet': parquet, 'data/test-00000-of-00001.parquet': parquet });
    hub.addRepo('org/scripted', { 'README.md': '# card', 'scripted.py': 'class Builder: pass\n' });
    hub.addRepo('org/scripted', { 'default/train/0000.parquet': parquet, 'default/validation/0000.parquet': parquet }, 'refs/convert/parquet');
  });
  after(() => hub.stop());

  it('reads a split held directly as a file (train.csv), with bounded requests', async () => {
    const before = hub.requests.length;
    const dataset = await openDataset('knkarthick/dialogsum', { ...options(), split: 'train' });
    assert.equal(dataset.files.length, 1);
    assert.match(dataset.files[0], /datasets--knkarthick--dialogsum[/\\]snapshots[/\\][0-9a-f]{40}[/\\]train\.csv$/);
    const items = [];
    for await (const item of dataset.records()) items.push(item);
    assert.deepEqual(items.map((item) => item.record), [{ id: 'train_0', dialogue: '#Person1#: Hi, Mr. Smith.\n#Person2#: Hello.', summary: 'A greeting.' }]);
    assert.deepEqual(hub.requests.slice(before), [
      'GET /api/datasets/knkarthick/dialogsum/revision/main',
      'HEAD /datasets/knkarthick/dialogsum/resolve/main/train.csv',
      'GET /datasets/knkarthick/dialogsum/resolve/main/train.csv',
    ]);
    assert.deepEqual((await readAll('knkarthick/dialogsum', { ...options(), split: 'validation' })).map((item) => item.record.id), ['val_0']);
  });

  it('reads push_to_hub shards (data/train-*.parquet)', async () => {
    const dataset = await openDataset('org/pushed', options());
    assert.equal(dataset.count, 7);
    assert.match(dataset.files[0], /data[/\\]train-00000-of-00001\.parquet$/);
    assert.deepEqual((await readAll('org/pushed', { ...options(), split: 'test', fields: ['id'], limit: 2 })).map((item) => item.record), [{ id: 1 }, { id: 2 }]);
  });

  it('falls back to the refs/convert/parquet revision when the main revision has no data files', async () => {
    const dataset = await openDataset('org/scripted', { ...options(), split: 'validation' });
    assert.match(dataset.files[0], /default[/\\]validation[/\\]0000\.parquet$/);
    assert.equal(dataset.count, 7);
    assert.ok(hub.requests.includes('GET /api/datasets/org/scripted/revision/refs%2Fconvert%2Fparquet'));
    await assert.rejects(openDataset('org/scripted', { ...options(), split: 'test' }),
      (error: unknown) => error instanceof TunekitError && error.code === 'E_DATA_HUB'
        && /split "test" .* has no files: the repo has no data files .*; nor has its refs\/convert\/parquet revision$/.test(error.message));
  });

  it('works offline from the cache after a first download, without a request', async () => {
    const before = hub.requests.length;
    const offline = { ...options(), offline: true };
    assert.deepEqual((await readAll('knkarthick/dialogsum', offline)).map((item) => item.record.id), ['train_0']);
    assert.equal((await readAll('org/pushed', offline)).length, 7);
    assert.equal((await readAll('org/scripted', { ...offline, split: 'validation' })).length, 7);
    const fromEnvironment = { ...options(), offline: undefined, env: { HF_HUB_OFFLINE: '1' } };
    assert.deepEqual((await readAll('org/pushed', { ...fromEnvironment, split: 'test', limit: 1 })).map((item) => item.record.id), [1]);
    assert.equal(hub.requests.length, before, 'offline made requests');
    await assert.rejects(openDataset('org/never-downloaded', offline),
      (error: unknown) => error instanceof TunekitError && error.code === 'E_HUB_NOT_CACHED');
    await assert.rejects(openDataset('knkarthick/dialogsum', { ...offline, split: 'test' }),
      (error: unknown) => error instanceof TunekitError && error.code === 'E_HUB_NOT_CACHED' && /split "test" .* not in the cache \(its cached snapshot holds train\.csv/.test(error.message));
  });

  it('reads the cache when the hub cannot be reached, as for models', async () => {
    const unreachable = { ...options(), endpoint: 'http://127.0.0.1:1' };
    assert.deepEqual((await readAll('knkarthick/dialogsum', unreachable)).map((item) => item.record.id), ['train_0']);
  });

  it('names a missing repo', async () => {
    await assert.rejects(openDataset('org/absent', options()),
      (error: unknown) => error instanceof TunekitError && error.code === 'E_HUB_REPO_NOT_FOUND');
  });
});
