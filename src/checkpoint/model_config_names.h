// The supported architectures and their names in config.json (internal to src/checkpoint).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "blockattn/model_config.h"

namespace blockattn {

// Largest blockattn.block_sink_tokens accepted from config.json (the engine's --sinks range).
inline constexpr int32_t kMaxBlockSinkTokens = 64;

struct ArchitectureNames {
  Architecture arch;
  const char* model_type;  // config.json "model_type"
  const char* class_name;  // config.json "architectures"[0]
};

const ArchitectureNames& architecture_names(Architecture arch);
// nullptr if unknown.
const ArchitectureNames* find_architecture_by_model_type(std::string_view model_type);
const ArchitectureNames* find_architecture_by_class(std::string_view class_name);
// "llama, mistral, qwen2, qwen3", for error messages.
std::string supported_model_types();

}  // namespace blockattn
