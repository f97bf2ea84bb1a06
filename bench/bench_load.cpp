// Peak resident memory of loading a model: the weights should exist once.
//   bench_load --model DIR [--dtype float32]
#include <CLI/CLI.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>

#include "model/model.h"

static double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux reports KiB
}

int main(int argc, char** argv) {
  CLI::App app{"Measure load time and peak RSS of a model directory"};
  std::string dir, dtype = "auto", device = "cpu";
  app.add_option("--model", dir)->required();
  app.add_option("--dtype", dtype)->capture_default_str();
  app.add_option("--device", device)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    torch::ones({1});  // initialise libtorch before the baseline reading
    const double before = peak_rss_mib();
    auto t0 = std::chrono::steady_clock::now();
    auto model = blockattn::Model::load(dir, {device, dtype});
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    double weight_mib = 0;
    for (auto& [name, t] : model->weights().named(model->config()))
      weight_mib += t->numel() * t->element_size() / 1048576.0;
    const double after = peak_rss_mib();
    std::printf("model %s: %.1f M params, weights in memory %.1f MiB (%s)\n", dir.c_str(),
                model->config().num_parameters() / 1e6, weight_mib, c10::toString(model->dtype()));
    std::printf("load %.0f ms | peak RSS before %.1f MiB, after %.1f MiB, growth %.1f MiB = %.2f x weights\n", ms,
                before, after, after - before, (after - before) / weight_mib);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
