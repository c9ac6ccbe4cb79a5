// 4-bit NormalFloat (NF4) storage for frozen weights, as QLoRA (Dettmers et al. 2023) defines it: blocks of 64
// values scaled by their absolute maximum and rounded to the nearest of 16 normal quantiles; the block scales are
// themselves stored in 8 bits (blocks of 256, minus their mean), "double quantization".
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <tuple>

namespace tunekit::nf4 {

/** The 16 NF4 levels, ascending (QLoRA, Appendix E). */
extern const std::array<float, 16> kLevels;

struct Quantized {
  at::Tensor codes;         // uint8 [ceil(numel / 2)]: two 4-bit codes per byte, first value in the high nibble
  at::Tensor scaleCodes;    // int8 [blocks]: block absmax, offset-subtracted, over its 256-block scale
  at::Tensor scaleScales;   // float32 [ceil(blocks / 256)]
  at::Tensor scaleOffset;   // float32 scalar: mean of the block absmaxes
};

Quantized quantize(const at::Tensor& weight, int64_t blockSize, int64_t scaleBlockSize);

/** The dequantized weight in `dtype`, shaped `shape`, on the codes' device. */
at::Tensor dequantize(const Quantized& q, at::IntArrayRef shape, at::ScalarType dtype, int64_t blockSize, int64_t scaleBlockSize);

/** The same dequantization with plain tensor ops (the path other devices take), to check the CPU kernel against. */
at::Tensor dequantizeWithTensorOps(const Quantized& q, at::IntArrayRef shape, at::ScalarType dtype, int64_t blockSize, int64_t scaleBlockSize);

/** y = x·Wᵀ with W dequantized on the fly; autograd reaches x (W is frozen) and dequantizes again for backward. */
at::Tensor linear(const at::Tensor& input, const Quantized& q, at::IntArrayRef shape, int64_t blockSize, int64_t scaleBlockSize);

}  // namespace tunekit::nf4
