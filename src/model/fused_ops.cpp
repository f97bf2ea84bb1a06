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

// The kernels' element type for x, or nothing where the fused kernels do not apply. Layouts
// are each caller's to check.
std::optional<kernels::ElementType> usable(const torch::Tensor& x) {
  static const bool enabled = [] {
    const char* env = std::getenv("BLOCKATTN_FUSED_KERNELS");
    return !(env && std::string(env) == "0");
  }();
  if (!enabled || !x.is_cuda() || torch::GradMode::is_enabled()) return std::nullopt;
  if (x.scalar_type() == torch::kFloat32) return kernels::ElementType::kFloat32;
  if (x.scalar_type() == torch::kBFloat16) return kernels::ElementType::kBFloat16;
  if (x.scalar_type() == torch::kHalf) return kernels::ElementType::kFloat16;
  return std::nullopt;
}

void check(const char* err, const char* what) {
  if (err) throw Error(std::string("CUDA kernel ") + what + " failed: " + err);
}

void* stream_of(const torch::Tensor& x) {
  return c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
}

bool norm_weight_fits(const torch::Tensor& x, const torch::Tensor& weight) {
  return weight.is_contiguous() && weight.numel() == x.size(-1) &&
         weight.scalar_type() == x.scalar_type() && weight.device() == x.device();
}

}  // namespace
#endif

torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(x);
  if (type && x.is_contiguous() && norm_weight_fits(x, weight)) {
    const int64_t hidden = x.size(-1);
    torch::Tensor out = torch::empty_like(x);
    check(
        kernels::rms_norm(x.data_ptr(), nullptr, weight.data_ptr(), nullptr, out.data_ptr(),
                          x.numel() / hidden, hidden, static_cast<float>(eps), *type, stream_of(x)),
        "rms_norm");
    return out;
  }
#else
  (void)x, (void)weight, (void)eps;
#endif
  return {};
}

std::pair<torch::Tensor, torch::Tensor> fused_add_rms_norm(const torch::Tensor& x,
                                                           const torch::Tensor& delta,
                                                           const torch::Tensor& weight,
                                                           double eps) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(x);
  if (type && x.is_contiguous() && delta.is_contiguous() && delta.sizes() == x.sizes() &&
      delta.scalar_type() == x.scalar_type() && norm_weight_fits(x, weight)) {
    const int64_t hidden = x.size(-1);
    torch::Tensor sum = torch::empty_like(x);
    torch::Tensor out = torch::empty_like(x);
    check(kernels::rms_norm(x.data_ptr(), delta.data_ptr(), weight.data_ptr(), sum.data_ptr(),
                            out.data_ptr(), x.numel() / hidden, hidden, static_cast<float>(eps),
                            *type, stream_of(x)),
          "rms_norm");
    return {sum, out};
  }
#else
  (void)x, (void)delta, (void)weight, (void)eps;
#endif
  return {};
}

torch::Tensor fused_silu_mul(const torch::Tensor& gate_up) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(gate_up);
  if (type && gate_up.dim() == 2 && gate_up.is_contiguous() && gate_up.size(1) % 2 == 0) {
    const int64_t rows = gate_up.size(0), inter = gate_up.size(1) / 2;
    torch::Tensor out = torch::empty({rows, inter}, gate_up.options());  // [rows, inter]
    check(kernels::silu_mul(gate_up.data_ptr(), out.data_ptr(), rows, inter, *type,
                            stream_of(gate_up)),
          "silu_mul");
    return out;
  }
#else
  (void)gate_up;
#endif
  return {};
}

torch::Tensor fused_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
#if defined(BLOCKATTN_WITH_KERNELS)
  const auto type = usable(x);
  // Heads adjacent and head_dim contiguous; tokens at one stride (contiguous x, or the q / k
  // columns of a fused QKV projection's [B*T, ...] output).
  if (!type || x.dim() != 4 || x.stride(3) != 1 || x.stride(2) != x.size(3) ||
      x.stride(0) != x.size(1) * x.stride(1) || !cos.is_contiguous() || !sin.is_contiguous() ||
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
                      x.stride(1), batch_stride, *type, stream_of(x)),
        "rope");
  return out;
#else
  (void)x, (void)cos, (void)sin;
  return {};
#endif
}

}  // namespace blockattn
