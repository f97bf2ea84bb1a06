// Where the time of a block-attention prefill and a decode step goes, phase by phase, on the
// engine's own code paths (no tokenizer: random token ids of the model's vocabulary):
//   bench_prefill --model DIR [--device cuda] [--blocks 64] [--block-tokens 500] [--query 24]
// Phases (each timed after a device synchronize, median of --repeats):
//   encode one by one   encode_block per block (the simple path)
//   encode batched      encode_blocks: packed forwards, varlen attention
//   full prefill        one causal forward over the same tokens + query
//   warm prefill        prefill_blocks with every block in the memory tier, split into
//                       fetch (store lookups), place (place_blocks: copy + RoPE re-encoding,
//                       fused on CUDA; the libtorch reference beside it), final forward
//   warm from host      every block in the pinned host tier (no device tier): copies back,
//                       placement, final block; beside the machine's pinned copy bandwidth
//   decode step         one token over the warm context: host time to enqueue, and wall time
// With --sweep 8,16,32,64 it measures instead, for the first N blocks of each count: full
// prefill, cold block prefill (every block encoded, no tier below memory), warm block prefill
// and a decode step, and with --json FILE writes those figures and the token ids, which
// bench/peer_bench.py feeds to transformers (the same checkpoint, the same tokens).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "attention/block_prefill.h"
#include "attention/place_blocks.h"
#include "core/host_allocator.h"
#include "model/cached_attention.h"
#include "model/compat.h"
#include "model/model.h"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  blockattn::keep_freed_host_memory();  // as the CLI does (src/core/host_allocator.h)
  CLI::App app{"Block-attention prefill and decode, phase by phase"};
  std::string model_dir, device = "auto", dtype = "auto";
  int n_blocks = 64, block_tokens = 500, query_tokens = 24, repeats = 5, decode_steps = 32;
  app.add_option("--model", model_dir)->required();
  app.add_option("--device", device)->capture_default_str();
  app.add_option("--dtype", dtype)->capture_default_str();
  app.add_option("--blocks", n_blocks)->capture_default_str();
  app.add_option("--block-tokens", block_tokens)->capture_default_str();
  app.add_option("--query", query_tokens, "Tokens of the final block")->capture_default_str();
  app.add_option("--repeats", repeats)->capture_default_str();
  app.add_option("--decode-steps", decode_steps)->capture_default_str();
  std::string sweep, json_path;
  app.add_option("--sweep", sweep, "Comma-separated block counts: the peer-comparison sweep");
  app.add_option("--json", json_path, "With --sweep: write figures and token ids here");
  bool fuse = true;
  app.add_option("--fuse", fuse, "Fused QKV and gate/up matrices, as the engine uses")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  using namespace blockattn;
  try {
    auto model = Model::load(model_dir, ModelLoadOptions{device, dtype});
    if (fuse) model->fuse_projections();
    const torch::Device dev = model->device();
    const int32_t vocab = static_cast<int32_t>(model->config().vocab_size);
    std::mt19937 rng(7);
    auto random_ids = [&](int n) {
      std::vector<int32_t> ids(static_cast<size_t>(n));
      for (int32_t& t : ids) t = 4 + static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab - 4));
      return ids;
    };
    std::vector<std::vector<int32_t>> blocks;
    for (int b = 0; b < n_blocks; ++b) blocks.push_back(random_ids(block_tokens));
    const SinkConfig sinks;
    PromptLayout layout = make_prompt_layout(blocks, random_ids(query_tokens), sinks);
    std::vector<const std::vector<int32_t>*> block_ptrs;
    for (const PromptBlock& b : layout.blocks) block_ptrs.push_back(&b.tokens);
    auto sync = [&] { compat::synchronize(dev); };
    auto time = [&](const std::function<void()>& fn, int runs) {
      std::vector<double> ms;
      for (int i = 0; i < runs; ++i) {
        sync();
        const auto t = Clock::now();
        fn();
        sync();
        ms.push_back(ms_since(t));
      }
      return median(ms);
    };
    if (!sweep.empty()) {
      std::vector<int> counts;
      std::stringstream list(sweep);
      for (std::string item; std::getline(list, item, ',');) counts.push_back(std::stoi(item));
      nlohmann::json out;
      out["block_tokens"] = block_tokens;
      out["query_ids"] = layout.final_tokens;
      out["block_ids"] = blocks;
      out["points"] = nlohmann::json::array();
      std::printf("%7s %8s %10s %10s %10s %10s %12s\n", "blocks", "tokens", "full ms", "1st full",
                  "cold ms", "warm ms", "decode tok/s");
      for (int n : counts) {
        if (n < 1 || n > n_blocks)
          throw std::runtime_error("--sweep counts must be in 1..--blocks");
        PromptLayout part = make_prompt_layout(
            std::vector<std::vector<int32_t>>(blocks.begin(), blocks.begin() + n),
            layout.final_tokens, sinks);
        const int64_t total = part.total_tokens();
        // The first full prefill at a new length: what a server pays per new prompt length
        // where attention backends build per-shape plans (cuDNN, from cudnn_min_tokens on).
        const double full_first = time(
            [&] {
              KVCache c = model->new_cache(total);
              prefill_full(*model, part, c);
            },
            1);
        const double full = time(
            [&] {
              KVCache c = model->new_cache(total);
              prefill_full(*model, part, c);
            },
            repeats);
        const double cold = time(
            [&] {
              BlockStore fresh(64ull << 30, {}, dev);
              KVCache c = model->new_cache(total);
              prefill_blocks(*model, part, sinks, &fresh, c, nullptr);
            },
            std::max(1, repeats / 2));
        BlockStore store(64ull << 30, {}, dev);
        {
          KVCache c = model->new_cache(total);
          prefill_blocks(*model, part, sinks, &store, c, nullptr);
        }
        const double warm = time(
            [&] {
              KVCache c = model->new_cache(total + decode_steps);
              prefill_blocks(*model, part, sinks, &store, c, nullptr);
            },
            repeats);
        KVCache c = model->new_cache(total + decode_steps + 1);
        torch::Tensor logits = prefill_blocks(*model, part, sinks, &store, c, nullptr);
        std::vector<double> step_ms;
        for (int s = 0; s < decode_steps; ++s) {
          sync();
          const auto t = Clock::now();
          logits = model->forward(logits.argmax(-1).to(torch::kInt64), c, LogitsFor::kLast);
          sync();
          step_ms.push_back(ms_since(t));
        }
        const double decode_tps = 1000.0 / median(step_ms);
        std::printf("%7d %8lld %10.2f %10.2f %10.2f %10.2f %12.1f\n", n,
                    static_cast<long long>(total), full, full_first, cold, warm, decode_tps);
        std::fflush(stdout);
        out["points"].push_back({{"blocks", n},
                                 {"tokens", total},
                                 {"full_ms", full},
                                 {"full_first_ms", full_first},
                                 {"cold_ms", cold},
                                 {"warm_ms", warm},
                                 {"decode_tokens_per_s", decode_tps}});
      }
      if (!json_path.empty()) {
        std::ofstream f(json_path);
        f << out.dump() << "\n";
        if (!f) throw std::runtime_error("cannot write " + json_path);
      }
      return 0;
    }

    // Warm up kernels and the allocator.
    encode_blocks(*model, {block_ptrs[0], block_ptrs[1]});
    {
      KVCache c = model->new_cache(layout.total_tokens());
      prefill_full(*model, layout, c);
    }
    std::printf(
        "model: %d layers, hidden %d, %s on %s; prompt %lld tokens (%d blocks of %d + %d)\n",
        static_cast<int>(model->config().num_layers), static_cast<int>(model->config().hidden_size),
        std::string(c10::toString(model->dtype())).c_str(), dev.str().c_str(),
        static_cast<long long>(layout.total_tokens()), n_blocks, block_tokens, query_tokens);

    const double one_by_one = time(
        [&] {
          for (const auto* b : block_ptrs) encode_block(*model, *b);
        },
        1);
    const double batched =
        time([&] { encode_blocks(*model, block_ptrs); }, std::max(1, repeats / 2));
    const double full = time(
        [&] {
          KVCache c = model->new_cache(layout.total_tokens());
          prefill_full(*model, layout, c);
        },
        std::max(1, repeats / 2));
    std::printf("encode one by one   %9.2f ms\n", one_by_one);
    std::printf("encode batched      %9.2f ms  (%.2fx one by one)\n", batched,
                batched / one_by_one);
    std::printf("full prefill        %9.2f ms  (batched encode / full = %.3f)\n", full,
                batched / full);

    BlockStore store(64ull << 30, {}, dev);
    {
      KVCache c = model->new_cache(layout.total_tokens());
      prefill_blocks(*model, layout, sinks, &store, c, nullptr);  // fills the memory tier
    }
    const double warm = time(
        [&] {
          KVCache c = model->new_cache(layout.total_tokens() + decode_steps);
          prefill_blocks(*model, layout, sinks, &store, c, nullptr);
        },
        repeats);
    // The same prefill, phase by phase.
    std::vector<double> fetch_ms, alloc_ms, place_ms, reference_ms, final_ms;
    for (int r = 0; r < repeats; ++r) {
      sync();
      auto t = Clock::now();
      std::vector<BlockKey> keys;
      for (const PromptBlock& b : layout.blocks) keys.push_back(block_key(*model, sinks, b.tokens));
      auto fetched = store.fetch_or_compute_many(keys, [](const std::vector<size_t>&) {
        throw std::runtime_error("warm: nothing should be computed");
        return std::vector<BlockKV>{};
      });
      fetch_ms.push_back(ms_since(t));
      std::vector<BlockPlacement> placements;
      for (size_t i = 0; i < fetched.size(); ++i)
        placements.push_back({&fetched[i].kv, layout.blocks[i].offset});
      {
        sync();
        t = Clock::now();
        KVCache ref = model->new_cache(layout.total_tokens());
        place_blocks_reference(*model, placements, ref);
        sync();
        reference_ms.push_back(ms_since(t));
      }
      t = Clock::now();
      KVCache c = model->new_cache(layout.total_tokens() + decode_steps);
      sync();
      alloc_ms.push_back(ms_since(t));
      t = Clock::now();
      place_blocks(*model, placements, c);
      sync();
      place_ms.push_back(ms_since(t));
      t = Clock::now();
      model->forward(token_tensor(*model, layout.final_tokens), c, LogitsFor::kLast);
      sync();
      final_ms.push_back(ms_since(t));
    }
    std::printf(
        "warm prefill        %9.2f ms  (fetch %.2f, cache alloc %.2f, place %.2f, "
        "final block %.2f; placement by copy + re-rotation: %.2f)\n",
        warm, median(fetch_ms), median(alloc_ms), median(place_ms), median(final_ms),
        median(reference_ms));

    // Warm from the host tier: no device-memory tier, every block in (pinned) host memory.
    if (dev.is_cuda()) {
      BlockStoreConfig host_only;
      host_only.memory_budget_bytes = 0;
      host_only.host_budget_bytes = 64ull << 30;
      BlockStore host_store(host_only, {}, dev);
      {
        KVCache c = model->new_cache(layout.total_tokens());
        prefill_blocks(*model, layout, sinks, &host_store, c, nullptr);  // demotes every block
      }
      const uint64_t kv_bytes = host_store.stats().host_bytes;
      const double from_host = time(
          [&] {
            KVCache c = model->new_cache(layout.total_tokens() + decode_steps);
            prefill_blocks(*model, layout, sinks, &host_store, c, nullptr);
          },
          repeats);
      // Host-to-device bandwidth of pinned memory on this machine, for the same bytes.
      torch::Tensor pinned =
          torch::empty({static_cast<int64_t>(kv_bytes / 2)},
                       torch::TensorOptions().dtype(torch::kBFloat16).pinned_memory(true));
      pinned.fill_(1);
      torch::Tensor on_device = torch::empty({pinned.numel()}, model->options());
      const double copy_ms = time([&] { on_device.copy_(pinned, /*non_blocking=*/true); }, 3);
      const double gbps = kv_bytes / copy_ms / 1e6;
      std::printf(
          "warm from host      %9.2f ms  (%.2f GB of KV; pinned host-to-device %.1f GB/s: "
          "floor %.2f ms + device-warm %.2f ms = %.2f ms; ratio %.2f)\n",
          from_host, kv_bytes / 1e9, gbps, copy_ms, warm, copy_ms + warm,
          from_host / (copy_ms + warm));
    }

    // Decode steps over the warm context, replayed from CUDA graphs (where available) and eager.
    auto decode = [&](bool graphs) {
      model->set_decode_graphs(graphs);
      KVCache c = model->new_cache(layout.total_tokens() + decode_steps + 1);
      torch::Tensor logits = prefill_blocks(*model, layout, sinks, &store, c, nullptr);
      std::vector<double> enqueue_ms, step_ms;
      for (int s = 0; s < decode_steps; ++s) {
        sync();
        const auto t = Clock::now();
        torch::Tensor next = logits.argmax(-1).to(torch::kInt64);  // [1] on the device
        logits = model->forward(next, c, LogitsFor::kLast);
        enqueue_ms.push_back(ms_since(t));
        sync();
        step_ms.push_back(ms_since(t));
      }
      const double step = median(step_ms);
      std::printf("decode step %-7s %9.2f ms  (%.1f tokens/s; host enqueue %.2f ms)\n",
                  graphs ? "graphs" : "eager", step, 1000.0 / step, median(enqueue_ms));
    };
    if (model->decode_graphs()) decode(true);
    decode(false);

    // Decode attention alone over the whole context, one layer's worth of KV per call.
    {
      KVCache c = model->new_cache(layout.total_tokens() + 1);
      prefill_blocks(*model, layout, sinks, &store, c, nullptr);
      const int64_t S = c.size();
      const auto& cfg = model->config();
      torch::Tensor q = torch::randn({1, cfg.num_heads, 1, cfg.head_dim}, model->options());
      const int calls = 64;
      auto per_call = [&](const std::function<torch::Tensor(int64_t)>& attend) {
        return time(
                   [&] {
                     for (int i = 0; i < calls; ++i) attend(i % cfg.num_layers);
                   },
                   3) /
               calls;
      };
      const double folded = per_call(
          [&](int64_t l) { return compat::attention_decode(q, c.keys(l, S), c.values(l, S)); });
      const double sdpa = per_call([&](int64_t l) {
        return compat::attention(q, c.keys(l, S), c.values(l, S), std::nullopt, false);
      });
      torch::NoGradGuard no_grad;  // the split-KV kernel is inference-only
      torch::Tensor probe = cached_attention(q, c.keys(0, S), c.values(0, S));
      const double split_kv = probe.defined() ? per_call([&](int64_t l) {
        return cached_attention(q, c.keys(l, S), c.values(l, S));
      })
                                              : 0.0;
      const double kv_gb = 2.0 * cfg.num_kv_heads * S * cfg.head_dim * 2 / 1e9;
      // Eager calls back to back: where the host dispatch of a call outlasts its GPU time, these
      // figures are the host's (the decode step above runs attention inside its graph).
      std::printf(
          "decode attention    %9.3f ms per layer folded flash (%.0f GB/s), %.3f ms SDPA "
          "with GQA (%.0f GB/s), %.3f ms split-KV kernel (%.0f GB/s), %lld keys\n",
          folded, kv_gb / folded * 1e3, sdpa, kv_gb / sdpa * 1e3, split_kv,
          split_kv > 0 ? kv_gb / split_kv * 1e3 : 0.0, static_cast<long long>(S));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
