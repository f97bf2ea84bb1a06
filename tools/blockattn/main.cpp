// blockattn: block-attention inference for long-context and RAG prompts.
#include <cstdio>
#include <map>
#include <new>

#include "blockattn/error.h"
#include "commands.h"
#include "core/host_allocator.h"
#include "core/log.h"
#include "launch.h"

int main(int argc, char** argv) {
  // Before any thread or tensor exists: CPU forward passes re-allocate the same large buffers in
  // every layer (src/core/host_allocator.h).
  blockattn::keep_freed_host_memory();
  CLI::App app{
      "blockattn — block-attention inference: context blocks are encoded once, cached by content\n"
      "and reused at any position; only the final block (the question) attends to everything."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "blockattn 0.1.0");
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log progress and cache activity to stderr");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");

  const std::map<std::string, blockattn::cli::Runner> runners = {
      {"adapter", blockattn::cli::add_adapter(app)},
      {"blockft", blockattn::cli::add_blockft(app)},
      {"blockdata", blockattn::cli::add_blockdata(app)},
      {"corpus", blockattn::cli::add_corpus(app)},
      {"distill", blockattn::cli::add_distill(app)},
      {"eval", blockattn::cli::add_eval(app)},
      {"generate", blockattn::cli::add_generate(app)},
      {"info", blockattn::cli::add_info(app)},
      {"pretrain", blockattn::cli::add_pretrain(app)},
      {"segdata", blockattn::cli::add_segdata(app)},
      {"segment", blockattn::cli::add_segment(app)},
      {"segmenter", blockattn::cli::add_segmenter(app)},
      {"serve", blockattn::cli::add_serve(app)},
      {"shard", blockattn::cli::add_shard(app)},
      {"synth", blockattn::cli::add_synth(app)},
      {"tokenizer", blockattn::cli::add_tokenizer(app)},
  };

  blockattn::cli::remember_arguments(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  blockattn::set_log_level(verbose ? blockattn::LogLevel::kInfo
                           : quiet ? blockattn::LogLevel::kError
                                   : blockattn::LogLevel::kWarn);
  try {
    for (const auto& [name, run] : runners)
      if (app.got_subcommand(name)) return run();
  } catch (const blockattn::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    // Inputs are size-checked before allocating (docs/reliability.md); what is left is a real
    // shortage, said as such rather than as "std::bad_alloc".
    std::fprintf(stderr,
                 "error: out of memory (the model, the prompt or a cache budget needs more memory "
                 "than this process may use)\n");
    return 1;
  } catch (const std::exception& e) {
    // libtorch (c10::Error) and the standard library: still one line, still non-zero.
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    std::fprintf(stderr, "error: %s\n", what.c_str());
    return 1;
  }
  return 0;
}
