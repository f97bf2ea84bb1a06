#include "model/kv_cache.h"

#include "blockattn/error.h"

namespace blockattn {

KVCache::KVCache(const ModelConfig& config, int64_t capacity, torch::TensorOptions options)
    : capacity_(capacity),
      k_(torch::empty({config.num_layers, config.num_kv_heads, capacity, config.head_dim},
                      options)),
      v_(torch::empty({config.num_layers, config.num_kv_heads, capacity, config.head_dim},
                      options)) {}

void KVCache::check_room(int64_t n) const {
  if (size_ + n > capacity_)
    throw InputError("sequence of " + std::to_string(size_ + n) +
                     " tokens exceeds the KV cache capacity of " + std::to_string(capacity_));
}

void KVCache::write(int64_t layer, const torch::Tensor& k_new, const torch::Tensor& v_new) {
  const int64_t n = k_new.size(2);
  check_room(n);
  k_[layer].narrow(1, size_, n).copy_(k_new[0]);
  v_[layer].narrow(1, size_, n).copy_(v_new[0]);
}

void KVCache::commit(int64_t n_new) {
  check_room(n_new);
  size_ += n_new;
}

torch::Tensor KVCache::keys(int64_t layer, int64_t upto) const {
  return k_[layer].narrow(1, 0, upto).unsqueeze(0);
}
torch::Tensor KVCache::values(int64_t layer, int64_t upto) const {
  return v_[layer].narrow(1, 0, upto).unsqueeze(0);
}

void KVCache::append_block(const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t n = k.size(2);
  check_room(n);
  k_.narrow(2, size_, n).copy_(k);
  v_.narrow(2, size_, n).copy_(v);
  size_ += n;
}

std::pair<torch::Tensor, torch::Tensor> KVCache::reserve(int64_t n) {
  check_room(n);
  auto views = std::make_pair(k_.narrow(2, size_, n), v_.narrow(2, size_, n));
  size_ += n;
  return views;
}

std::pair<torch::Tensor, torch::Tensor> KVCache::export_range(int64_t begin, int64_t end) const {
  if (begin == 0 && end == capacity_) return {k_, v_};  // a block's own cache: no copy needed
  return {k_.narrow(2, begin, end - begin).clone(), v_.narrow(2, begin, end - begin).clone()};
}

}  // namespace blockattn
