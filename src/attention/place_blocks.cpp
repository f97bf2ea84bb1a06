#include "attention/place_blocks.h"

#include "blockattn/error.h"

#if defined(BLOCKATTN_WITH_KERNELS)
#include <c10/cuda/CUDAStream.h>

#include "kernels/rope_place.h"
#endif

namespace blockattn {

void place_blocks_reference(const Model& model, const std::vector<BlockPlacement>& blocks,
                            KVCache& cache) {
  const int64_t begin = cache.size();
  std::vector<int64_t> offsets, lengths;
  for (const BlockPlacement& b : blocks) {
    if (b.offset != cache.size()) throw Error("internal: a block's offset is not its position");
    cache.append_block(b.kv->k, b.kv->v);
    offsets.push_back(b.offset);
    lengths.push_back(b.kv->k.size(2));
  }
  if (blocks.empty()) return;
  // Every key of every block moved in one pass instead of one rotation per block.
  torch::Tensor keys = cache.key_range(begin, cache.size());  // [n_layer, n_kv, Σ n, hd]
  keys.copy_(model.rope().shift_blocks(keys, offsets, lengths));
}

#if defined(BLOCKATTN_WITH_KERNELS)
namespace {

std::optional<kernels::ElementType> element_type(torch::ScalarType t) {
  if (t == torch::kFloat32) return kernels::ElementType::kFloat32;
  if (t == torch::kBFloat16) return kernels::ElementType::kBFloat16;
  if (t == torch::kHalf) return kernels::ElementType::kFloat16;
  return std::nullopt;
}

// False when the fused kernel does not apply (the caller takes the reference path).
bool place_blocks_fused(const Model& model, const std::vector<BlockPlacement>& blocks,
                        KVCache& cache) {
  const torch::Device device = model.device();
  const auto type = element_type(model.dtype());
  const int64_t head_dim = model.config().head_dim;
  if (!device.is_cuda() || !type || head_dim % 2 != 0 || head_dim / 2 > 256) return false;
  int64_t total = 0, max_tok = 0;
  for (const BlockPlacement& b : blocks) {
    for (const torch::Tensor* t : {&b.kv->k, &b.kv->v})
      if (!t->is_cuda() || !t->is_contiguous() || t->scalar_type() != model.dtype()) return false;
    if (b.offset != cache.size() + total)
      throw Error("internal: a block's offset is not its position");
    total += b.kv->k.size(2);
    max_tok = std::max(max_tok, b.kv->k.size(2));
  }
  const int64_t begin = cache.size();
  cache.reserve(total);
  // Per block: cos and sin of its offset (double, rounded to fp32, as shift_blocks uses).
  std::vector<int64_t> offsets;
  for (const BlockPlacement& b : blocks) offsets.push_back(b.offset);
  const int64_t half = head_dim / 2;
  auto [cos, sin] = model.rope().cos_sin(offsets, torch::TensorOptions().dtype(torch::kFloat32));
  const auto pinned = torch::TensorOptions().pinned_memory(true);
  torch::Tensor angles = torch::empty({static_cast<int64_t>(blocks.size()), 2, half},
                                      pinned.dtype(torch::kFloat32));  // [n, 2, half]
  angles.select(1, 0).copy_(cos.narrow(1, 0, half));
  angles.select(1, 1).copy_(sin.narrow(1, 0, half));
  constexpr int64_t kFields = sizeof(kernels::PlacedBlock) / sizeof(int64_t);
  static_assert(sizeof(kernels::PlacedBlock) == kFields * sizeof(int64_t));
  torch::Tensor meta = torch::empty({static_cast<int64_t>(blocks.size()), kFields},
                                    pinned.dtype(torch::kInt64));  // [n, kFields]: PlacedBlock
  auto* placed = reinterpret_cast<kernels::PlacedBlock*>(meta.data_ptr<int64_t>());
  int64_t at = begin;
  for (size_t i = 0; i < blocks.size(); ++i) {
    placed[i].k_src = reinterpret_cast<int64_t>(blocks[i].kv->k.data_ptr());
    placed[i].v_src = reinterpret_cast<int64_t>(blocks[i].kv->v.data_ptr());
    placed[i].n_tok = blocks[i].kv->k.size(2);
    placed[i].dst_start = at;
    placed[i].angle_row = static_cast<int64_t>(i);
    at += placed[i].n_tok;
  }
  torch::Tensor angles_dev = angles.to(device, /*non_blocking=*/true);
  torch::Tensor meta_dev = meta.to(device, /*non_blocking=*/true);
  torch::Tensor k_all = cache.key_range(0, cache.size());    // [n_layer, n_kv, size, hd]
  torch::Tensor v_all = cache.value_range(0, cache.size());  // [n_layer, n_kv, size, hd]
  kernels::RopePlaceArgs args;
  args.blocks = reinterpret_cast<const kernels::PlacedBlock*>(meta_dev.data_ptr<int64_t>());
  args.angles = angles_dev.data_ptr<float>();
  args.k_dst = k_all.data_ptr();
  args.v_dst = v_all.data_ptr();
  args.n_blocks = static_cast<int64_t>(blocks.size());
  args.max_tok = max_tok;
  args.n_layer = k_all.size(0);
  args.n_kv = k_all.size(1);
  args.capacity = k_all.stride(1) / head_dim;
  args.head_dim = head_dim;
  args.type = *type;
  if (v_all.stride(1) != k_all.stride(1)) throw Error("internal: keys and values differ in layout");
  const char* err = kernels::place_blocks_kv(
      args, placed, c10::cuda::getCurrentCUDAStream(device.index()).stream());
  if (err) throw Error(std::string("CUDA kernel place_blocks_kv failed: ") + err);
  return true;
}

}  // namespace
#endif

void place_blocks(const Model& model, const std::vector<BlockPlacement>& blocks, KVCache& cache) {
  if (blocks.empty()) return;
#if defined(BLOCKATTN_WITH_KERNELS)
  if (place_blocks_fused(model, blocks, cache)) return;
#endif
  place_blocks_reference(model, blocks, cache);
}

}  // namespace blockattn
