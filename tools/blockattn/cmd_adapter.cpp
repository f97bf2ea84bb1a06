// `blockattn adapter`: make, inspect and merge LoRA adapters in PEFT's layout.
#include <cstdio>
#include <memory>

#include <filesystem>
#include "blockattn/error.h"
#include "blockattn/model_config.h"
#include "commands.h"
#include "core/io.h"
#include "model/lora.h"
#include "model/model.h"
#include "model/model_io.h"
#include "model/torch_dtype.h"
#include "option_checks.h"

namespace blockattn::cli {

namespace {

struct InitOptions {
  std::string model_dir, out, targets = "q_proj,k_proj,v_proj,o_proj";
  LoraConfig lora;
  uint64_t seed = 1;
  double b_std = 0;
};

struct MergeOptions {
  std::string model_dir, adapter_dir, out, dtype = "auto";
};

int run_init(InitOptions& o) {
  ModelConfig model = ModelConfig::load(o.model_dir);
  o.lora.targets.clear();
  for (size_t start = 0, comma; start <= o.targets.size(); start = comma + 1) {
    comma = o.targets.find(',', start);
    if (comma == std::string::npos) comma = o.targets.size();
    if (comma > start) o.lora.targets.push_back(o.targets.substr(start, comma - start));
  }
  o.lora.base_model = o.model_dir;
  LoraAdapter adapter = new_lora_adapter(model, o.lora, torch::kCPU, o.seed, o.b_std);
  save_lora_adapter(adapter, o.out);
  std::fprintf(stderr, "wrote %s: LoRA rank %lld on %s, %zu tensors\n", o.out.c_str(),
               static_cast<long long>(o.lora.rank), o.targets.c_str(), adapter.named().size());
  return 0;
}

int run_merge(const MergeOptions& o) {
  ModelLoadOptions lo;
  lo.device = "cpu";
  lo.dtype = "float32";
  auto base = Model::load(o.model_dir, lo);
  LoraAdapter adapter = load_lora_adapter(o.adapter_dir, base->config(), torch::kCPU);
  // The block sinks the adapter was trained with (blockattn_adapter.json) become the merged
  // model's own, so that it serves and evaluates in block mode as the engine serves the adapter.
  const auto settings = read_lora_block_settings(o.adapter_dir);
  auto merged = base->merged_with(adapter, settings ? &*settings : nullptr);
  const torch::ScalarType dtype = o.dtype == "auto" ? parse_float_dtype(base->config().torch_dtype)
                                                    : parse_float_dtype(o.dtype);
  std::filesystem::create_directories(o.out);
  save_model(*merged, o.out, dtype);
  const std::string sinks = settings ? std::to_string(settings->sink_tokens) + " block sinks"
                                     : "no block settings recorded";
  copy_tokenizer_files(o.model_dir, o.out);
  std::fprintf(stderr, "wrote %s: %s with %s merged in (%s, %s)\n", o.out.c_str(),
               o.model_dir.c_str(), o.adapter_dir.c_str(), float_dtype_name(dtype).c_str(),
               sinks.c_str());
  return 0;
}

}  // namespace

Runner add_adapter(CLI::App& app) {
  auto* cmd = app.add_subcommand("adapter", "Make and merge LoRA adapters (PEFT's layout)");
  cmd->require_subcommand(1);
  auto io = std::make_shared<InitOptions>();
  auto* init = cmd->add_subcommand(
      "init", "Write a freshly initialised adapter for a model (A uniform, B zero, as PEFT)");
  init->add_option("-m,--model", io->model_dir, "Base model directory (its config.json)")
      ->required()
      ->check(CLI::ExistingDirectory);
  init->add_option("-o,--out", io->out, "Adapter directory to write")->required();
  init->add_option("--rank", io->lora.rank, "LoRA rank r")
      ->check(integer_in(1, 65536))
      ->capture_default_str();
  init->add_option("--alpha", io->lora.alpha, "LoRA alpha (scale = alpha / rank)")
      ->check(number_in(1e-9, 1e9))
      ->capture_default_str();
  init->add_option("--dropout", io->lora.dropout, "Dropout on the adapter's input while training")
      ->check(number_in(0, 0.999))
      ->capture_default_str();
  init->add_option("--targets", io->targets,
                   "Comma-separated projections: q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,"
                   "down_proj")
      ->capture_default_str();
  init->add_option("--seed", io->seed, "Seed of A's initialisation")->capture_default_str();
  init->add_option("--b-std", io->b_std,
                   "Draw B from N(0, b_std) instead of zeros (test adapters that change the "
                   "output)")
      ->check(number_in(0, 1e3));

  auto mo = std::make_shared<MergeOptions>();
  auto* merge = cmd->add_subcommand(
      "merge", "Write a model directory with an adapter merged into its weights");
  merge->add_option("-m,--model", mo->model_dir, "Base model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("--adapter", mo->adapter_dir, "Adapter directory (PEFT layout)")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("-o,--out", mo->out, "Output model directory (weights and config.json)")
      ->required();
  merge->add_option("--dtype", mo->dtype, "auto (the base's stored dtype) | float32 | bfloat16")
      ->capture_default_str();
  return [cmd, init, io, mo] { return cmd->got_subcommand(init) ? run_init(*io) : run_merge(*mo); };
}

}  // namespace blockattn::cli
