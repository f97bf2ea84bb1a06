#include "train/pretrain.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "data/token_shard.h"
#include "model/model.h"
#include "model/model_io.h"
#include "model/torch_dtype.h"
#include "train/adamw.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/train_checkpoint.h"
#include "train/train_config.h"
#include "train/window_sampler.h"

namespace blockattn::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Sampler streams: training windows, validation windows, the post-save check batch.
constexpr uint64_t kTrainStream = 0, kValStream = 1, kCheckStream = 2;

// `n` windows as [n, T+1] int64 on `device`.
torch::Tensor next_batch(WindowSampler& sampler, int64_t n, int64_t T, torch::Device device) {
  std::vector<int64_t> buf;
  sampler.next(n, buf);
  return torch::from_blob(buf.data(), {n, T + 1}, torch::kInt64).to(device, /*non_blocking=*/false, /*copy=*/true);
}

// Mean next-token cross-entropy of a [B, T+1] window batch.
torch::Tensor batch_loss(const Model& model, const torch::Tensor& batch) {
  const int64_t T = batch.size(1) - 1;
  torch::Tensor logits = model.forward_train(batch.narrow(1, 0, T));  // [B, T, V]
  torch::Tensor targets = batch.narrow(1, 1, T).reshape({-1});      // [B*T]
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), targets);
}

// One dataset of the mixture, opened.
struct Source {
  std::string name;  // data_mix dir, "" for a single --data dataset
  DataSource spec;
  std::string dir;
  std::unique_ptr<TokenDataset> train, validation;
};

// Validation losses over a fixed set of windows per source (the same every time, so values are
// comparable), and their weighted mean under the mixture's weights.
struct ValLoss {
  std::vector<std::pair<std::string, double>> per_source;
  double mean = 0;
};

ValLoss eval_loss(const Model& model, const std::vector<Source>& sources, const TrainConfig& t) {
  torch::NoGradGuard no_grad;
  ValLoss v;
  double weight = 0;
  for (const Source& src : sources) {
    if (!src.validation) continue;
    WindowSampler sampler({WindowSource{src.validation.get(), 1, src.spec.document_starts}}, t.seq_len, t.seed,
                          kValStream);
    double sum = 0;
    for (int64_t i = 0; i < t.eval_batches; ++i)
      sum += batch_loss(model, next_batch(sampler, t.batch_size, t.seq_len, model.device())).item<double>();
    const double loss = sum / static_cast<double>(t.eval_batches);
    v.per_source.emplace_back(src.name, loss);
    v.mean += src.spec.weight * loss;
    weight += src.spec.weight;
  }
  if (weight > 0) v.mean /= weight;
  return v;
}

uint64_t train_tokens(const std::vector<Source>& sources) {
  uint64_t n = 0;
  for (const Source& s : sources) n += s.train->num_tokens();
  return n;
}

bool has_validation(const std::vector<Source>& sources) {
  for (const Source& s : sources)
    if (s.validation) return true;
  return false;
}

std::string describe(int64_t step, const ValLoss& v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "step %lld: validation loss %.4f", (long long)step, v.mean);
  std::string line = buf;
  if (v.per_source.size() > 1) {
    line += " (";
    for (size_t i = 0; i < v.per_source.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%s%s %.4f", i ? ", " : "", v.per_source[i].first.c_str(), v.per_source[i].second);
      line += buf;
    }
    line += ")";
  }
  return line;
}

std::vector<WindowSource> train_sources(const std::vector<Source>& sources) {
  std::vector<WindowSource> out;
  for (const Source& s : sources) out.push_back({s.train.get(), s.spec.weight, s.spec.document_starts});
  return out;
}

struct Setup {
  PretrainConfig config;
  DatasetInfo info;  // of the first source; every source shares its tokenizer
  std::string tokenizer_path;
  std::vector<Source> sources;
  std::string checkpoint;  // "" when starting fresh
  TrainState state;
};

// Everything that can be wrong with the inputs is checked here, before any model is built.
Setup prepare(const PretrainOptions& o) {
  Setup s;
  s.config = PretrainConfig::load(o.config_path);
  std::vector<DataSource> mix = s.config.train.data_mix;
  if (mix.empty()) mix.push_back(DataSource{});
  for (const DataSource& spec : mix) {
    Source src;
    src.name = spec.dir;
    src.spec = spec;
    src.dir = spec.dir.empty() ? o.data_dir : o.data_dir + "/" + spec.dir;
    const DatasetInfo info = DatasetInfo::load(src.dir);
    if (s.sources.empty()) {
      s.info = info;
    } else if (info.tokenizer_fingerprint != s.info.tokenizer_fingerprint) {
      throw FormatError("data source " + src.dir + " was made with tokenizer " + info.tokenizer_fingerprint + ", " +
                        s.sources[0].dir + " with " + s.info.tokenizer_fingerprint + ": shard them with one tokenizer");
    }
    src.train = std::make_unique<TokenDataset>(TokenDataset::open(src.dir + "/train", s.info.tokenizer_fingerprint));
    if (s.config.train.eval_every > 0 && s.config.train.eval_batches > 0 && is_directory(src.dir + "/validation"))
      src.validation =
          std::make_unique<TokenDataset>(TokenDataset::open(src.dir + "/validation", s.info.tokenizer_fingerprint));
    s.sources.push_back(std::move(src));
  }
  const std::string data_dir = s.sources[0].dir;
  s.tokenizer_path = o.tokenizer_path.empty() ? data_dir + "/" + s.info.tokenizer_file : o.tokenizer_path;
  if (!o.tokenizer_path.empty()) {
    auto tok = Tokenizer::from_file(o.tokenizer_path);
    if (tok->fingerprint() != s.info.tokenizer_fingerprint)
      throw FormatError("tokenizer " + o.tokenizer_path + " (" + tok->fingerprint() + ") is not the one the data in " +
                        data_dir + " was made with (" + s.info.tokenizer_fingerprint + ")");
  }
  if (!file_exists(s.tokenizer_path)) throw IoError("tokenizer file " + s.tokenizer_path + " does not exist");
  if (s.info.tokenizer_vocab_size > s.config.model.vocab_size)
    throw InputError(o.config_path + ": model.vocab_size " + std::to_string(s.config.model.vocab_size) +
                     " is smaller than the data's tokenizer vocabulary (" +
                     std::to_string(s.info.tokenizer_vocab_size) + ")");
  WindowSampler check(train_sources(s.sources), s.config.train.seq_len, 0, 0);  // every source holds a window

  s.checkpoint = find_checkpoint(o.out_dir);
  if (!s.checkpoint.empty() && !o.resume)
    throw InputError(o.out_dir + " already holds a checkpoint: pass --resume to continue it, or use another --out");
  if (!s.checkpoint.empty()) {
    s.state = read_checkpoint_state(s.checkpoint);
    PretrainConfig old = PretrainConfig::from_json(s.state.config_json, s.checkpoint + "/state.json");
    const std::string diff = s.config.resume_mismatch(old);
    if (!diff.empty())
      throw InputError("checkpoint " + s.checkpoint + " was written for a different config (" + diff +
                       " differs from " + o.config_path + "); use the original config or a fresh --out");
    if (s.state.data_fingerprint != s.info.tokenizer_fingerprint)
      throw FormatError("checkpoint " + s.checkpoint + " was trained on data from tokenizer " +
                        s.state.data_fingerprint + ", not " + s.info.tokenizer_fingerprint);
  }
  return s;
}

// Matmul FLOPs per trained token: 6 per matmul weight (forward + backward) plus causal
// attention scores and values, 6·L·(n_head·hd)·T (half of the non-causal 12·L·d·T).
double flops_per_token(const ModelConfig& c, int64_t T) {
  const double matmul_params = static_cast<double>(c.num_parameters()) -
                               (c.tie_word_embeddings ? 0.0 : static_cast<double>(c.vocab_size * c.hidden_size));
  return 6.0 * matmul_params + 6.0 * c.num_layers * c.num_heads * c.head_dim * static_cast<double>(T);
}

// Saves OUT/model, reloads it and checks the reloaded logits equal the trained model's.
std::string export_model(Model& model, const Setup& s, const PretrainOptions& o) {
  const std::string dir = o.out_dir + "/model";
  std::filesystem::create_directories(dir);
  save_model(model, dir, model.dtype(), o.max_shard_bytes);
  write_file_atomic(dir + "/" + s.info.tokenizer_file, read_file(s.tokenizer_path));

  ModelLoadOptions lo;
  lo.device = s.config.train.device;
  lo.dtype = float_dtype_name(model.dtype());
  std::shared_ptr<Model> loaded = Model::load(dir, lo);
  WindowSampler sampler(train_sources(s.sources), s.config.train.seq_len, s.config.train.seed, kCheckStream);
  torch::Tensor batch = next_batch(sampler, std::min<int64_t>(s.config.train.batch_size, 2), s.config.train.seq_len,
                                   model.device());  // [b, T+1]
  torch::NoGradGuard no_grad;
  torch::Tensor ids = batch.narrow(1, 0, s.config.train.seq_len);  // [b, T]
  torch::Tensor a = model.forward_train(ids), b = loaded->forward_train(ids);  // [b, T, V]
  if (!torch::equal(a, b))
    throw Error("the saved model in " + dir + " does not reproduce the trained weights' logits (max |diff| " +
                std::to_string((a - b).abs().max().item<double>()) + ")");
  return dir;
}

}  // namespace

PretrainResult run_pretrain(const PretrainOptions& o) {
  const Clock::time_point run_start = Clock::now();
  Setup s = prepare(o);
  const TrainConfig& t = s.config.train;
  ProgressLine progress(o.progress, t.total_steps, t.log_every);
  std::filesystem::create_directories(o.out_dir);

  // The model that is built and later saved carries the data's EOS so `generate` stops on it.
  ModelConfig model_config = s.config.model;
  if (s.info.eos_id >= 0 && s.info.eos_id < model_config.vocab_size) model_config.eos_token_ids = {s.info.eos_id};
  const torch::Device device = resolve_device(t.device);
  const bool bf16 = t.dtype == "bfloat16" || (t.dtype == "auto" && device.is_cuda());
  ModelLoadOptions lo;
  lo.device = t.device;
  lo.dtype = bf16 ? "bfloat16" : "float32";
  torch::manual_seed(t.seed);
  std::shared_ptr<Model> model = Model::random(model_config, lo, t.seed);
  AdamW opt(t, model->weights().named(model_config));
  if (!s.checkpoint.empty()) restore_checkpoint_tensors(s.checkpoint, opt);

  TrainState state = s.state;
  state.config_json = s.config.canonical_json;
  state.data_fingerprint = s.info.tokenizer_fingerprint;
  WindowSampler sampler(train_sources(s.sources), t.seq_len, t.seed, kTrainStream);
  sampler.set_cursor(state.train_cursor);

  MetricsLog metrics(o.out_dir + "/metrics.jsonl");
  PretrainResult r;
  r.start_step = state.step;
  r.total_steps = t.total_steps;
  progress.message("pretrain: " + std::to_string(model_config.num_parameters()) + " parameters, " +
                   std::to_string(train_tokens(s.sources)) + " training tokens in " +
                   std::to_string(s.sources.size()) + " source(s), " + std::to_string(t.tokens_per_step()) +
                   " tokens/step, " + (bf16 ? "bf16 compute + fp32 master weights" : "fp32") + " on " +
                   device.str() + (s.checkpoint.empty() ? "" : ", resuming at step " + std::to_string(state.step)));

  double train_s = 0;  // wall time inside optimizer steps of this run (no eval / checkpoint)
  int64_t run_steps = 0;
  auto checkpoint = [&] {
    state.train_cursor = sampler.cursor();
    save_checkpoint(o.out_dir, opt, state);
  };
  while (state.step < t.total_steps) {
    const Clock::time_point step_start = Clock::now();
    const double lr = lr_at(t, state.step);
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device));  // []
    for (int64_t m = 0; m < t.grad_accum; ++m) {
      torch::Tensor loss = batch_loss(*model, next_batch(sampler, t.batch_size, t.seq_len, device));  // []
      (loss / static_cast<double>(t.grad_accum)).backward();
      opt.accumulate_grads();
      loss_sum += loss.detach();
    }
    opt.clip_grads();
    opt.step(state.step, lr);
    const double loss = loss_sum.item<double>() / static_cast<double>(t.grad_accum);  // waits for the device
    if (!std::isfinite(loss))
      throw Error("training diverged: loss is " + std::to_string(loss) + " at step " + std::to_string(state.step) +
                  " (lower training.lr or raise warmup_steps)");
    ++state.step;
    ++run_steps;
    state.tokens_seen += t.tokens_per_step();
    const double step_s = seconds_since(step_start);
    train_s += step_s;
    state.elapsed_s += step_s;
    r.losses.push_back(loss);
    const double tps = run_steps * t.tokens_per_step() / train_s;
    progress.update(state.step, loss, lr, tps, (t.total_steps - state.step) * train_s / run_steps);

    const bool last = state.step == t.total_steps;
    if (t.log_every > 0 && (state.step % t.log_every == 0 || last))
      metrics.log_step(state.step, loss, lr, tps, state.tokens_seen);
    if (t.eval_every > 0 && has_validation(s.sources) && (state.step % t.eval_every == 0 || last)) {
      const ValLoss v = eval_loss(*model, s.sources, t);
      r.val_losses.emplace_back(state.step, v.mean);
      progress.message(describe(state.step, v));
      metrics.log_validation(state.step, v.mean, v.per_source);
    }
    const bool out_of_time = o.max_minutes > 0 && seconds_since(run_start) >= o.max_minutes * 60.0;
    const bool out_of_steps = o.max_steps > 0 && run_steps >= o.max_steps;
    if (last || out_of_time || out_of_steps || (t.checkpoint_every > 0 && state.step % t.checkpoint_every == 0))
      checkpoint();
    if (!last && (out_of_time || out_of_steps)) {
      progress.message("stopped at step " + std::to_string(state.step) + "/" + std::to_string(t.total_steps) +
                       "; checkpoint in " + o.out_dir + "/checkpoint (re-run with --resume to continue)");
      break;
    }
  }
  r.end_step = state.step;
  r.tokens_per_s = run_steps > 0 ? run_steps * t.tokens_per_step() / train_s : 0;
  if (device.is_cuda() && t.peak_flops > 0) r.mfu = flops_per_token(model_config, t.seq_len) * r.tokens_per_s / t.peak_flops;
  if (state.step >= t.total_steps) {
    r.finished = true;
    r.model_dir = export_model(*model, s, o);
  }
  char mfu[64];
  if (r.mfu >= 0) std::snprintf(mfu, sizeof mfu, "%.1f%% of %.0f TFLOP/s", 100 * r.mfu, t.peak_flops / 1e12);
  else std::snprintf(mfu, sizeof mfu, "n/a");
  char line[256];
  std::snprintf(line, sizeof line, "%s: %lld steps in %s this run, %.0f tokens/s, MFU %s%s%s",
                r.finished ? "done" : "paused", (long long)run_steps, format_duration(train_s).c_str(),
                r.tokens_per_s, mfu, r.finished ? ", model saved to " : "", r.model_dir.c_str());
  progress.message(line);
  return r;
}

}  // namespace blockattn::train
