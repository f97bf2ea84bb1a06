#include "train/pretrain.h"

#include <cmath>
#include <filesystem>
#include <memory>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "data/token_shard.h"
#include "model/model.h"
#include "model/model_io.h"
#include "train/adamw.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/train_checkpoint.h"
#include "train/train_config.h"
#include "train/train_loop.h"
#include "train/window_sampler.h"

namespace blockattn::train {

namespace {

// Sampler streams: training windows, validation windows, the post-save check batch.
constexpr uint64_t kTrainStream = 0, kValStream = 1, kCheckStream = 2;

// `n` windows as [n, T+1] int64 on `device`.
torch::Tensor next_batch(WindowSampler& sampler, int64_t n, int64_t T, torch::Device device) {
  std::vector<int64_t> buf;
  sampler.next(n, buf);
  return torch::from_blob(buf.data(), {n, T + 1}, torch::kInt64)
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

// Mean next-token cross-entropy of a [B, T+1] window batch.
torch::Tensor batch_loss(const Model& model, const torch::Tensor& batch,
                         bool checkpoint_layers = false) {
  const int64_t T = batch.size(1) - 1;
  Model::TrainInputs in;
  in.ids = batch.narrow(1, 0, T);  // [B, T]
  in.checkpoint_layers = checkpoint_layers;
  torch::Tensor logits = model.forward_train(in);               // [B, T, V]
  torch::Tensor targets = batch.narrow(1, 1, T).reshape({-1});  // [B*T]
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
    WindowSampler sampler({WindowSource{src.validation.get(), 1, src.spec.document_starts}},
                          t.seq_len, t.seed, kValStream);
    double sum = 0;
    for (int64_t i = 0; i < t.eval_batches; ++i)
      sum += batch_loss(model, next_batch(sampler, t.batch_size, t.seq_len, model.device()))
                 .item<double>();
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
      std::snprintf(buf, sizeof buf, "%s%s %.4f", i ? ", " : "", v.per_source[i].first.c_str(),
                    v.per_source[i].second);
      line += buf;
    }
    line += ")";
  }
  return line;
}

std::vector<WindowSource> train_sources(const std::vector<Source>& sources) {
  std::vector<WindowSource> out;
  for (const Source& s : sources)
    out.push_back({s.train.get(), s.spec.weight, s.spec.document_starts});
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
      throw FormatError("data source " + src.dir + " was made with tokenizer " +
                        info.tokenizer_fingerprint + ", " + s.sources[0].dir + " with " +
                        s.info.tokenizer_fingerprint + ": shard them with one tokenizer");
    }
    src.train = std::make_unique<TokenDataset>(
        TokenDataset::open(src.dir + "/train", s.info.tokenizer_fingerprint));
    if (s.config.train.eval_every > 0 && s.config.train.eval_batches > 0 &&
        is_directory(src.dir + "/validation"))
      src.validation = std::make_unique<TokenDataset>(
          TokenDataset::open(src.dir + "/validation", s.info.tokenizer_fingerprint));
    s.sources.push_back(std::move(src));
  }
  const std::string data_dir = s.sources[0].dir;
  s.tokenizer_path =
      o.tokenizer_path.empty() ? data_dir + "/" + s.info.tokenizer_file : o.tokenizer_path;
  if (!o.tokenizer_path.empty()) {
    auto tok = Tokenizer::from_file(o.tokenizer_path);
    if (tok->fingerprint() != s.info.tokenizer_fingerprint)
      throw FormatError("tokenizer " + o.tokenizer_path + " (" + tok->fingerprint() +
                        ") is not the one the data in " + data_dir + " was made with (" +
                        s.info.tokenizer_fingerprint + ")");
  }
  if (!file_exists(s.tokenizer_path))
    throw IoError("tokenizer file " + s.tokenizer_path + " does not exist");
  if (s.info.tokenizer_vocab_size > s.config.model.vocab_size)
    throw InputError(o.config_path + ": model.vocab_size " +
                     std::to_string(s.config.model.vocab_size) +
                     " is smaller than the data's tokenizer vocabulary (" +
                     std::to_string(s.info.tokenizer_vocab_size) + ")");
  WindowSampler check(train_sources(s.sources), s.config.train.seq_len, 0,
                      0);  // every source holds a window

  s.checkpoint = checkpoint_to_resume(o.out_dir, o.resume, s.state);
  if (!s.checkpoint.empty()) {
    PretrainConfig old =
        PretrainConfig::from_json(s.state.config_json, s.checkpoint + "/state.json");
    const std::string diff = s.config.resume_mismatch(old);
    if (!diff.empty())
      throw InputError("checkpoint " + s.checkpoint + " was written for a different config (" +
                       diff + " differs from " + o.config_path +
                       "); use the original config or a fresh --out");
    if (s.state.data_fingerprint != s.info.tokenizer_fingerprint)
      throw FormatError("checkpoint " + s.checkpoint + " was trained on data from tokenizer " +
                        s.state.data_fingerprint + ", not " + s.info.tokenizer_fingerprint);
  }
  return s;
}

// Matmul FLOPs per trained token: 6 per matmul weight (forward + backward) plus causal
// attention scores and values, 6·L·(n_head·hd)·T (half of the non-causal 12·L·d·T).
double flops_per_token(const ModelConfig& c, int64_t T) {
  const double matmul_params =
      static_cast<double>(c.num_parameters()) -
      (c.tie_word_embeddings ? 0.0 : static_cast<double>(c.vocab_size * c.hidden_size));
  return 6.0 * matmul_params +
         6.0 * c.num_layers * c.num_heads * c.head_dim * static_cast<double>(T);
}

// Saves OUT/model, reloads it and checks the reloaded logits equal the trained model's.
std::string export_model(Model& model, const Setup& s, const PretrainOptions& o) {
  const std::string dir = o.out_dir + "/model";
  std::filesystem::create_directories(dir);
  save_model(model, dir, model.dtype(), o.max_shard_bytes);
  write_file_atomic(dir + "/" + s.info.tokenizer_file, read_file(s.tokenizer_path));
  WindowSampler sampler(train_sources(s.sources), s.config.train.seq_len, s.config.train.seed,
                        kCheckStream);
  torch::Tensor batch =
      next_batch(sampler, std::min<int64_t>(s.config.train.batch_size, 2), s.config.train.seq_len,
                 model.device());  // [b, T+1]
  check_saved_model_reproduces(model, dir,
                               batch.narrow(1, 0, s.config.train.seq_len));  // ids [b, T]
  return dir;
}

// Pretraining's data and loss for the shared loop: windows of the mixture, next-token CE.
class PretrainTask : public TrainTask {
 public:
  PretrainTask(const Setup& s, const Model& model, WindowSampler& sampler)
      : s_(s), t_(s.config.train), model_(model), sampler_(sampler) {}

  StepLoss run_step(TrainState& state, AdamW& opt) override {
    StepLoss step;
    step.sum = torch::zeros({}, torch::TensorOptions().device(model_.device()));  // []
    for (int64_t m = 0; m < t_.grad_accum; ++m) {
      torch::Tensor loss =
          batch_loss(model_, next_batch(sampler_, t_.batch_size, t_.seq_len, model_.device()),
                     t_.activation_checkpointing);  // []
      (loss / static_cast<double>(t_.grad_accum)).backward();
      opt.accumulate_grads();
      step.sum += loss.detach();
    }
    step.divisor = static_cast<double>(t_.grad_accum);
    step.tokens = static_cast<uint64_t>(t_.tokens_per_step());
    state.train_cursor = sampler_.cursor();
    return step;
  }

  void validate(int64_t step, ProgressLine& progress, MetricsLog* metrics) override {
    if (!has_validation(s_.sources)) return;
    const ValLoss v = eval_loss(model_, s_.sources, t_);
    val_losses.emplace_back(step, v.mean);
    progress.message(describe(step, v));
    if (metrics) metrics->log_validation(step, v.mean, v.per_source);
  }

  std::vector<std::pair<int64_t, double>> val_losses;

 private:
  const Setup& s_;
  const TrainConfig& t_;
  const Model& model_;
  WindowSampler& sampler_;
};

// The closing line: steps, time, throughput and MFU of this run.
void report_end(ProgressLine& progress, const PretrainResult& r, const TrainConfig& t,
                int64_t run_steps, double train_s) {
  char mfu[64];
  if (r.mfu >= 0)
    std::snprintf(mfu, sizeof mfu, "%.1f%% of %.0f TFLOP/s", 100 * r.mfu, t.peak_flops / 1e12);
  else
    std::snprintf(mfu, sizeof mfu, "n/a");
  char line[256];
  std::snprintf(line, sizeof line, "%s: %lld steps in %s this run, %.0f tokens/s, MFU %s%s%s",
                r.finished ? "done" : "paused", (long long)run_steps,
                format_duration(train_s).c_str(), r.tokens_per_s, mfu,
                r.finished ? ", model saved to " : "", r.model_dir.c_str());
  progress.message(line);
}

}  // namespace

PretrainResult run_pretrain(const PretrainOptions& o) {
  TrainLoopOptions loop;
  loop.out_dir = o.out_dir;
  loop.max_minutes = o.max_minutes;
  loop.max_steps = o.max_steps;
  loop.diverged_hint = "lower training.lr or raise warmup_steps";
  Setup s = prepare(o);
  const TrainConfig& t = s.config.train;
  ProgressLine progress(o.progress, t.total_steps, t.log_every);
  std::filesystem::create_directories(o.out_dir);

  // The model that is built and later saved carries the data's EOS so `generate` stops on it.
  ModelConfig model_config = s.config.model;
  if (s.info.eos_id >= 0 && s.info.eos_id < model_config.vocab_size)
    model_config.eos_token_ids = {s.info.eos_id};
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
  progress.message(
      "pretrain: " + std::to_string(model_config.num_parameters()) + " parameters, " +
      std::to_string(train_tokens(s.sources)) + " training tokens in " +
      std::to_string(s.sources.size()) + " source(s), " + std::to_string(t.tokens_per_step()) +
      " tokens/step, " + (bf16 ? "bf16 compute + fp32 master weights" : "fp32") + " on " +
      device.str() +
      (s.checkpoint.empty() ? "" : ", resuming at step " + std::to_string(state.step)));

  PretrainTask task(s, *model, sampler);
  const TrainLoopResult ran = run_train_loop(t, loop, task, opt, state, progress, &metrics);
  r.losses = ran.losses;
  r.val_losses = task.val_losses;
  r.end_step = state.step;
  r.tokens_per_s = ran.run_steps > 0 ? static_cast<double>(ran.tokens) / ran.train_s : 0;
  if (device.is_cuda() && t.peak_flops > 0)
    r.mfu = flops_per_token(model_config, t.seq_len) * r.tokens_per_s / t.peak_flops;
  if (state.step >= t.total_steps) {
    r.finished = true;
    r.model_dir = export_model(*model, s, o);
  }
  report_end(progress, r, t, ran.run_steps, ran.train_s);
  return r;
}

}  // namespace blockattn::train
