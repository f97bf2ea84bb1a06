#include "model/torch_dtype.h"

#include "blockattn/error.h"

namespace blockattn {

torch::ScalarType to_torch(DType t) {
  switch (t) {
    case DType::kF32: return torch::kFloat32;
    case DType::kF16: return torch::kFloat16;
    case DType::kBF16: return torch::kBFloat16;
    case DType::kF64: return torch::kFloat64;
    case DType::kI64: return torch::kInt64;
    case DType::kI32: return torch::kInt32;
    case DType::kI16: return torch::kInt16;
    case DType::kI8: return torch::kInt8;
    case DType::kU8: return torch::kUInt8;
    case DType::kBool: return torch::kBool;
    default: break;
  }
  throw UnsupportedError("dtype " + std::string(dtype_name(t)) + " has no libtorch equivalent here");
}

DType from_torch(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return DType::kF32;
    case torch::kFloat16: return DType::kF16;
    case torch::kBFloat16: return DType::kBF16;
    case torch::kFloat64: return DType::kF64;
    case torch::kInt64: return DType::kI64;
    case torch::kInt32: return DType::kI32;
    case torch::kInt16: return DType::kI16;
    case torch::kInt8: return DType::kI8;
    case torch::kUInt8: return DType::kU8;
    case torch::kBool: return DType::kBool;
    default: break;
  }
  throw UnsupportedError(std::string("torch dtype ") + c10::toString(t) + " is not supported");
}

torch::ScalarType parse_float_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "f32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "f16" || name == "half") return torch::kFloat16;
  throw UnsupportedError("unsupported dtype \"" + name + "\" (use float32, bfloat16 or float16)");
}

std::string float_dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return c10::toString(t);
  }
}

}  // namespace blockattn
