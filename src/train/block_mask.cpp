#include "train/block_mask.h"

#include "blockattn/error.h"

namespace blockattn::train {

torch::Tensor block_attention_mask(const std::vector<int64_t>& block_lengths, torch::Device device,
                                   const std::vector<size_t>& global) {
  if (block_lengths.empty()) throw InputError("a block-attention mask needs at least one block");
  std::vector<int64_t> block_of;  // [T]: block index of each token, global blocks as -1
  for (size_t b = 0; b < block_lengths.size(); ++b) {
    if (block_lengths[b] <= 0) throw InputError("block " + std::to_string(b) + " has no tokens");
    bool is_global = b + 1 == block_lengths.size();
    for (size_t g : global) is_global = is_global || g == b;
    block_of.insert(block_of.end(), block_lengths[b], is_global ? -1 : static_cast<int64_t>(b));
  }
  const int64_t T = static_cast<int64_t>(block_of.size());
  torch::Tensor id = torch::tensor(block_of, torch::kInt64);  // [T]
  torch::Tensor same = id.unsqueeze(1) == id.unsqueeze(0);    // [T, T]: query row, key column
  torch::Tensor global_row = (id == -1).unsqueeze(1).expand({T, T});  // [T, T]
  torch::Tensor causal = torch::ones({T, T}, torch::kBool).tril();    // [T, T]
  return ((same | global_row) & causal).to(device);
}

}  // namespace blockattn::train
