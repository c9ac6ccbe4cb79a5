#include "nf4.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>

namespace tunekit::nf4 {

const std::array<float, 16> kLevels = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

namespace {

// Index of the nearest level; a value exactly between two levels takes the lower one.
inline uint8_t nearestLevel(float x) {
  uint8_t code = 0;
  for (int i = 1; i < 16; i++) {
    float midpoint = 0.5f * (kLevels[i - 1] + kLevels[i]);
    if (x > midpoint) code = static_cast<uint8_t>(i);
  }
  return code;
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Block absmax values → int8 codes with one float scale per scaleBlockSize, after subtracting their mean.
void quantizeScales(const std::vector<float>& absmax, int64_t scaleBlockSize, Quantized& q) {
  int64_t blocks = static_cast<int64_t>(absmax.size());
  double sum = 0;
  for (float v : absmax) sum += v;
  float offset = blocks == 0 ? 0.0f : static_cast<float>(sum / blocks);
  int64_t groups = ceilDiv(blocks, scaleBlockSize);
  q.scaleCodes = at::empty({blocks}, at::kChar);
  q.scaleScales = at::empty({groups}, at::kFloat);
  q.scaleOffset = at::full({}, offset, at::kFloat);
  auto* codes = q.scaleCodes.data_ptr<int8_t>();
  auto* scales = q.scaleScales.data_ptr<float>();
  for (int64_t g = 0; g < groups; g++) {
    int64_t begin = g * scaleBlockSize;
    int64_t end = std::min(blocks, begin + scaleBlockSize);
    float range = 0;
    for (int64_t b = begin; b < end; b++) range = std::max(range, std::fabs(absmax[b] - offset));
    scales[g] = range;
    for (int64_t b = begin; b < end; b++) {
      float normalized = range == 0 ? 0.0f : (absmax[b] - offset) / range;
      codes[b] = static_cast<int8_t>(std::lrint(std::clamp(normalized, -1.0f, 1.0f) * 127.0f));
    }
  }
}

inline float blockScale(const int8_t* scaleCodes, const float* scaleScales, float offset, int64_t block, int64_t scaleBlockSize) {
  return static_cast<float>(scaleCodes[block]) / 127.0f * scaleScales[block / scaleBlockSize] + offset;
}

at::Tensor dequantizeCpu(const Quantized& q, int64_t numel, int64_t blockSize, int64_t scaleBlockSize) {
  at::Tensor out = at::empty({numel}, at::kFloat);
  const auto* codes = q.codes.data_ptr<uint8_t>();
  const auto* scaleCodes = q.scaleCodes.data_ptr<int8_t>();
  const auto* scaleScales = q.scaleScales.data_ptr<float>();
  const float offset = q.scaleOffset.item<float>();
  float* values = out.data_ptr<float>();
  int64_t blocks = ceilDiv(numel, blockSize);
  at::parallel_for(0, blocks, 16, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; b++) {
      float scale = blockScale(scaleCodes, scaleScales, offset, b, scaleBlockSize);
      int64_t end = std::min(numel, (b + 1) * blockSize);
      for (int64_t i = b * blockSize; i < end; i++) {
        uint8_t byte = codes[i >> 1];
        uint8_t code = (i & 1) ? (byte & 0x0F) : (byte >> 4);
        values[i] = kLevels[code] * scale;
      }
    }
  });
  return out;
}

// The same computation with tensor ops, for any device (CUDA included).
at::Tensor dequantizeGeneric(const Quantized& q, int64_t numel, int64_t blockSize, int64_t scaleBlockSize) {
  auto device = q.codes.device();
  at::Tensor levels = at::from_blob(const_cast<float*>(kLevels.data()), {16}, at::kFloat).to(device);
  at::Tensor high = at::bitwise_right_shift(q.codes, 4);
  at::Tensor low = at::bitwise_and(q.codes, 15);
  at::Tensor codes = at::stack({high, low}, 1).reshape({-1}).narrow(0, 0, numel).to(at::kLong);
  int64_t blocks = ceilDiv(numel, blockSize);
  at::Tensor groupIndex = at::arange(blocks, at::TensorOptions().dtype(at::kLong).device(device)).div(scaleBlockSize, "floor");
  at::Tensor scales = q.scaleCodes.to(at::kFloat).div(127.0).mul(q.scaleScales.index_select(0, groupIndex)).add(q.scaleOffset.to(device));
  at::Tensor values = levels.index_select(0, codes);
  int64_t padded = blocks * blockSize;
  if (padded != numel) values = at::cat({values, at::zeros({padded - numel}, values.options())});
  return values.view({blocks, blockSize}).mul(scales.unsqueeze(1)).reshape({-1}).narrow(0, 0, numel);
}

}  // namespace

Quantized quantize(const at::Tensor& weight, int64_t blockSize, int64_t scaleBlockSize) {
  TORCH_CHECK(blockSize > 0 && blockSize % 2 == 0, "nf4: block size must be a positive even number, got ", blockSize);
  TORCH_CHECK(scaleBlockSize > 0, "nf4: scale block size must be positive, got ", scaleBlockSize);
  at::Tensor flat = weight.detach().to(at::kCPU, at::kFloat).contiguous().reshape({-1});
  int64_t numel = flat.numel();
  int64_t blocks = ceilDiv(numel, blockSize);
  Quantized q;
  q.codes = at::zeros({ceilDiv(numel, 2)}, at::kByte);
  std::vector<float> absmax(static_cast<size_t>(blocks));
  const float* values = flat.data_ptr<float>();
  auto* codes = q.codes.data_ptr<uint8_t>();
  at::parallel_for(0, blocks, 16, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; b++) {
      int64_t begin = b * blockSize;
      int64_t end = std::min(numel, begin + blockSize);
      float maximum = 0;
      for (int64_t i = begin; i < end; i++) maximum = std::max(maximum, std::fabs(values[i]));
      absmax[b] = maximum;
      for (int64_t i = begin; i < end; i++) {
        uint8_t code = nearestLevel(maximum == 0 ? 0.0f : values[i] / maximum);
        // Blocks hold an even count of values, so a byte never straddles two blocks (two threads).
        codes[i >> 1] |= (i & 1) ? code : static_cast<uint8_t>(code << 4);
      }
    }
  });
  quantizeScales(absmax, scaleBlockSize, q);
  if (weight.device() != at::kCPU) {
    q.codes = q.codes.to(weight.device());
    q.scaleCodes = q.scaleCodes.to(weight.device());
    q.scaleScales = q.scaleScales.to(weight.device());
    q.scaleOffset = q.scaleOffset.to(weight.device());
  }
  return q;
}

at::Tensor dequantize(const Quantized& q, at::IntArrayRef shape, at::ScalarType dtype, int64_t blockSize, int64_t scaleBlockSize) {
  int64_t numel = 1;
  for (int64_t size : shape) numel *= size;
  at::Tensor flat = q.codes.is_cpu() ? dequantizeCpu(q, numel, blockSize, scaleBlockSize) : dequantizeGeneric(q, numel, blockSize, scaleBlockSize);
  return flat.view(shape).to(dtype);
}

at::Tensor dequantizeWithTensorOps(const Quantized& q, at::IntArrayRef shape, at::ScalarType dtype, int64_t blockSize, int64_t scaleBlockSize) {
  int64_t numel = 1;
  for (int64_t size : shape) numel *= size;
  return dequantizeGeneric(q, numel, blockSize, scaleBlockSize).view(shape).to(dtype);
}

namespace {

struct LinearFunction : public torch::autograd::Function<LinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& input, const at::Tensor& codes, const at::Tensor& scaleCodes,
                            const at::Tensor& scaleScales, const at::Tensor& scaleOffset, std::vector<int64_t> shape, int64_t blockSize,
                            int64_t scaleBlockSize) {
    Quantized q{codes, scaleCodes, scaleScales, scaleOffset};
    ctx->save_for_backward({codes, scaleCodes, scaleScales, scaleOffset});
    ctx->saved_data["shape"] = c10::IValue(shape);
    ctx->saved_data["block"] = blockSize;
    ctx->saved_data["scaleBlock"] = scaleBlockSize;
    at::Tensor weight = dequantize(q, shape, input.scalar_type(), blockSize, scaleBlockSize);
    return at::linear(input, weight);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list gradOutputs) {
    auto saved = ctx->get_saved_variables();
    Quantized q{saved[0], saved[1], saved[2], saved[3]};
    auto shape = ctx->saved_data["shape"].toIntVector();
    at::Tensor weight = dequantize(q, shape, gradOutputs[0].scalar_type(), ctx->saved_data["block"].toInt(), ctx->saved_data["scaleBlock"].toInt());
    at::Tensor gradInput = gradOutputs[0].matmul(weight);
    return {gradInput, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor linear(const at::Tensor& input, const Quantized& q, at::IntArrayRef shape, int64_t blockSize, int64_t scaleBlockSize) {
  return LinearFunction::apply(input, q.codes, q.scaleCodes, q.scaleScales, q.scaleOffset, shape.vec(), blockSize, scaleBlockSize);
}

}  // namespace tunekit::nf4
