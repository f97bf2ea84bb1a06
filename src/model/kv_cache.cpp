#include "model/kv_cache.h"

#include "blockattn/error.h"

namespace blockattn {

KVCache::KVCache(const ModelConfig& config, int64_t capacity, torch::TensorOptions options)
    : capacity_(capacity) {
  k_.reserve(config.num_layers);
  v_.reserve(config.num_layers);
  for (int64_t l = 0; l < config.num_layers; ++l) {
    k_.push_back(torch::empty({1, config.num_kv_heads, capacity, config.head_dim}, options));
    v_.push_back(torch::empty({1, config.num_kv_heads, capacity, config.head_dim}, options));
  }
}

void KVCache::check_room(int64_t n) const {
  if (size_ + n > capacity_)
    throw InputError("sequence of " + std::to_string(size_ + n) + " tokens exceeds the KV cache capacity of " +
                     std::to_string(capacity_));
}

void KVCache::write(int64_t layer, const torch::Tensor& k_new, const torch::Tensor& v_new) {
  const int64_t n = k_new.size(2);
  check_room(n);
  k_[layer].narrow(2, size_, n).copy_(k_new);
  v_[layer].narrow(2, size_, n).copy_(v_new);
}

void KVCache::commit(int64_t n_new) {
  check_room(n_new);
  size_ += n_new;
}

torch::Tensor KVCache::keys(int64_t layer, int64_t upto) const { return k_[layer].narrow(2, 0, upto); }
torch::Tensor KVCache::values(int64_t layer, int64_t upto) const { return v_[layer].narrow(2, 0, upto); }

void KVCache::append_block(const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t n = k.size(2);
  check_room(n);
  for (int64_t l = 0; l < num_layers(); ++l) {
    k_[l].narrow(2, size_, n).copy_(k[l].unsqueeze(0));
    v_[l].narrow(2, size_, n).copy_(v[l].unsqueeze(0));
  }
  size_ += n;
}

std::pair<torch::Tensor, torch::Tensor> KVCache::export_range(int64_t begin, int64_t end) const {
  std::vector<torch::Tensor> ks, vs;
  for (int64_t l = 0; l < num_layers(); ++l) {
    ks.push_back(k_[l][0].narrow(1, begin, end - begin));
    vs.push_back(v_[l][0].narrow(1, begin, end - begin));
  }
  return {torch::stack(ks), torch::stack(vs)};  // [n_layer, n_kv_head, n, head_dim] each
}

}  // namespace blockattn
