#include "model/fused_ops.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "blockattn/error.h"

#if defined(BLOCKATTN_WITH_KERNELS)
#include <c10/cuda/CUDAStream.h>

#include "kernels/layer_ops.h"
#endif

namespace blockattn {

#if defined(BLOCKATTN_WITH_KERNELS)
namespace {

std::optional<kernels::ElementType> usable(const torch::Tensor& x) {
  static const bool enabled = [] {
    const char* env = std::getenv("BLOCKATTN_FUSED_KERNELS");
    return !(env && std::string(env) == "0");
  }();
  if (!enabled || !x.is_cuda() || !x.is_contiguous() || torch::GradMode::is_enabled())
    return std::nullopt;
  if (x.scalar_type() == torch::kFloat32) return kernels::ElementType::kFloat32;
  if (x.scalar_type() == torch::kBFloat16) return kernels::ElementType::kBFloat16;
  if (x.scalar_type() == torch::kHalf) return kernels::ElementType::kFloat16;
  return std::nullopt;
}

void check(const char* err, const char* what) {
  if (err) throw Error(std::string("CUDA kernel ") + what + " failed: " + err);
}

}  // namespace
#endif

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(x);
  const int64_t hidden = x.size(-1);
  if (type && weight.is_contiguous() && weight.numel() == hidden &&
      weight.scalar_type() == x.scalar_type() && weight.device() == x.device()) {
    torch::Tensor out = torch::empty_like(x);
    check(kernels::rms_norm(x.data_ptr(), weight.data_ptr(), out.data_ptr(), x.numel() / hidden,
                            hidden, static_cast<float>(eps), *type,
                            c10::cuda::getCurrentCUDAStream(x.device().index()).stream()),
          "rms_norm");
    return out;
  }
#else
  (void)x, (void)weight, (void)eps;
#endif
  return {};
}

torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(x);
  if (!type || x.dim() != 4 || !cos.is_contiguous() || !sin.is_contiguous() ||
      cos.scalar_type() != x.scalar_type() || sin.scalar_type() != x.scalar_type() ||
      cos.sizes() != sin.sizes() || x.size(3) % 2 != 0)
    return {};
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), hd = x.size(3);
  int64_t batch_stride = 0;
  if (cos.dim() == 2 && cos.size(0) == T && cos.size(1) == hd) {
    batch_stride = 0;
  } else if (cos.dim() == 4 && cos.size(0) == B && cos.size(1) == 1 && cos.size(2) == T &&
             cos.size(3) == hd) {
    batch_stride = T * hd;
  } else {
    return {};
  }
  torch::Tensor out = torch::empty({B, H, T, hd}, x.options());
  check(kernels::rope(x.data_ptr(), cos.data_ptr(), sin.data_ptr(), out.data_ptr(), B, T, H, hd,
                      batch_stride, *type,
                      c10::cuda::getCurrentCUDAStream(x.device().index()).stream()),
        "rope");
  return out;
#else
  (void)x, (void)cos, (void)sin;
  return {};
#endif
}

}  // namespace blockattn
