import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as F from '../src/nn/functional.js';
import { cudaAvailable, manualSeed, NF4Tensor, randn, tidy } from '../src/torch/index.js';

const skip = cudaAvailable() ? false : 'this libtorch has no CUDA device';

describe('CUDA (runs where the user\'s libtorch has a GPU)', { skip }, () => {
  it('ops, autograd and transfers agree with the CPU', () => {
    manualSeed(0);
    const a = randn([64, 32]);
    const w = randn([16, 32], { requiresGrad: true });
    const cpu = tidy(() => {
      const y = F.linear(a, w).softmax(-1).sum();
      y.backward();
      return { value: y.item(), grad: (w.grad as ReturnType<typeof randn>).toFlatArray() };
    });
    w.zeroGrad();
    const wCuda = tidy(() => w.to('cuda').detach().keep()).requiresGrad_();
    const gpu = tidy(() => {
      const y = F.linear(a.to('cuda'), wCuda).softmax(-1).sum();
      y.backward();
      return { value: y.item(), grad: (wCuda.grad as ReturnType<typeof randn>).toFlatArray() };
    });
    assert.ok(Math.abs(cpu.value - gpu.value) < 1e-4);
    gpu.grad.forEach((g, i) => assert.ok(Math.abs(g - cpu.grad[i]) < 1e-4));
  });

  it('NF4 dequantizes on the GPU exactly as the CPU kernel does', () => {
    const weight = randn([128, 96]);
    const onCpu = NF4Tensor.quantize(weight);
    const onGpu = NF4Tensor.quantize(tidy(() => weight.to('cuda').keep()));
    assert.equal(onGpu.device.startsWith('cuda'), true);
    assert.deepEqual(tidy(() => onGpu.dequantize().to('cpu').bytes()), tidy(() => onCpu.dequantize().bytes()));
  });
});
