// `blockattn info`: what a model directory holds.
#include <cstdio>
#include <memory>

#include "adapter_options.h"
#include "blockattn/engine.h"
#include "commands.h"

namespace blockattn::cli {

Runner add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "info", "Print a model's architecture, size, dtype, context and tokenizer");
  auto config = std::make_shared<EngineConfig>();
  cmd->add_option("-m,--model", config->model_dir,
                  "Model directory (config.json, *.safetensors, tokenizer)")
      ->required();
  cmd->add_option("--device", config->device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--dtype", config->dtype, "auto | float32 | bfloat16 | float16")
      ->capture_default_str();
  add_adapter_options(cmd, *config);
  return [config] {
    config->cache.memory_budget_bytes = 0;
    auto engine = Engine::create(*config);
    ModelInfo i = engine->info();
    std::printf("architecture   %s\n", i.architecture.c_str());
    std::printf("parameters     %lld (%.2f M)\n", static_cast<long long>(i.parameters),
                i.parameters / 1e6);
    std::printf("layers         %lld\n", static_cast<long long>(i.num_layers));
    std::printf("hidden size    %lld\n", static_cast<long long>(i.hidden_size));
    std::printf("heads          %lld query, %lld key/value, head_dim %lld\n",
                static_cast<long long>(i.num_heads), static_cast<long long>(i.num_kv_heads),
                static_cast<long long>(i.head_dim));
    std::printf("vocabulary     %lld\n", static_cast<long long>(i.vocab_size));
    std::printf("context        %lld tokens\n", static_cast<long long>(i.context_length));
    std::printf("dtype          %s stored, %s in use on %s\n", i.stored_dtype.c_str(),
                i.dtype.c_str(), i.device.c_str());
    std::printf("tokenizer      %s\n", i.tokenizer.c_str());
    std::printf("block sinks    %d\n", i.sink_tokens);
    std::printf("fingerprint    %s\n", i.fingerprint.c_str());
    if (!i.adapter.empty()) std::printf("adapter        %s\n", i.adapter.c_str());
    return 0;
  };
}

}  // namespace blockattn::cli
