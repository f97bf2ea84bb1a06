// Helpers for the libtorch test suites.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoint/safetensors.h"
#include "model/model.h"
#include "model/torch_dtype.h"
#include "test_util.h"

namespace blockattn::test {

inline const std::vector<std::string>& fixture_archs() {
  static const std::vector<std::string> archs = {"llama", "mistral", "qwen2", "qwen3"};
  return archs;
}

inline std::string model_fixture(const std::string& arch) { return fixture("models/tiny-" + arch); }

// A tensor from a safetensors file, as a CPU torch tensor.
inline torch::Tensor read_tensor(const std::string& path, const std::string& name) {
  SafetensorsFile f = SafetensorsFile::open(path);
  const TensorInfo& info = f.at(name);
  torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(to_torch(info.dtype)));
  f.read(info, t.data_ptr());
  return t;
}

inline std::vector<int32_t> to_ids(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kInt64).contiguous();
  return std::vector<int32_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// n token ids spread over [4, vocab) (ids below 4 are often special), starting from `first`.
inline std::vector<int32_t> ids_range(int32_t first, int n, int32_t vocab) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(4 + (first + 37 * i) % (vocab - 4));
  return out;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}

}  // namespace blockattn::test
