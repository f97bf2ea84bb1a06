// Training checkpoints: OUT/checkpoint/{state.json, state.safetensors}.
//
// state.safetensors holds, per weight, "master/<name>", "exp_avg/<name>", "exp_avg_sq/<name>"
// (fp32) and "rng/torch_cpu" (the default CPU generator's state, uint8). state.json holds the
// step, data cursor, tokens seen, elapsed time, data fingerprint and the full config. A new
// checkpoint is written to OUT/checkpoint.partial/ and swapped in with renames, so a crash at
// any point leaves a complete checkpoint (OUT/checkpoint, or OUT/checkpoint.prev mid-swap).
#pragma once

#include <cstdint>
#include <string>

namespace blockattn::train {

class AdamW;

struct TrainState {
  int64_t step = 0;           // optimizer steps completed
  uint64_t train_cursor = 0;  // windows drawn by the training sampler
  uint64_t tokens_seen = 0;
  double elapsed_s = 0;       // training wall time over all runs
  std::string data_fingerprint;  // tokenizer fingerprint of the training shards
  std::string config_json;       // PretrainConfig::canonical_json
};

// The directory holding the newest complete checkpoint under `out_dir`, or "" if none.
std::string find_checkpoint(const std::string& out_dir);

void save_checkpoint(const std::string& out_dir, AdamW& opt, const TrainState& state);

// FormatError naming the file for a malformed state.json.
TrainState read_checkpoint_state(const std::string& checkpoint_dir);

// Copies every tensor into `opt` (masters, moments; then the model weights) and restores the
// torch CPU generator. FormatError naming the tensor if one is missing or has another shape.
void restore_checkpoint_tensors(const std::string& checkpoint_dir, AdamW& opt);

}  // namespace blockattn::train
