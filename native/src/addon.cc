// The only C++ in tunekit: a thin N-API face over libtorch.
//
// Ops are not bound one by one. `opHandle("aten::add", "Tensor")` resolves an operator in PyTorch's own dispatcher
// and `call(handle, args)` converts JS values to IValues by the operator's schema and runs it boxed, through the
// same dispatch keys (autograd included) that Python's eager mode uses. A handful of functions that are not
// operators (tensor data in and out, autograd entry points, seeds, threads, memory accounting) are bound directly.

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/variable.h>
#if __has_include(<torch/headeronly/version.h>)
#include <torch/headeronly/version.h>
#else
#include <torch/version.h>
#endif

#include "nf4.h"
#if defined(TUNEKIT_DISTRIBUTED)
#include "distributed.h"
#endif

#include <atomic>
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- tensor handles and memory accounting
//
// A tensor handle is a plain JS number naming a slot in this thread's table (slot + generation·2^24, so a stale
// handle to a reused slot is caught). No JS object owns native memory and no GC finalizer is involved: Node runs
// N-API finalizers only when the event loop turns, and a synchronous training loop never lets it turn.

struct Slot {
  at::Tensor tensor;
  uint32_t generation = 0;
  int64_t bytes = 0;
  // Whether V8 was told about these bytes (only tensors whose release may wait for the garbage collector).
  bool reported = false;
};

struct TensorTable {
  std::vector<Slot> slots;
  std::vector<uint32_t> freeSlots;
  int64_t liveTensors = 0;
  int64_t liveBytes = 0;
};

// One table per JS thread (main thread, each worker): an environment never leaves its thread.
thread_local TensorTable table;

constexpr double kSlotRange = 16777216.0;  // 2^24 slots per table
constexpr uint32_t kGenerationRange = 1u << 28;

int64_t tensorBytes(const at::Tensor& tensor) {
  return tensor.defined() ? static_cast<int64_t>(tensor.numel() * tensor.element_size()) : 0;
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) return env.Null();
  uint32_t index;
  if (!table.freeSlots.empty()) {
    index = table.freeSlots.back();
    table.freeSlots.pop_back();
  } else {
    if (table.slots.size() >= static_cast<size_t>(kSlotRange)) throw Napi::RangeError::New(env, "too many live tensors (16M): dispose some");
    index = static_cast<uint32_t>(table.slots.size());
    table.slots.emplace_back();
  }
  Slot& slot = table.slots[index];
  slot.bytes = tensorBytes(tensor);
  slot.tensor = std::move(tensor);
  slot.reported = false;
  table.liveTensors++;
  table.liveBytes += slot.bytes;
  return Napi::Number::New(env, static_cast<double>(index) + static_cast<double>(slot.generation) * kSlotRange);
}

Slot* slotOf(const Napi::Value& value, const char* what) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor handle");
  double handle = value.As<Napi::Number>().DoubleValue();
  double generation = std::floor(handle / kSlotRange);
  double index = handle - generation * kSlotRange;
  if (!(handle >= 0) || index >= static_cast<double>(table.slots.size())) {
    throw Napi::TypeError::New(value.Env(), std::string(what) + ": expected a tensor handle");
  }
  Slot& slot = table.slots[static_cast<size_t>(index)];
  if (static_cast<double>(slot.generation) != generation) return nullptr;
  return &slot;
}

const at::Tensor& unwrapTensor(const Napi::Value& value, const char* what) {
  Slot* slot = slotOf(value, what);
  if (slot == nullptr || !slot->tensor.defined()) throw Napi::Error::New(value.Env(), std::string(what) + ": tensor was disposed");
  return slot->tensor;
}

void releaseSlot(Napi::Env env, const Napi::Value& value) {
  Slot* slot = slotOf(value, "dispose");
  if (slot == nullptr || !slot->tensor.defined()) return;
  table.liveTensors--;
  table.liveBytes -= slot->bytes;
  if (slot->reported) Napi::MemoryManagement::AdjustExternalMemory(env, -slot->bytes);
  slot->reported = false;
  slot->tensor.reset();
  slot->generation = (slot->generation + 1) % kGenerationRange;
  table.freeSlots.push_back(static_cast<uint32_t>(slot - table.slots.data()));
}

// ---------------------------------------------------------------- error translation

template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& error) {
    throw Napi::Error::New(info.Env(), error.what_without_backtrace());
  } catch (const std::exception& error) {
    throw Napi::Error::New(info.Env(), error.what());
  }
}

// ---------------------------------------------------------------- JS <-> IValue by schema

std::vector<int64_t> toIntVector(const Napi::Value& value, const std::string& where) {
  std::vector<int64_t> result;
  if (value.IsNumber()) {
    result.push_back(value.As<Napi::Number>().Int64Value());
    return result;
  }
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), where + ": expected an int list");
  auto array = value.As<Napi::Array>();
  result.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsNumber()) throw Napi::TypeError::New(value.Env(), where + ": expected an int list");
    result.push_back(item.As<Napi::Number>().Int64Value());
  }
  return result;
}

c10::Scalar toScalar(const Napi::Value& value, const std::string& where) {
  if (value.IsBoolean()) return c10::Scalar(value.As<Napi::Boolean>().Value());
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), where + ": expected a number");
  double number = value.As<Napi::Number>().DoubleValue();
  // An integral JS number is an int Scalar, so int tensors stay int; 2.5 promotes as Python's 2.5 does.
  if (std::isfinite(number) && number == std::trunc(number) && std::fabs(number) < 9.0e15) {
    return c10::Scalar(static_cast<int64_t>(number));
  }
  return c10::Scalar(number);
}

c10::IValue toIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& where);

c10::IValue toListIValue(const Napi::Value& value, const c10::TypePtr& elementType, const std::string& where) {
  Napi::Env env = value.Env();
  switch (elementType->kind()) {
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: {
      c10::List<int64_t> list;
      for (int64_t v : toIntVector(value, where)) list.push_back(v);
      return list;
    }
    default:
      break;
  }
  if (!value.IsArray()) throw Napi::TypeError::New(env, where + ": expected an array");
  auto array = value.As<Napi::Array>();
  uint32_t length = array.Length();
  switch (elementType->kind()) {
    case c10::TypeKind::FloatType: {
      c10::List<double> list;
      for (uint32_t i = 0; i < length; i++) list.push_back(array.Get(i).As<Napi::Number>().DoubleValue());
      return list;
    }
    case c10::TypeKind::BoolType: {
      c10::List<bool> list;
      for (uint32_t i = 0; i < length; i++) list.push_back(array.Get(i).ToBoolean().Value());
      return list;
    }
    case c10::TypeKind::TensorType: {
      c10::List<at::Tensor> list;
      list.reserve(length);
      for (uint32_t i = 0; i < length; i++) list.push_back(unwrapTensor(array.Get(i), where.c_str()));
      return list;
    }
    case c10::TypeKind::OptionalType: {
      auto inner = elementType->castRaw<c10::OptionalType>()->getElementType();
      if (inner->kind() == c10::TypeKind::TensorType) {
        c10::List<std::optional<at::Tensor>> list;
        for (uint32_t i = 0; i < length; i++) {
          Napi::Value item = array.Get(i);
          if (item.IsNull() || item.IsUndefined()) {
            list.push_back(std::nullopt);
          } else {
            list.push_back(unwrapTensor(item, where.c_str()));
          }
        }
        return list;
      }
      break;
    }
    default:
      break;
  }
  throw Napi::TypeError::New(env, where + ": unsupported list element type " + elementType->str());
}

c10::IValue toIValue(const Napi::Value& value, const c10::TypePtr& type, const std::string& where) {
  Napi::Env env = value.Env();
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (value.IsUndefined() || value.IsNull()) return c10::IValue();
      return toIValue(value, type->castRaw<c10::OptionalType>()->getElementType(), where);
    case c10::TypeKind::TensorType:
      return unwrapTensor(value, where.c_str());
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      if (value.IsBoolean()) return static_cast<int64_t>(value.As<Napi::Boolean>().Value());
      if (!value.IsNumber()) throw Napi::TypeError::New(env, where + ": expected an integer");
      return value.As<Napi::Number>().Int64Value();
    case c10::TypeKind::FloatType:
    case c10::TypeKind::SymFloatType:
      if (!value.IsNumber()) throw Napi::TypeError::New(env, where + ": expected a number");
      return value.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
    case c10::TypeKind::SymBoolType:
      if (!value.IsBoolean()) throw Napi::TypeError::New(env, where + ": expected a boolean");
      return value.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType:
      return toScalar(value, where);
    case c10::TypeKind::StringType:
      if (!value.IsString()) throw Napi::TypeError::New(env, where + ": expected a string");
      return value.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (!value.IsString()) throw Napi::TypeError::New(env, where + ": expected a device string");
      return c10::Device(value.As<Napi::String>().Utf8Value());
    case c10::TypeKind::ListType:
      return toListIValue(value, type->castRaw<c10::ListType>()->getElementType(), where);
    default:
      throw Napi::TypeError::New(env, where + ": unsupported argument type " + type->str());
  }
}

Napi::Value fromIValue(Napi::Env env, const c10::IValue& value) {
  if (value.isTensor()) return wrapTensor(env, value.toTensor());
  if (value.isNone()) return env.Null();
  if (value.isInt()) return Napi::Number::New(env, static_cast<double>(value.toInt()));
  if (value.isDouble()) return Napi::Number::New(env, value.toDouble());
  if (value.isBool()) return Napi::Boolean::New(env, value.toBool());
  if (value.isString()) return Napi::String::New(env, value.toStringRef());
  if (value.isDevice()) return Napi::String::New(env, value.toDevice().str());
  if (value.isScalar()) {
    c10::Scalar scalar = value.toScalar();
    if (scalar.isBoolean()) return Napi::Boolean::New(env, scalar.toBool());
    return Napi::Number::New(env, scalar.toDouble());
  }
  if (value.isTuple()) {
    const auto& elements = value.toTupleRef().elements();
    auto array = Napi::Array::New(env, elements.size());
    for (size_t i = 0; i < elements.size(); i++) array.Set(static_cast<uint32_t>(i), fromIValue(env, elements[i]));
    return array;
  }
  if (value.isList()) {
    auto list = value.toListRef();
    auto array = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) array.Set(static_cast<uint32_t>(i), fromIValue(env, list[i]));
    return array;
  }
  throw Napi::TypeError::New(env, "unsupported return value of type " + value.tagKind());
}

// ---------------------------------------------------------------- operator table

struct OpEntry {
  c10::OperatorHandle handle;
  std::string displayName;
};

std::mutex opMutex;
std::deque<OpEntry> opTable;

const OpEntry& opAt(Napi::Env env, int64_t index) {
  std::lock_guard<std::mutex> lock(opMutex);
  if (index < 0 || index >= static_cast<int64_t>(opTable.size())) {
    throw Napi::RangeError::New(env, "unknown operator handle " + std::to_string(index));
  }
  return opTable[static_cast<size_t>(index)];
}

Napi::Value OpHandle(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
    auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
    if (!handle.has_value()) {
      throw Napi::Error::New(info.Env(), "libtorch has no operator " + name + (overload.empty() ? "" : "." + overload));
    }
    std::lock_guard<std::mutex> lock(opMutex);
    opTable.push_back(OpEntry{*handle, name + (overload.empty() ? "" : "." + overload)});
    return Napi::Number::New(info.Env(), static_cast<double>(opTable.size() - 1));
  });
}

Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const OpEntry& entry = opAt(info.Env(), info[0].As<Napi::Number>().Int64Value());
    std::ostringstream text;
    text << entry.handle.schema();
    return Napi::String::New(info.Env(), text.str());
  });
}

// opReturns(handle): the kind of each return, so JS can tell tensor handles from plain numbers.
Napi::Value OpReturns(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const OpEntry& entry = opAt(info.Env(), info[0].As<Napi::Number>().Int64Value());
    const auto& returns = entry.handle.schema().returns();
    auto result = Napi::Array::New(info.Env(), returns.size());
    for (size_t i = 0; i < returns.size(); i++) result.Set(static_cast<uint32_t>(i), Napi::String::New(info.Env(), returns[i].type()->str()));
    return result;
  });
}

// call(handle, argsArray): runs the operator; one return gives a value, several give an array, none gives null.
Napi::Value Call(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const OpEntry& entry = opAt(env, info[0].As<Napi::Number>().Int64Value());
    const c10::FunctionSchema& schema = entry.handle.schema();
    const auto& arguments = schema.arguments();
    auto args = info[1].As<Napi::Array>();
    uint32_t given = args.Length();
    if (given > arguments.size()) {
      throw Napi::TypeError::New(env, entry.displayName + ": takes " + std::to_string(arguments.size()) +
                                          " arguments, got " + std::to_string(given));
    }
    torch::jit::Stack stack;
    stack.reserve(arguments.size());
    for (size_t i = 0; i < arguments.size(); i++) {
      const c10::Argument& argument = arguments[i];
      Napi::Value value = i < given ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
      if (value.IsUndefined()) {
        if (argument.default_value().has_value()) {
          stack.push_back(*argument.default_value());
          continue;
        }
        if (argument.type()->kind() == c10::TypeKind::OptionalType) {
          stack.emplace_back();
          continue;
        }
        throw Napi::TypeError::New(env, entry.displayName + ": missing argument '" + argument.name() + "'");
      }
      stack.push_back(toIValue(value, argument.type(), entry.displayName + " argument '" + argument.name() + "'"));
    }
    entry.handle.callBoxed(&stack);
    if (stack.empty()) return env.Null();
    if (stack.size() == 1) return fromIValue(env, stack[0]);
    auto result = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) result.Set(static_cast<uint32_t>(i), fromIValue(env, stack[i]));
    return result;
  });
}

// ---------------------------------------------------------------- tensor data in and out

Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto bytes = info[0].As<Napi::TypedArray>();
    auto dtype = static_cast<at::ScalarType>(info[1].As<Napi::Number>().Int32Value());
    std::vector<int64_t> shape = toIntVector(info[2], "fromBytes shape");
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
    size_t expected = static_cast<size_t>(tensor.numel()) * tensor.element_size();
    if (bytes.ByteLength() != expected) {
      throw Napi::RangeError::New(env, "fromBytes: " + std::to_string(bytes.ByteLength()) +
                                           " bytes given, shape and dtype need " + std::to_string(expected));
    }
    auto* base = static_cast<uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset();
    if (expected > 0) std::memcpy(tensor.data_ptr(), base, expected);
    return wrapTensor(env, std::move(tensor));
  });
}

// toBytes(tensor): a fresh ArrayBuffer with the tensor's elements, contiguous, copied from any device.
Napi::Value ToBytes(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    at::Tensor tensor = unwrapTensor(info[0], "toBytes").detach().to(at::kCPU).contiguous();
    size_t length = static_cast<size_t>(tensor.numel()) * tensor.element_size();
    auto buffer = Napi::ArrayBuffer::New(info.Env(), length);
    if (length > 0) std::memcpy(buffer.Data(), tensor.data_ptr(), length);
    return buffer;
  });
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  const at::Tensor& tensor = unwrapTensor(info[0], "shape");
  auto sizes = tensor.sizes();
  auto array = Napi::Array::New(info.Env(), sizes.size());
  for (size_t i = 0; i < sizes.size(); i++) array.Set(static_cast<uint32_t>(i), static_cast<double>(sizes[i]));
  return array;
}

Napi::Value Dtype(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<int>(unwrapTensor(info[0], "dtype").scalar_type()));
}

Napi::Value DeviceOf(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), unwrapTensor(info[0], "device").device().str());
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const at::Tensor& tensor = unwrapTensor(info[0], "item");
    c10::Scalar scalar = tensor.item();
    if (scalar.isBoolean()) return Napi::Boolean::New(info.Env(), scalar.toBool());
    return Napi::Number::New(info.Env(), scalar.toDouble());
  });
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  releaseSlot(info.Env(), info[0]);
  return info.Env().Undefined();
}

// reportToGc(handle): tells V8 about the tensor's bytes, so memory held by forgotten handles prompts a collection.
// Tensors released by scopes or dispose() are not reported: V8 could free nothing for them, and reporting them made
// V8 run a mark-compact every ~100 ms of training.
Napi::Value ReportToGc(const Napi::CallbackInfo& info) {
  Slot* slot = slotOf(info[0], "reportToGc");
  if (slot != nullptr && slot->tensor.defined() && !slot->reported) {
    slot->reported = true;
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), slot->bytes);
  }
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- autograd

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "requiresGrad").requires_grad());
}

Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    at::Tensor tensor = unwrapTensor(info[0], "setRequiresGrad");
    tensor.set_requires_grad(info[1].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  });
}

Napi::Value Grad(const Napi::CallbackInfo& info) {
  return wrapTensor(info.Env(), unwrapTensor(info[0], "grad").grad());
}

Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    at::Tensor tensor = unwrapTensor(info[0], "setGrad");
    if (info[1].IsNull() || info[1].IsUndefined()) {
      tensor.mutable_grad().reset();
    } else {
      tensor.mutable_grad() = unwrapTensor(info[1], "setGrad");
    }
    return info.Env().Undefined();
  });
}

Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0], "isLeaf").is_leaf());
}

Napi::Value RetainGrad(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    unwrapTensor(info[0], "retainGrad").retain_grad();
    return info.Env().Undefined();
  });
}

// backward(tensor, gradient | null, retainGraph)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const at::Tensor& tensor = unwrapTensor(info[0], "backward");
    at::Tensor gradient;
    if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) gradient = unwrapTensor(info[1], "backward");
    std::optional<bool> retain;
    if (info.Length() > 2 && info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    tensor.backward(gradient, retain, false);
    return info.Env().Undefined();
  });
}

Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), previous);
}

// PyTorch's inference mode (no autograd bookkeeping at all, not even version counters), entered and left across
// calls: a per-thread guard that lives until setInferenceMode(false).
thread_local std::unique_ptr<c10::InferenceMode> inferenceGuard;

Napi::Value SetInferenceMode(const Napi::CallbackInfo& info) {
  bool previous = inferenceGuard != nullptr;
  bool enable = info[0].As<Napi::Boolean>().Value();
  if (enable && !previous) inferenceGuard = std::make_unique<c10::InferenceMode>(true);
  if (!enable && previous) inferenceGuard.reset();
  return Napi::Boolean::New(info.Env(), previous);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), c10::GradMode::is_enabled());
}

// ---------------------------------------------------------------- runtime settings

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  });
}

// The CPU generator's state (dropout, random init, sampling), as torch.get_rng_state gives it, so a checkpoint can
// hold it and a resumed run draw the same numbers.
Napi::Value GetCpuRngState(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    at::Tensor state = generator.get_state();
    auto buffer = Napi::ArrayBuffer::New(info.Env(), state.numel());
    std::memcpy(buffer.Data(), state.data_ptr(), state.numel());
    return Napi::Uint8Array::New(info.Env(), state.numel(), buffer, 0);
  });
}

Napi::Value SetCpuRngState(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto bytes = info[0].As<Napi::Uint8Array>();
    at::Tensor state = at::empty({static_cast<int64_t>(bytes.ByteLength())}, at::kByte);
    std::memcpy(state.data_ptr(), bytes.Data(), bytes.ByteLength());
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
    return info.Env().Undefined();
  });
}

// setAutocast(device, enabled, dtype): torch.autocast's switch for this thread. Matrix products and the other ops
// autocast lists run in `dtype` (bfloat16 or float16) while weights stay as they are; leaving the outermost region
// drops the cache of cast weights. Returns whether autocast was on.
Napi::Value SetAutocast(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const std::string device = info[0].As<Napi::String>().Utf8Value();
    const bool enabled = info[1].As<Napi::Boolean>().Value();
    const std::string dtype = info[2].As<Napi::String>().Utf8Value();
    const at::DeviceType type = device == "cuda" ? at::kCUDA : at::kCPU;
    const bool previous = at::autocast::is_autocast_enabled(type);
    if (enabled) {
      at::autocast::set_autocast_dtype(type, dtype == "float16" ? at::kHalf : at::kBFloat16);
      at::autocast::increment_nesting();
    } else if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    at::autocast::set_autocast_enabled(type, enabled);
    return Napi::Boolean::New(info.Env(), previous);
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  });
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  auto result = Napi::Object::New(info.Env());
  result.Set("liveTensors", static_cast<double>(table.liveTensors));
  result.Set("liveBytes", static_cast<double>(table.liveBytes));
  return result;
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  int count = at::hasCUDA() ? at::detail::getCUDAHooks().deviceCount() : 0;
  return Napi::Number::New(info.Env(), count);
}

Napi::Value Version(const Napi::CallbackInfo& info) {
  std::string version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                        std::to_string(TORCH_VERSION_PATCH);
  return Napi::String::New(info.Env(), version);
}

// ---------------------------------------------------------------- NF4 (QLoRA)

tunekit::nf4::Quantized quantizedFrom(const Napi::CallbackInfo& info, size_t first) {
  return {unwrapTensor(info[first], "nf4"), unwrapTensor(info[first + 1], "nf4"), unwrapTensor(info[first + 2], "nf4"),
          unwrapTensor(info[first + 3], "nf4")};
}

// nf4Quantize(weight, blockSize, scaleBlockSize) -> [codes, scaleCodes, scaleScales, scaleOffset]
Napi::Value Nf4Quantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto q = tunekit::nf4::quantize(unwrapTensor(info[0], "nf4Quantize"), info[1].As<Napi::Number>().Int64Value(), info[2].As<Napi::Number>().Int64Value());
    auto result = Napi::Array::New(info.Env(), 4);
    result.Set(0u, wrapTensor(info.Env(), q.codes));
    result.Set(1u, wrapTensor(info.Env(), q.scaleCodes));
    result.Set(2u, wrapTensor(info.Env(), q.scaleScales));
    result.Set(3u, wrapTensor(info.Env(), q.scaleOffset));
    return result;
  });
}

// nf4Dequantize(codes, scaleCodes, scaleScales, scaleOffset, shape, dtype, blockSize, scaleBlockSize, withTensorOps)
Napi::Value Nf4Dequantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto q = quantizedFrom(info, 0);
    auto shape = toIntVector(info[4], "nf4Dequantize shape");
    auto dtype = static_cast<at::ScalarType>(info[5].As<Napi::Number>().Int32Value());
    int64_t block = info[6].As<Napi::Number>().Int64Value();
    int64_t scaleBlock = info[7].As<Napi::Number>().Int64Value();
    bool tensorOps = info.Length() > 8 && info[8].ToBoolean().Value();
    at::Tensor out = tensorOps ? tunekit::nf4::dequantizeWithTensorOps(q, shape, dtype, block, scaleBlock)
                               : tunekit::nf4::dequantize(q, shape, dtype, block, scaleBlock);
    return wrapTensor(info.Env(), out);
  });
}

// nf4Linear(input, codes, scaleCodes, scaleScales, scaleOffset, shape, blockSize, scaleBlockSize)
Napi::Value Nf4Linear(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto q = quantizedFrom(info, 1);
    auto shape = toIntVector(info[5], "nf4Linear shape");
    at::Tensor out = tunekit::nf4::linear(unwrapTensor(info[0], "nf4Linear"), q, shape, info[6].As<Napi::Number>().Int64Value(),
                                          info[7].As<Napi::Number>().Int64Value());
    return wrapTensor(info.Env(), out);
  });
}

Napi::Value Nf4Levels(const Napi::CallbackInfo& info) {
  auto result = Napi::Array::New(info.Env(), 16);
  for (uint32_t i = 0; i < 16; i++) result.Set(i, static_cast<double>(tunekit::nf4::kLevels[i]));
  return result;
}

// ---------------------------------------------------------------- c10d (data parallel)

// distributedBackends() -> the process group backends this build has ([] when built without Gloo's headers).
Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  auto result = Napi::Array::New(info.Env());
#if defined(TUNEKIT_DISTRIBUTED)
  result.Set(0u, Napi::String::New(info.Env(), "gloo"));
#endif
  return result;
}

#if defined(TUNEKIT_DISTRIBUTED)
// distCreateGroup({masterAddr, masterPort, rank, worldSize, timeoutMs}) -> group id. Blocks until every rank joined.
Napi::Value DistCreateGroup(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    auto options = info[0].As<Napi::Object>();
    tunekit::distributed::GroupOptions group;
    group.masterAddr = options.Get("masterAddr").As<Napi::String>().Utf8Value();
    group.masterPort = options.Get("masterPort").As<Napi::Number>().Int32Value();
    group.rank = options.Get("rank").As<Napi::Number>().Int32Value();
    group.worldSize = options.Get("worldSize").As<Napi::Number>().Int32Value();
    group.timeoutMs = options.Get("timeoutMs").As<Napi::Number>().Int64Value();
    return Napi::Number::New(info.Env(), tunekit::distributed::createGroup(group));
  });
}

Napi::Value DistDestroyGroup(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    tunekit::distributed::destroyGroup(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  });
}

// distCollective(group, op, tensor, other | root): allreduce (sum, in place), broadcast (root), allgather (tensor =
// output, other = input), reduceScatter (tensor = output, other = input), barrier.
Napi::Value DistCollective(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const int group = info[0].As<Napi::Number>().Int32Value();
    const std::string op = info[1].As<Napi::String>().Utf8Value();
    if (op == "barrier") {
      tunekit::distributed::barrier(group);
      return info.Env().Undefined();
    }
    at::Tensor tensor = unwrapTensor(info[2], op.c_str());
    if (op == "allreduce") tunekit::distributed::allreduceSum(group, tensor);
    else if (op == "broadcast") tunekit::distributed::broadcast(group, tensor, info[3].As<Napi::Number>().Int32Value());
    else {
      at::Tensor other = unwrapTensor(info[3], op.c_str());
      if (op == "allgather") tunekit::distributed::allgather(group, tensor, other);
      else if (op == "reduceScatter") tunekit::distributed::reduceScatterSum(group, tensor, other);
      else throw Napi::TypeError::New(info.Env(), "unknown collective " + op);
    }
    return info.Env().Undefined();
  });
}
#endif

// Training allocates and frees the same large activation buffers every step. glibc serves blocks above its mmap
// threshold with fresh mmap()s (page faults and zeroing each time) and trims freed heap back to the OS; keeping
// them in the heap instead measured ~7% faster per training step. TUNEKIT_MALLOC=default keeps glibc's settings.
void tuneAllocator() {
#if defined(__GLIBC__)
  const char* setting = std::getenv("TUNEKIT_MALLOC");
  if (setting != nullptr && std::string(setting) == "default") return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TOP_PAD, 16 * 1024 * 1024);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static bool tuned = false;
  if (!tuned) {
    tuneAllocator();
    tuned = true;
  }
  auto set = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  set("opHandle", OpHandle);
  set("opSchema", OpSchema);
  set("opReturns", OpReturns);
  set("call", Call);
  set("fromBytes", FromBytes);
  set("toBytes", ToBytes);
  set("shape", Shape);
  set("dtype", Dtype);
  set("device", DeviceOf);
  set("item", Item);
  set("dispose", Dispose);
  set("reportToGc", ReportToGc);
  set("requiresGrad", RequiresGrad);
  set("setRequiresGrad", SetRequiresGrad);
  set("grad", Grad);
  set("setGrad", SetGrad);
  set("isLeaf", IsLeaf);
  set("retainGrad", RetainGrad);
  set("backward", Backward);
  set("setGradEnabled", SetGradEnabled);
  set("isGradEnabled", IsGradEnabled);
  set("setInferenceMode", SetInferenceMode);
  set("manualSeed", ManualSeed);
  set("getCpuRngState", GetCpuRngState);
  set("setAutocast", SetAutocast);
  set("setCpuRngState", SetCpuRngState);
  set("setNumThreads", SetNumThreads);
  set("getNumThreads", GetNumThreads);
  set("memory", Memory);
  set("cudaDeviceCount", CudaDeviceCount);
  set("version", Version);
  set("nf4Quantize", Nf4Quantize);
  set("nf4Dequantize", Nf4Dequantize);
  set("nf4Linear", Nf4Linear);
  set("nf4Levels", Nf4Levels);
  set("distributedBackends", DistributedBackends);
#if defined(TUNEKIT_DISTRIBUTED)
  set("distCreateGroup", DistCreateGroup);
  set("distDestroyGroup", DistDestroyGroup);
  set("distCollective", DistCollective);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(tunekit, Init)
