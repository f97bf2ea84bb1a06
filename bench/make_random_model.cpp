// Writes a random-weight Llama-family model in the Hugging Face layout, for load and speed
// benchmarks (speed does not depend on the weight values).
//   make_random_model --out /tmp/m100 --hidden 768 --layers 12 --heads 12 --kv-heads 4
//       --intermediate 2048 --vocab 32000 --tokenizer tests/fixtures/models/tiny-llama/tokenizer.json
#include <CLI/CLI.hpp>

#include <cstdio>
#include <sys/stat.h>

#include "blockattn/error.h"
#include "core/io.h"
#include "model/model.h"
#include "model/model_io.h"
#include "model/torch_dtype.h"

int main(int argc, char** argv) {
  CLI::App app{"Write a random-weight model directory (config.json, model.safetensors, tokenizer)"};
  blockattn::ModelConfig c;
  c.vocab_size = 32000;
  c.hidden_size = 768;
  c.intermediate_size = 2048;
  c.num_layers = 12;
  c.num_heads = 12;
  c.num_kv_heads = 4;
  c.max_position_embeddings = 8192;
  c.rms_norm_eps = 1e-5;
  c.torch_dtype = "bfloat16";
  std::string out, tokenizer, dtype = "bfloat16", arch = "llama";
  uint64_t seed = 1;
  app.add_option("--out", out, "Output directory (created)")->required();
  app.add_option("--arch", arch, "llama | qwen3")->capture_default_str();
  app.add_option("--vocab", c.vocab_size)->capture_default_str();
  app.add_option("--hidden", c.hidden_size)->capture_default_str();
  app.add_option("--intermediate", c.intermediate_size)->capture_default_str();
  app.add_option("--layers", c.num_layers)->capture_default_str();
  app.add_option("--heads", c.num_heads)->capture_default_str();
  app.add_option("--kv-heads", c.num_kv_heads)->capture_default_str();
  app.add_option("--head-dim", c.head_dim, "Default hidden / heads");
  app.add_option("--context", c.max_position_embeddings)->capture_default_str();
  app.add_option("--dtype", dtype, "Stored dtype")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("--tokenizer", tokenizer, "tokenizer.json to copy beside the weights");
  CLI11_PARSE(app, argc, argv);
  try {
    if (c.head_dim == 0) c.head_dim = c.hidden_size / c.num_heads;
    if (arch == "qwen3") {
      c.arch = blockattn::Architecture::kQwen3;
      c.model_type = "qwen3";
      c.qk_norm = true;
    }
    ::mkdir(out.c_str(), 0755);
    auto model = blockattn::Model::random(c, {"cpu", "float32"}, seed);
    blockattn::save_model(*model, out, blockattn::parse_float_dtype(dtype));
    if (!tokenizer.empty()) blockattn::write_file_atomic(out + "/tokenizer.json", blockattn::read_file(tokenizer));
    std::printf("wrote %s: %.1f M parameters\n", out.c_str(), c.num_parameters() / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
