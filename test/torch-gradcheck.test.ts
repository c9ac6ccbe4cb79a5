import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as F from '../src/nn/functional.js';
import { cat, dispose, manualSeed, noGrad, ones, stack, tensor, Tensor, tidy, where } from '../src/torch/index.js';

/** Deterministic pseudo-random numbers so every case sees the same inputs. */
function pseudoRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

type Domain = 'any' | 'positive' | 'away-from-zero' | 'distinct';

interface Case {
  name: string;
  shapes: number[][];
  domain?: Domain;
  fn: (...inputs: Tensor[]) => Tensor;
}

function sample(shape: number[], domain: Domain, random: () => number): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = random() * 2 - 1;
    if (domain === 'positive') values[i] = 0.5 + random();
    else if (domain === 'away-from-zero') values[i] = (u < 0 ? -1 : 1) * (0.3 + Math.abs(u));
    else if (domain === 'distinct') values[i] = i * 0.37 - n * 0.15 + 0.05 * u;
    else values[i] = u;
  }
  if (domain === 'distinct') {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [values[i], values[j]] = [values[j], values[i]];
    }
  }
  return values;
}

/** Compares backward() with central differences of sum(fn(inputs) · probe) in float64. */
function gradcheck(testCase: Case, seed = 1): void {
  const random = pseudoRandom(seed);
  const domain = testCase.domain ?? 'any';
  const data = testCase.shapes.map((shape) => sample(shape, domain, random));
  const build = (values: Float64Array[], requiresGrad: boolean) =>
    values.map((v, i) => tensor(v, { shape: testCase.shapes[i], requiresGrad }));
  let probe: Tensor | undefined;
  const objective = (inputs: Tensor[]): Tensor => {
    manualSeed(1234);
    const out = testCase.fn(...inputs);
    if (probe === undefined) {
      const p = sample(out.shape, 'any', pseudoRandom(99));
      probe = tensor(p, { shape: out.shape }).keep();
    }
    return out.mul(probe).sum();
  };
  const analytic = tidy(() => {
    const inputs = build(data, true);
    objective(inputs).backward();
    return inputs.map((input) => {
      const grad = input.grad;
      return grad === null ? new Float64Array(input.numel) : grad.toFloat64Array();
    });
  });
  const eps = 1e-6;
  data.forEach((values, which) => {
    for (let i = 0; i < values.length; i++) {
      const original = values[i];
      values[i] = original + eps;
      const plus = tidy(() => noGrad(() => objective(build(data, false)).item()));
      values[i] = original - eps;
      const minus = tidy(() => noGrad(() => objective(build(data, false)).item()));
      values[i] = original;
      const numeric = (plus - minus) / (2 * eps);
      const got = analytic[which][i];
      const tolerance = 1e-5 + 1e-4 * Math.abs(numeric);
      assert.ok(Math.abs(got - numeric) <= tolerance, `${testCase.name}: input ${which} element ${i}: backward ${got}, finite difference ${numeric}`);
    }
  });
  probe?.dispose();
}

const long = (values: Parameters<typeof tensor>[0]) => tensor(values, { dtype: 'int64' });

const cases: Case[] = [
  { name: 'add', shapes: [[2, 3], [3]], fn: (a, b) => a.add(b, 0.5) },
  { name: 'add scalar', shapes: [[4]], fn: (a) => a.add(2) },
  { name: 'sub', shapes: [[2, 3], [2, 3]], fn: (a, b) => a.sub(b) },
  { name: 'mul', shapes: [[2, 3], [1, 3]], fn: (a, b) => a.mul(b) },
  { name: 'div', shapes: [[2, 3], [2, 3]], domain: 'away-from-zero', fn: (a, b) => a.div(b) },
  { name: 'pow scalar', shapes: [[5]], domain: 'positive', fn: (a) => a.pow(2.5) },
  { name: 'pow tensor', shapes: [[4], [4]], domain: 'positive', fn: (a, b) => a.pow(b) },
  { name: 'neg', shapes: [[4]], fn: (a) => a.neg() },
  { name: 'abs', shapes: [[5]], domain: 'away-from-zero', fn: (a) => a.abs() },
  { name: 'sqrt', shapes: [[5]], domain: 'positive', fn: (a) => a.sqrt() },
  { name: 'rsqrt', shapes: [[5]], domain: 'positive', fn: (a) => a.rsqrt() },
  { name: 'square', shapes: [[5]], fn: (a) => a.square() },
  { name: 'reciprocal', shapes: [[5]], domain: 'away-from-zero', fn: (a) => a.reciprocal() },
  { name: 'exp', shapes: [[5]], fn: (a) => a.exp() },
  { name: 'log', shapes: [[5]], domain: 'positive', fn: (a) => a.log() },
  { name: 'log1p', shapes: [[5]], domain: 'positive', fn: (a) => a.log1p() },
  { name: 'tanh', shapes: [[5]], fn: (a) => a.tanh() },
  { name: 'sigmoid', shapes: [[5]], fn: (a) => a.sigmoid() },
  { name: 'sin', shapes: [[5]], fn: (a) => a.sin() },
  { name: 'cos', shapes: [[5]], fn: (a) => a.cos() },
  { name: 'clamp', shapes: [[6]], domain: 'distinct', fn: (a) => a.clamp(-0.2, 0.3) },
  { name: 'maximum', shapes: [[6], [6]], domain: 'distinct', fn: (a, b) => a.maximum(b.add(0.011)) },
  { name: 'minimum', shapes: [[6], [6]], domain: 'distinct', fn: (a, b) => a.minimum(b.add(0.011)) },
  { name: 'lerp', shapes: [[4], [4]], fn: (a, b) => a.lerp(b, 0.3) },
  { name: 'where', shapes: [[2, 3], [2, 3]], fn: (a, b) => where(tensor([[true, false, true], [false, true, false]]), a, b) },
  { name: 'maskedFill', shapes: [[2, 3]], fn: (a) => a.maskedFill(tensor([[true, false, true], [false, true, false]]), 0.5) },
  { name: 'sum dims', shapes: [[2, 3, 2]], fn: (a) => a.sum([0, 2]) },
  { name: 'mean', shapes: [[2, 3]], fn: (a) => a.mean(1, true) },
  { name: 'prod', shapes: [[2, 3]], domain: 'away-from-zero', fn: (a) => a.prod(1) },
  { name: 'var', shapes: [[2, 4]], fn: (a) => a.var(1) },
  { name: 'std', shapes: [[2, 4]], fn: (a) => a.std(1, { correction: 0 }) },
  { name: 'norm', shapes: [[2, 3]], domain: 'away-from-zero', fn: (a) => a.norm(2, 1) },
  { name: 'amax', shapes: [[2, 4]], domain: 'distinct', fn: (a) => a.amax(1) },
  { name: 'max dim values', shapes: [[2, 4]], domain: 'distinct', fn: (a) => a.max(1).values },
  { name: 'topk values', shapes: [[2, 5]], domain: 'distinct', fn: (a) => a.topk(2, 1).values },
  { name: 'logsumexp', shapes: [[2, 4]], fn: (a) => a.logsumexp(1) },
  { name: 'cumsum', shapes: [[2, 4]], fn: (a) => a.cumsum(1) },
  { name: 'softmax', shapes: [[2, 4]], fn: (a) => a.softmax(-1) },
  { name: 'logSoftmax', shapes: [[2, 4]], fn: (a) => a.logSoftmax(-1) },
  { name: 'matmul batched', shapes: [[2, 2, 3], [3, 2]], fn: (a, b) => a.matmul(b) },
  { name: 'mm', shapes: [[2, 3], [3, 2]], fn: (a, b) => a.mm(b) },
  { name: 'bmm', shapes: [[2, 2, 3], [2, 3, 2]], fn: (a, b) => a.bmm(b) },
  { name: 't', shapes: [[2, 3]], fn: (a) => a.t().mul(tensor([[1], [2], [3]], { dtype: 'float64' })) },
  { name: 'reshape/view/flatten', shapes: [[2, 3, 2]], fn: (a) => a.reshape([3, 4]).view([4, 3]).flatten().unsqueeze(0).squeeze(0) },
  { name: 'permute/transpose/contiguous', shapes: [[2, 3, 4]], fn: (a) => a.permute([2, 0, 1]).transpose(0, 1).contiguous() },
  { name: 'expand/repeat', shapes: [[1, 3]], fn: (a) => a.expand([2, 3]).repeat([2, 1]) },
  { name: 'repeatInterleave', shapes: [[2, 3]], fn: (a) => a.repeatInterleave(2, 0) },
  { name: 'narrow/slice/select', shapes: [[4, 5]], fn: (a) => a.narrow(0, 1, 2).slice(1, { start: 0, end: 5, step: 2 }).select(0, 1) },
  { name: 'indexSelect', shapes: [[4, 3]], fn: (a) => a.indexSelect(0, long([3, 0, 3])) },
  { name: 'index', shapes: [[4, 3]], fn: (a) => a.index([long([1, 2]), long([0, 2])]) },
  { name: 'gather', shapes: [[2, 4]], fn: (a) => a.gather(1, long([[0, 3], [2, 2]])) },
  { name: 'scatter', shapes: [[2, 4], [2, 2]], fn: (a, b) => a.scatter(1, long([[0, 3], [1, 2]]), b) },
  { name: 'cat', shapes: [[2, 2], [1, 2]], fn: (a, b) => cat([a, b], 0) },
  { name: 'stack', shapes: [[2, 2], [2, 2]], fn: (a, b) => stack([a, b], 1) },
  { name: 'split/chunk', shapes: [[5, 2]], fn: (a) => a.split([2, 3], 0)[1].mul(a.chunk(5, 0)[0]) },
  { name: 'triu/tril', shapes: [[3, 3]], fn: (a) => a.triu(0).add(a.tril(-1).mul(2)) },
  { name: 'linear', shapes: [[2, 3], [4, 3], [4]], fn: (x, w, b) => F.linear(x, w, b) },
  { name: 'embedding', shapes: [[5, 3]], fn: (w) => F.embedding(w, long([[0, 4], [4, 2]])) },
  { name: 'layerNorm', shapes: [[2, 4], [4], [4]], fn: (x, w, b) => F.layerNorm(x, [4], w, b, 1e-5) },
  { name: 'rmsNorm', shapes: [[2, 4], [4]], fn: (x, w) => F.rmsNorm(x, [4], w, 1e-6) },
  { name: 'gelu exact', shapes: [[6]], fn: (a) => F.gelu(a) },
  { name: 'gelu tanh', shapes: [[6]], fn: (a) => F.gelu(a, 'tanh') },
  { name: 'silu', shapes: [[6]], fn: (a) => F.silu(a) },
  { name: 'relu', shapes: [[6]], domain: 'away-from-zero', fn: (a) => F.relu(a) },
  { name: 'dropout (seeded mask)', shapes: [[8]], fn: (a) => F.dropout(a, 0.4, true) },
  {
    name: 'scaled dot-product attention, causal',
    shapes: [[1, 2, 3, 2], [1, 2, 3, 2], [1, 2, 3, 2]],
    fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true }),
  },
  {
    name: 'scaled dot-product attention, boolean mask and scale',
    shapes: [[1, 1, 2, 2], [1, 1, 3, 2], [1, 1, 3, 2]],
    fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { attentionMask: tensor([[true, true, false], [true, false, true]]), scale: 1 }),
  },
  {
    name: 'scaled dot-product attention, grouped-query',
    shapes: [[1, 4, 2, 2], [1, 2, 2, 2], [1, 2, 2, 2]],
    fn: (q, k, v) => F.scaledDotProductAttention(q, k, v, { enableGqa: true }),
  },
  { name: 'crossEntropy with ignoreIndex', shapes: [[4, 3]], fn: (logits) => F.crossEntropy(logits, long([0, -100, 2, 1])) },
  { name: 'crossEntropy label smoothing, sum', shapes: [[3, 4]], fn: (logits) => F.crossEntropy(logits, long([3, 1, 0]), { labelSmoothing: 0.1, reduction: 'sum' }) },
  { name: 'nllLoss', shapes: [[3, 4]], fn: (x) => F.nllLoss(x.logSoftmax(1), long([3, 1, 0])) },
  { name: 'mseLoss', shapes: [[2, 3], [2, 3]], fn: (a, b) => F.mseLoss(a, b) },
  { name: 'alias and clone', shapes: [[3]], fn: (a) => a.alias().clone().mul(ones([3], { dtype: 'float64' })) },
];

describe('gradients match finite differences (float64)', () => {
  for (const testCase of cases) {
    it(testCase.name, () => {
      gradcheck(testCase);
    });
  }

  it('accumulates gradients over two backward passes', () => {
    const w = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    tidy(() => w.mul(3).sum().backward());
    tidy(() => w.mul(3).sum().backward());
    assert.deepEqual(w.grad?.toArray(), [6, 6]);
    dispose(w);
  });
});
