// Python's random.Random reproduced: recorded streams of CPython 3.11 (test/fixtures/evaluate/make.py) for int
// seeds of one, two and several 32-bit words, and the same draws from a live python3 when there is one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { evaluate } from '../src/index.js';
import { repoRoot } from './helpers/paths.js';

interface Stream {
  seed: string;
  sample20_5: number[];
  sample1000_7: number[];
  random: number[];
  getrandbits: string[];
  choices10_6: number[];
  shuffle12: number[];
  randbelow: number[];
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The draws make.py records, in the same order, from one generator. */
function draws(seed: bigint): Stream {
  const random = new evaluate.PythonRandom(seed);
  return {
    seed: seed.toString(),
    sample20_5: random.sample(range(20), 5),
    sample1000_7: random.sample(range(1000), 7),
    random: [random.random(), random.random(), random.random()],
    getrandbits: [1, 7, 32, 33, 64].map((k) => random.getrandbits(k).toString()),
    choices10_6: random.choices(range(10), 6),
    shuffle12: random.shuffle(range(12)),
    randbelow: [1, 2, 3, 10, 1000, 2 ** 31, 2 ** 40].map((n) => random.randbelow(n)),
  };
}

describe("Python's random.Random", () => {
  const recorded = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'evaluate', 'goldens', 'python-random.json'), 'utf8')) as Stream[];

  for (const stream of recorded) {
    it(`equals CPython for seed ${stream.seed}: sample (both algorithms), random, getrandbits, choices, shuffle, randbelow`, () => {
      assert.deepEqual(draws(BigInt(stream.seed)), stream);
    });
  }

  it('seeds negative ints as their absolute value, as CPython does', () => {
    assert.deepEqual(draws(-1234n).sample20_5, draws(1234n).sample20_5);
  });

  it("equals a live python3's Random(1234).sample over 50 draws of 3 from 30", { skip: spawnSync('python3', ['-c', 'pass']).status === 0 ? false : 'no python3' }, () => {
    const script = 'import random, json\nr = random.Random(1234)\nprint(json.dumps([r.sample(range(30), 3) for _ in range(50)]))';
    const expected = JSON.parse(spawnSync('python3', ['-c', script], { encoding: 'utf8' }).stdout) as number[][];
    const random = new evaluate.PythonRandom(1234);
    assert.deepEqual(range(50).map(() => random.sample(range(30), 3)), expected);
  });

  it('refuses a sample larger than the population', () => {
    assert.throws(() => new evaluate.PythonRandom(0).sample([1, 2], 3), /larger than population/);
  });
});
