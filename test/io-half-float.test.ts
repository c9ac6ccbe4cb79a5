import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../src/io/half-float.js';

const hex = (bits: number) => '0x' + bits.toString(16).padStart(4, '0');

describe('float16', () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite
    [65519.99, 0x7bff], // just under the rounding boundary to infinity
    [65520, 0x7c00], // the tie rounds to even: infinity
    [1e6, 0x7c00],
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units: even is 2
    [2 ** -25 * 1.0001, 0x0001],
    [2 ** -26, 0x0000],
    [1 + 2 ** -11, 0x3c00], // tie: even mantissa stays
    [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds up to the even mantissa
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [2047 * 2 ** -25, 0x0400], // rounds up out of the subnormals into the smallest normal
    [1 / 3, 0x3555],
    [Math.PI, 0x4248],
  ];
  for (const [value, bits] of cases) {
    it(`${value} → ${hex(bits)}`, () => assert.equal(hex(float32ToFloat16Bits(value)), hex(bits)));
  }

  it('decodes normals, subnormals, zeros and infinities', () => {
    const decoded: Array<[number, number]> = [
      [0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Infinity], [0xfc00, -Infinity], [0x3555, 0.333251953125],
    ];
    for (const [bits, value] of decoded) assert.equal(float16BitsToFloat32(bits), value, hex(bits));
  });

  it('NaN stays NaN', () => {
    assert.equal(float32ToFloat16Bits(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(float32ToFloat16Bits(NaN) & 0x3ff, 0);
    assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
    assert.ok(Number.isNaN(float16BitsToFloat32(0xfc01)));
  });

  it('every finite half survives half → float → half, and zeros keep their sign', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0) continue;
      assert.equal(float32ToFloat16Bits(float16BitsToFloat32(bits)), bits);
    }
    assert.ok(Object.is(float16BitsToFloat32(0x8000), -0));
  });
});

describe('bfloat16', () => {
  const cases: Array<[number, number]> = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3f80],
    [-1.5, 0xbfc0],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
    [1 + 2 ** -8, 0x3f80], // tie: even stays
    [1 + 3 * 2 ** -8, 0x3f82], // tie: rounds up to even
    [1 + 2 ** -8 + 2 ** -16, 0x3f81],
    [3.4028234663852886e38, 0x7f80], // float32 max rounds up to infinity
    [Math.PI, 0x4049],
    [1e-40, 0x0001], // float32 subnormal
  ];
  for (const [value, bits] of cases) {
    it(`${value} → ${hex(bits)}`, () => assert.equal(hex(float32ToBfloat16Bits(value)), hex(bits)));
  }

  it('NaN stays NaN; every non-NaN pattern survives bf16 → float → bf16', () => {
    assert.equal(float32ToBfloat16Bits(NaN), 0x7fc0);
    assert.ok(Number.isNaN(bfloat16BitsToFloat32(0x7fc0)));
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0) continue;
      assert.equal(float32ToBfloat16Bits(bfloat16BitsToFloat32(bits)), bits);
    }
  });
});
