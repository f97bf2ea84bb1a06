// Writing a model in the Hugging Face layout the loader reads (config.json + model.safetensors).
#pragma once

#include <torch/torch.h>

#include <string>

namespace blockattn {

class Model;

// Writes <dir>/config.json and <dir>/model.safetensors (atomically) with weights cast to
// `dtype`. The directory must exist. The tokenizer is the caller's to copy.
void save_model(Model& model, const std::string& dir, torch::ScalarType dtype);

}  // namespace blockattn
