// --adapter and --adapter-mode, shared by every command that builds an Engine (generate, eval,
// serve).
#pragma once

#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "blockattn/engine.h"

namespace blockattn::cli {

inline void add_adapter_options(CLI::App* cmd, EngineConfig& engine) {
  cmd->add_option("--adapter", engine.adapter_dir,
                  "LoRA adapter directory in PEFT's layout (adapter_config.json,\n"
                  "adapter_model.safetensors), e.g. made by `blockattn distill` with \"lora\".\n"
                  "Merged into a second copy of the weights at startup")
      ->check(CLI::ExistingDirectory);
  static const std::map<std::string, AdapterMode> modes = {{"block", AdapterMode::kBlock},
                                                           {"always", AdapterMode::kAlways}};
  cmd->add_option("--adapter-mode", engine.adapter_mode,
                  "block: the adapter serves block-mode requests and full mode is the base model\n"
                  "exactly; always: it serves every request")
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
      ->default_str("block");
}

}  // namespace blockattn::cli
