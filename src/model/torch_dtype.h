// Conversions between blockattn::DType, dtype names and torch scalar types.
#pragma once

#include <torch/torch.h>

#include <string>

#include "blockattn/dtype.h"

namespace blockattn {

torch::ScalarType to_torch(DType t);       // UnsupportedError for types torch lacks here
DType from_torch(torch::ScalarType t);     // UnsupportedError for others
// "float32"/"fp32"/"f32", "bfloat16"/"bf16", "float16"/"fp16"/"half" → scalar type; else UnsupportedError.
torch::ScalarType parse_float_dtype(const std::string& name);
std::string float_dtype_name(torch::ScalarType t);  // "float32", "bfloat16", "float16"

}  // namespace blockattn
