// Final-block language modelling (`blockattn eval --task final-block`): how well the last block
// of a held-out document is predicted from the blocks before it, in full attention and in block
// attention. The difference is the quality that block attention costs and that block fine-tuning
// or distillation must win back.
//
// Each instance (a text cut into gold blocks, e.g. `segdata build` output) is tokenized block by
// block, as the engine does; the last block plus as many preceding blocks as fit in `window`
// tokens form one sequence. Both modes score the same predictions: every token of the final block
// after its first (the first has no in-block history in block mode; the engine never predicts
// it). Both modes use attention/prompt_layout.h's layout with the model's sinks (resolve_sinks),
// as the engine lays out prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "segdata/dataset_instance.h"

namespace blockattn {
class Model;
class Tokenizer;
}  // namespace blockattn

namespace blockattn::eval {

struct FinalBlockOptions {
  int64_t window = 2048;        // tokens per sequence (<= the model's context)
  size_t min_final_tokens = 8;  // instances whose last block is shorter are skipped
};

struct FinalBlockLoss {
  uint64_t instances = 0, tokens = 0, blocks = 0;  // blocks: context blocks used, summed
  double full_nll = 0, block_nll = 0;              // summed over scored tokens, nats
  double full_loss() const { return tokens ? full_nll / tokens : 0; }
  double block_loss() const { return tokens ? block_nll / tokens : 0; }
};

struct FinalBlockResult {
  std::map<std::string, FinalBlockLoss> by_category;
  FinalBlockLoss all;
  uint64_t skipped = 0;  // final block too short, or no context block fits
};

// InputError when no instance can be scored or the window exceeds the context.
FinalBlockResult eval_final_block(const Model& model, const Tokenizer& tokenizer,
                                  const std::vector<segment::SegInstance>& instances,
                                  const FinalBlockOptions& options,
                                  const std::function<void(size_t, size_t)>& progress = {});

}  // namespace blockattn::eval
