// Writing a model in the Hugging Face layout the loader reads (config.json + model.safetensors).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include <string>

namespace blockattn {

class Model;

// Writes <dir>/config.json and the weights cast to `dtype` (each file atomically): one
// model.safetensors, or — when they exceed `max_shard_bytes` > 0 — Hugging Face shards
// model-0000i-of-0000N.safetensors + model.safetensors.index.json. Earlier model*.safetensors*
// files in `dir` are removed. The directory must exist. The tokenizer is the caller's to copy.
void save_model(Model& model, const std::string& dir, torch::ScalarType dtype,
                uint64_t max_shard_bytes = 0);

// Copies every regular file of `from` whose name starts with "tokenizer" into `to` (atomically
// each): the tokenizer beside a model written by save_model.
void copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace blockattn
