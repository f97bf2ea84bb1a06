// Subcommands of the `blockattn` CLI. Each registers its options on the app and returns the
// function that runs it; errors propagate as exceptions to main(), which prints one line.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace blockattn::cli {

using Runner = std::function<int()>;

Runner add_adapter(CLI::App& app);
Runner add_blockdata(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_pretrain(CLI::App& app);
Runner add_segdata(CLI::App& app);
Runner add_segment(CLI::App& app);
Runner add_segmenter(CLI::App& app);
Runner add_serve(CLI::App& app);
Runner add_shard(CLI::App& app);
Runner add_corpus(CLI::App& app);
Runner add_distill(CLI::App& app);
Runner add_blockft(CLI::App& app);
Runner add_synth(CLI::App& app);
Runner add_tokenizer(CLI::App& app);

}  // namespace blockattn::cli
