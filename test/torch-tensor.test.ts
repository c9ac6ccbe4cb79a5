import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  arange,
  cat,
  dispose,
  type DType,
  fromBytes,
  full,
  manualSeed,
  memory,
  noGrad,
  ones,
  randn,
  scalar,
  setNumThreads,
  getNumThreads,
  stack,
  tensor,
  tidy,
  where,
  zeros,
  isGradEnabled,
  Tensor,
} from '../src/torch/index.js';

describe('tensor creation and data', () => {
  it('round-trips every dtype bit-exactly through raw bytes', () => {
    const dtypes: [DType, number][] = [
      ['float32', 4], ['float64', 8], ['float16', 2], ['bfloat16', 2], ['int64', 8], ['int32', 4], ['int16', 2], ['int8', 1], ['uint8', 1], ['bool', 1],
    ];
    for (const [dtype, size] of dtypes) {
      const bytes = new Uint8Array(6 * size);
      for (let i = 0; i < bytes.length; i++) bytes[i] = dtype === 'bool' ? i % 2 : (i * 37 + 11) & 0xff;
      if (dtype === 'float16' || dtype === 'bfloat16' || dtype === 'float32' || dtype === 'float64') {
        // keep the exponent away from NaN patterns, whose payload libtorch may canonicalize
        for (let i = size - 1; i < bytes.length; i += size) bytes[i] = 0x3f;
      }
      const t = fromBytes(bytes, dtype, [2, 3]);
      assert.equal(t.dtype, dtype);
      assert.deepEqual(t.shape, [2, 3]);
      assert.deepEqual(t.bytes(), bytes, dtype);
      t.dispose();
    }
  });

  it('builds from nested arrays and typed arrays', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const ids = tensor([5, 7], { dtype: 'int64' });
    assert.equal(ids.dtype, 'int64');
    assert.deepEqual(ids.data(), BigInt64Array.from([5n, 7n]));
    const mask = tensor([true, false]);
    assert.equal(mask.dtype, 'bool');
    assert.deepEqual(tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] }).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(tensor([0.5, 1.5], { dtype: 'bfloat16' }).toFloat32Array(), Float32Array.from([0.5, 1.5]));
    assert.equal(scalar(3.5).item(), 3.5);
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    dispose([t, ids, mask]);
  });

  it('follows PyTorch type promotion for scalars', () => {
    assert.equal(arange(4).dtype, 'int64');
    assert.equal(arange(4).add(1).dtype, 'int64');
    assert.equal(arange(4).mul(2.5).dtype, 'float32');
    assert.deepEqual(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(full([2], 1).dtype, 'float32');
    assert.equal(zeros([2], { dtype: 'int32' }).dtype, 'int32');
  });

  it('converts dtypes and reports device', () => {
    const t = tensor([1.5, -2.25]);
    assert.equal(t.to('float64').dtype, 'float64');
    assert.deepEqual(t.to('int64').toArray(), [1, -2]);
    assert.equal(t.device, 'cpu');
    assert.equal(t.to({ dtype: 'bfloat16', device: 'cpu' }).dtype, 'bfloat16');
  });
});

describe('ops', () => {
  it('computes elementwise, reduction and shape ops as PyTorch does', () => {
    tidy(() => {
      const a = tensor([[1, 2, 3], [4, 5, 6]]);
      assert.deepEqual(a.sum().item(), 21);
      assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
      assert.deepEqual(a.mean(1, true).toArray(), [[2], [5]]);
      assert.deepEqual(a.transpose(0, 1).shape, [3, 2]);
      assert.deepEqual(a.reshape([3, 2]).toArray(), [[1, 2], [3, 4], [5, 6]]);
      assert.deepEqual(a.slice(1, { start: 1 }).toArray(), [[2, 3], [5, 6]]);
      assert.deepEqual(a.select(0, 1).toArray(), [4, 5, 6]);
      assert.deepEqual(a.argmax(1).toArray(), [2, 2]);
      const { values, indices } = a.max(1);
      assert.deepEqual(values.toArray(), [3, 6]);
      assert.deepEqual(indices.toArray(), [2, 2]);
      assert.deepEqual(a.topk(2).values.toArray(), [[3, 2], [6, 5]]);
      assert.deepEqual(a.cumsum(1).toArray(), [[1, 3, 6], [4, 9, 15]]);
      assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
      assert.deepEqual(stack([a, a], 0).shape, [2, 2, 3]);
      assert.deepEqual(a.split(2, 1).map((t) => t.shape), [[2, 2], [2, 1]]);
      assert.deepEqual(ones([3, 3]).triu(1).toArray(), [[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
      assert.deepEqual(where(a.gt(3), a, 0).toArray(), [[0, 0, 0], [4, 5, 6]]);
      assert.deepEqual(a.maskedFill(a.lt(3), -1).toArray(), [[-1, -1, 3], [4, 5, 6]]);
      assert.deepEqual(a.gather(1, tensor([[0], [2]], { dtype: 'int64' })).toArray(), [[1], [6]]);
      assert.deepEqual(a.indexSelect(1, tensor([2, 0], { dtype: 'int64' })).toArray(), [[3, 1], [6, 4]]);
      assert.deepEqual((a.softmax(1).sum(1).toArray() as number[]).map((v) => Math.round(v * 1e6) / 1e6), [1, 1]);
    });
  });

  it('samples repeatably after manualSeed', () => {
    manualSeed(7);
    const a = randn([5]).toArray();
    const m1 = tensor([0.1, 0.2, 0.7]).multinomial(10, true).toArray();
    manualSeed(7);
    assert.deepEqual(randn([5]).toArray(), a);
    assert.deepEqual(tensor([0.1, 0.2, 0.7]).multinomial(10, true).toArray(), m1);
  });

  it('raises libtorch errors as JS errors with the C++ message and no backtrace', () => {
    const a = ones([2, 3]);
    const b = ones([4, 5]);
    assert.throws(
      () => a.matmul(b),
      (error: Error) => /mat1 and mat2 shapes cannot be multiplied/.test(error.message) && !/Exception raised from|frame #/.test(error.message),
    );
    dispose([a, b]);
  });

  it('refuses to use a disposed tensor', () => {
    const a = ones([2]);
    a.dispose();
    a.dispose();
    assert.throws(() => a.add(1), /disposed/);
  });
});

describe('memory scopes', () => {
  it('tidy disposes intermediates and keeps what it returns', () => {
    const before = memory().liveTensors;
    const kept = tidy(() => {
      const x = randn([100, 100]);
      const y = x.matmul(x);
      return { result: y.sum(), list: [y.mean()] };
    });
    assert.equal(memory().liveTensors, before + 2);
    dispose(kept);
    assert.equal(memory().liveTensors, before);
  });

  it('nested tidy moves returned tensors to the outer scope', () => {
    const before = memory().liveTensors;
    tidy(() => {
      const inner = tidy(() => ones([3]).add(1));
      assert.equal(inner.isDisposed, false);
      return undefined;
    });
    assert.equal(memory().liveTensors, before);
  });

  it('tidy disposes on throw, and keep() survives', () => {
    const before = memory().liveTensors;
    let kept: Tensor | undefined;
    assert.throws(() =>
      tidy(() => {
        ones([3]);
        kept = ones([2]).keep();
        throw new Error('boom');
      }),
    );
    assert.equal(memory().liveTensors, before + 1);
    kept?.dispose();
    assert.equal(memory().liveTensors, before);
  });
});

describe('autograd and runtime', () => {
  it('backward fills .grad of leaves; noGrad records nothing', () => {
    const w = tensor([1, 2, 3], { requiresGrad: true });
    tidy(() => w.mul(w).sum().backward());
    assert.deepEqual(w.grad?.toArray(), [2, 4, 6]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    const y = noGrad(() => w.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
    const d = w.detach();
    assert.equal(d.requiresGrad, false);
  });

  it('sets the thread count', () => {
    const before = getNumThreads();
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(before);
    assert.throws(() => setNumThreads(0), /positive integer/);
  });
});
